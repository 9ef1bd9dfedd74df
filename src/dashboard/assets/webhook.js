// View of one webhook: its settings, the ping and activate buttons, and its
// deliveries with status and event filters and cursor paging.
import { apiPath, callApi, describeFailure, pollUntil } from './api.js';
import { actionBar, appendRows, badge, dataTable, facts, h, loadMoreButton, shortDeliveryId, timeElement } from './dom.js';
import { eventList, scopeTitle, webhookStatusCell } from './repositories.js';
import { deliveryRoute, webhookRoute } from './router.js';

/** Delivery statuses accepted by the deliveries filter, in lifecycle order. */
export const DELIVERY_STATUSES = ['pending', 'delivered', 'retrying', 'failed', 'cancelled'];

const DEFAULT_PAGE_SIZE = 25;

// The event catalog changes only with a server upgrade, so one fetch per page load is enough.
let eventNames = null;

function loadEventNames() {
  eventNames ??= callApi('GET', '/v1/event-types').then(
    (catalog) => catalog.data.map((type) => type.name),
    (error) => {
      eventNames = null;
      throw error;
    },
  );
  return eventNames;
}

function webhookFacts(hook) {
  const last = hook.last_delivery;
  return facts([
    ['URL', h('code', {}, hook.url)],
    ['Status', webhookStatusCell(hook)],
    ['Events', eventList(hook.events)],
    ['Filters', hook.filters ? h('code', {}, JSON.stringify(hook.filters)) : 'none'],
    ['TLS certificates', hook.insecure_ssl ? 'not verified (insecure_ssl)' : 'verified'],
    ['Last delivery', last ? [last.event, ' ', badge(last.status), ' ', last.status_code ?? '', ' ', timeElement(last.at)] : 'none yet'],
    ['Previous secret valid until', hook.previous_secret_expires_at ? timeElement(hook.previous_secret_expires_at) : undefined],
    ['Created', timeElement(hook.created_at)],
    ['Updated', timeElement(hook.updated_at)],
  ]);
}

function pingButton(hook, base, page) {
  const blocked = page.writeBlocked ?? (hook.active ? null : 'Activate the webhook to ping it.');
  const button = h('button', { type: 'button', id: 'ping-button', disabled: blocked !== null, title: blocked }, 'Ping');
  button.addEventListener('click', () =>
    page.runAction(button, async () => {
      const { delivery_id: id } = await callApi('POST', `${base}/pings`);
      page.notify(`Ping queued as delivery ${id}; waiting for its attempt…`);
      const delivery = await pollUntil(async () => {
        const current = await callApi('GET', `${base}/deliveries/${apiPath(id)}`);
        return current.status === 'pending' ? null : current;
      });
      if (!delivery) return `Ping queued as delivery ${id}; no attempt was made within 10 s, so check that a worker is running.`;
      const code = delivery.last_status_code === null ? '' : ` with status code ${delivery.last_status_code}`;
      return `Ping delivery ${id}: ${delivery.status}${code}.`;
    }),
  );
  return button;
}

function activeToggle(hook, base, page) {
  const attributes = { type: 'button', id: 'active-toggle', class: hook.active ? 'danger' : null, disabled: page.writeBlocked !== null, title: page.writeBlocked };
  const button = h('button', attributes, hook.active ? 'Deactivate' : 'Activate');
  button.addEventListener('click', () => {
    // Deactivating cancels every delivery that waits for a retry, which the dashboard cannot undo.
    const question = `Deactivate webhook #${hook.id}? Deliveries waiting for a retry are cancelled, and it gets no new events until you activate it again.`;
    if (hook.active && !window.confirm(question)) return;
    page.runAction(button, async () => {
      const updated = await callApi('PATCH', base, { body: { active: !hook.active } });
      return `Webhook #${updated.id} is now ${updated.status}.`;
    });
  });
  return button;
}

function filterSelect(id, label, anyLabel, values, selected, onChange) {
  const options = [h('option', { value: '' }, anyLabel), ...values.map((value) => h('option', { value, selected: value === selected }, value))];
  const select = h('select', { id, name: id }, options);
  select.addEventListener('change', () => onChange(select.value));
  return [h('label', { for: id }, label), select];
}

function filterBar(route, names, page) {
  const { scope, hookId, params } = route;
  const apply = (name) => (value) => {
    const next = new URLSearchParams(params);
    next.set(name, value);
    page.navigate(webhookRoute(scope, hookId, next));
  };
  const refresh = h('button', { type: 'button', id: 'refresh-deliveries', class: 'secondary', onclick: () => page.refresh() }, 'Refresh');
  return h(
    'div',
    { class: 'filters', role: 'group', 'aria-label': 'Delivery filters' },
    filterSelect('status-filter', 'Status', 'Any status', DELIVERY_STATUSES, params.get('status') ?? '', apply('status')),
    filterSelect('event-filter', 'Event', 'Any event', names, params.get('event') ?? '', apply('event')),
    refresh,
  );
}

function lastResponse(delivery) {
  if (delivery.last_status_code !== null) return h('span', { class: 'status-code' }, String(delivery.last_status_code));
  if (delivery.last_error) return h('span', { class: 'error-text' }, delivery.last_error);
  return h('span', { class: 'muted' }, '—');
}

function deliveryCells(scope, hookId, delivery) {
  const route = deliveryRoute(scope, hookId, delivery.id);
  return [
    h('a', { href: `#${route}`, title: delivery.id, 'aria-label': `Delivery ${delivery.id}`, class: 'mono' }, shortDeliveryId(delivery.id)),
    delivery.event,
    badge(delivery.status),
    String(delivery.attempt_count),
    lastResponse(delivery),
    timeElement(delivery.next_attempt_at),
    timeElement(delivery.created_at),
  ];
}

async function deliveriesSection(route, base, page) {
  const { scope, hookId, params } = route;
  const query = { status: params.get('status'), event: params.get('event'), limit: params.get('limit') ?? DEFAULT_PAGE_SIZE };
  const [first, names] = await Promise.all([callApi('GET', `${base}/deliveries`, { query }), loadEventNames()]);
  const headings = ['Delivery', 'Event', 'Status', 'Attempts', 'Last response', 'Next attempt', 'Created'];
  const cells = (delivery) => deliveryCells(scope, hookId, delivery);
  const table = dataTable('deliveries', 'Deliveries', headings, first.data.map(cells));
  const filtered = Boolean(query.status || query.event);
  const more = loadMoreButton(
    first.next_cursor,
    async (cursor) => {
      const next = await callApi('GET', `${base}/deliveries`, { query: { ...query, cursor } });
      appendRows(table, next.data.map(cells));
      return next.next_cursor;
    },
    describeFailure,
  );
  const empty = h('p', { class: 'muted' }, filtered ? 'No deliveries match these filters.' : 'No deliveries yet.');
  return h('section', { class: 'panel' }, h('h2', {}, 'Deliveries'), filterBar(route, names, page), first.data.length === 0 ? empty : table, more);
}

/** Renders one webhook with its actions and its deliveries. */
export async function renderWebhook(route, page) {
  const { scope, hookId } = route;
  const base = `${scope.api}/webhooks/${hookId}`;
  const [hook, deliveries, title] = await Promise.all([callApi('GET', base), deliveriesSection(route, base, page), scopeTitle(scope)]);
  const header = h(
    'section',
    { class: 'panel' },
    h('div', { class: 'title-row' }, h('h1', {}, `Webhook #${hook.id}`), badge(hook.status)),
    webhookFacts(hook),
    actionBar('webhook-actions', [pingButton(hook, base, page), activeToggle(hook, base, page)]),
  );
  return { crumbs: [[title, scope.route], [`Webhook #${hook.id}`]], content: h('div', {}, header, deliveries) };
}
