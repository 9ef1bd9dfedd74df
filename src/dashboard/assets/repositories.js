// Views of the repositories list and of the webhooks of a repository or an owner.
import { callApi, describeFailure } from './api.js';
import { appendRows, badge, dataTable, facts, h, link, loadMoreButton, timeElement } from './dom.js';
import { ownerScope, webhookRoute } from './router.js';

const REPOSITORY_PAGE_SIZE = 50;

function repositoryCells(repo) {
  const archived = repo.archived ? h('span', { class: 'tag' }, 'archived') : null;
  return [
    link(`/repos/${Number(repo.id)}`, repo.full_name),
    repo.private ? 'private' : 'public',
    repo.default_branch,
    [archived, archived && repo.description ? ' ' : null, repo.description ?? ''],
    timeElement(repo.created_at),
  ];
}

/**
 * Keeps the links to the owners of the listed repositories, each owner once as
 * first spelled: logins match without regard to letter case, as in the API.
 */
function ownerLinks() {
  const seen = new Set();
  const paragraph = h('p', { class: 'owner-links', hidden: true }, 'Owners of the repositories listed above: ');
  return {
    paragraph,
    add(repos) {
      for (const repo of repos) {
        if (seen.has(repo.owner.toLowerCase())) continue;
        seen.add(repo.owner.toLowerCase());
        paragraph.append(link(ownerScope(repo.owner).route, repo.owner));
        paragraph.hidden = false;
      }
    },
  };
}

function ownerForm(page) {
  // Checked here as the API checks it: "." or ".." would otherwise turn into path steps of the API URL.
  const input = h('input', {
    id: 'owner',
    name: 'owner',
    required: true,
    placeholder: 'studio',
    // The pattern attribute compiles with the v flag, in which a hyphen inside brackets must be escaped.
    pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,99}',
    title: 'An owner login: a letter or digit, then up to 99 letters, digits, ".", "_" or "-".',
  });
  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Owner webhooks' },
    h('label', { for: 'owner' }, 'Owner login'),
    input,
    h('button', { type: 'submit' }, 'Show owner webhooks'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    page.navigate(ownerScope(input.value.trim()).route);
  });
  return form;
}

/** Renders the repositories list, with paging and a form to open an owner's webhooks. */
export async function renderRepositories(_route, page) {
  const first = await callApi('GET', '/v1/repos', { query: { limit: REPOSITORY_PAGE_SIZE } });
  const headings = ['Repository', 'Visibility', 'Default branch', 'Description', 'Created'];
  const table = dataTable('repositories', 'Repositories', headings, first.data.map(repositoryCells));
  const owners = ownerLinks();
  owners.add(first.data);
  const more = loadMoreButton(
    first.next_cursor,
    async (cursor) => {
      const next = await callApi('GET', '/v1/repos', { query: { limit: REPOSITORY_PAGE_SIZE, cursor } });
      appendRows(table, next.data.map(repositoryCells));
      owners.add(next.data);
      return next.next_cursor;
    },
    describeFailure,
  );

  const repositories = h(
    'section',
    { class: 'panel' },
    h('h1', {}, 'Repositories'),
    first.data.length === 0 ? h('p', { class: 'muted' }, 'No repositories yet; create one with POST /v1/repos.') : table,
    more,
  );
  const ownerSection = h(
    'section',
    { class: 'panel' },
    h('h2', {}, 'Owner webhooks'),
    h('p', {}, "An owner's webhooks receive the events of every repository of that owner."),
    ownerForm(page),
    owners.paragraph,
  );
  return { crumbs: [], content: h('div', {}, repositories, ownerSection) };
}

function lastDeliveryCell(last) {
  if (!last) return h('span', { class: 'muted' }, 'none yet');
  const outcome = last.status_code === null ? null : h('span', { class: 'status-code' }, String(last.status_code));
  return h('span', { class: 'last-delivery' }, h('code', {}, last.event), ' ', badge(last.status), ' ', outcome, ' ', timeElement(last.at));
}

/** Explanations of the reasons for which the service disables a webhook by itself. */
const DISABLED_REASONS = {
  gone: 'the endpoint answered 410 Gone',
  failing: 'every delivery failed for the configured period (5 days by default)',
};

/** Shows a webhook's status badge, with the reason when the service disabled it. */
export function webhookStatusCell(hook) {
  const reason = hook.disabled_reason;
  const explained = reason && Object.hasOwn(DISABLED_REASONS, reason) ? `${reason}: ${DISABLED_REASONS[reason]}` : reason;
  return h('span', {}, badge(hook.status), explained ? h('span', { class: 'reason' }, ` (${explained})`) : null);
}

export function eventList(events) {
  return h('span', { class: 'events' }, events.map((name) => h('code', {}, name)));
}

function webhookCells(scope, hook) {
  const route = webhookRoute(scope, Number(hook.id));
  return [link(route, `#${hook.id}`), link(route, hook.url), webhookStatusCell(hook), eventList(hook.events), lastDeliveryCell(hook.last_delivery)];
}

function repositoryHeader(repo) {
  return [
    h('h1', {}, repo.full_name),
    facts([
      ['Visibility', repo.private ? 'private' : 'public'],
      ['Default branch', repo.default_branch],
      ['Description', repo.description],
      ['Archived', repo.archived ? 'yes' : 'no'],
      ['Owner webhooks', link(ownerScope(repo.owner).route, repo.owner)],
    ]),
  ];
}

/** Returns the name shown for a scope in breadcrumbs: the repository's full name, or "Owner <login>". */
export async function scopeTitle(scope) {
  if (scope.kind !== 'repo') return scope.label;
  const repo = await callApi('GET', scope.api);
  return repo.full_name;
}

/** Renders the webhooks of a repository or of an owner. */
export async function renderWebhooks(route, _page) {
  const { scope } = route;
  const [repo, hooks] = await Promise.all([
    scope.kind === 'repo' ? callApi('GET', scope.api) : Promise.resolve(null),
    callApi('GET', `${scope.api}/webhooks`),
  ]);
  const title = repo ? repo.full_name : scope.label;
  const header = repo ? repositoryHeader(repo) : [h('h1', {}, scope.label), h('p', {}, `Webhooks that receive the events of every repository of ${scope.owner}.`)];
  const headings = ['Webhook', 'URL', 'Status', 'Events', 'Last delivery'];
  const list =
    hooks.data.length === 0
      ? h('p', { class: 'muted' }, `No webhooks yet; create one with POST ${scope.api}/webhooks.`)
      : dataTable('webhooks', 'Webhooks', headings, hooks.data.map((hook) => webhookCells(scope, hook)));
  const content = h('div', {}, h('section', { class: 'panel' }, header), h('section', { class: 'panel' }, h('h2', {}, 'Webhooks'), list));
  return { crumbs: [[title]], content };
}
