// Entry point of the dashboard: sign-in, routing, the notice line and the
// action buttons' shared behaviour.
import { callApi, clearToken, currentToken, describeFailure, forgetTokenRecord, grantsWrite, storedToken, storeToken } from './api.js';
import { h, inertText, link } from './dom.js';
import { parseRoute } from './router.js';
import { renderRepositories, renderWebhooks } from './repositories.js';
import { renderWebhook } from './webhook.js';
import { renderDelivery } from './delivery.js';

const VIEWS = {
  repositories: renderRepositories,
  webhooks: renderWebhooks,
  webhook: renderWebhook,
  delivery: renderDelivery,
  not_found: async () => ({
    crumbs: [],
    content: h('section', { class: 'panel' }, h('h1', {}, 'Page not found'), h('p', {}, 'This address names no dashboard page. ', link('/', 'Show the repositories.'))),
  }),
};

const main = document.getElementById('main');
const notice = document.querySelector('.notice');
const breadcrumbs = document.querySelector('.breadcrumbs');
const signOutButton = document.querySelector('.sign-out');
const signedInAs = document.querySelector('.signed-in');

// Incremented by each render, so that a slow response for a page the user
// already left never replaces the page now shown.
let renderGeneration = 0;

/** Shows a one-line result above the page; kind is "info", "success" or "error". */
function notify(text, kind = 'info') {
  notice.textContent = inertText(text);
  notice.className = `notice notice-${kind}`;
  notice.hidden = !text;
}

function setBreadcrumbs(crumbs) {
  const items = [link('/', 'Repositories'), ...crumbs.map(([label, route]) => (route ? link(route, label) : h('span', {}, label)))];
  breadcrumbs.replaceChildren(...items.flatMap((item, index) => (index === 0 ? [item] : [h('span', { class: 'separator', 'aria-hidden': 'true' }, '/'), item])));
}

/**
 * Runs a button's action: disables the button while it runs, shows the
 * returned message or the failure, then renders the page again.
 */
async function runAction(button, action) {
  const startedAt = location.hash;
  button.disabled = true;
  let message = '';
  let kind = 'success';
  try {
    message = await action();
  } catch (error) {
    message = describeFailure(error);
    kind = 'error';
  } finally {
    button.disabled = false;
  }
  // The user may have moved on while the action waited for the worker.
  if (location.hash !== startedAt) return;
  if (message) notify(message, kind);
  // Switching the button off while the action ran dropped the focus to the body; the new page's button gets it back.
  await render({ focusId: button.id });
}

const page = {
  notify,
  runAction,
  /** The reason the write actions are off for this token, or null when it may use them or its scopes are unknown. */
  writeBlocked: null,
  refresh: () => render(),
  navigate: (route) => {
    location.hash = `#${route}`;
  },
};

function signInForm() {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'dwt_…' });
  const message = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'panel sign-in', 'aria-label': 'Sign in' },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Paste an API token with the read scope (write to redeliver, ping and activate). It stays in this browser tab only and is sent as a Bearer token to the /v1 API.'),
    h('label', { for: 'token' }, 'API token'),
    input,
    submit,
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    submit.disabled = true;
    message.textContent = '';
    try {
      // One cheap read checks both that the token exists and that it may read.
      await callApi('GET', '/v1/repos', { token, query: { limit: 1 } });
      storeToken(token);
      await render({ focusHeading: true });
    } catch (error) {
      message.textContent = inertText(describeFailure(error, 'Check the token and paste it again.'));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** Shows the name and scopes of a token record in the top bar and notes whether it may use the write actions. */
function showToken(record) {
  if (!record) {
    // An unknown scope leaves the buttons on: the API still refuses what the token may not do, with a clear 403.
    page.writeBlocked = null;
    signedInAs.hidden = true;
    return;
  }
  const scopes = record.scopes.join(', ');
  page.writeBlocked = grantsWrite(record.scopes) ? null : inertText(`Needs a token with the write scope; this token (${record.name}) has ${scopes}.`);
  signedInAs.textContent = inertText(`${record.name} (${scopes})`);
  signedInAs.title = inertText(`Signed in with token ${record.prefix}…`);
  signedInAs.hidden = false;
}

/**
 * Returns the id of the control to focus once the page is replaced. That is
 * the focused control of the page, or `lostId` when the focus fell to the
 * document body. Focus outside the page, such as in the top bar, gives ''.
 */
function focusTarget(lostId) {
  const active = document.activeElement;
  if (active && active !== document.body) return main.contains(active) ? active.id : '';
  return lostId ?? '';
}

/**
 * Focuses the new page's heading with `focusHeading`, else its element with
 * id `targetId`, such as a filter or a button. Replacing the page would
 * otherwise leave the focus on the document body.
 */
function placeFocus(targetId, focusHeading) {
  if (focusHeading) {
    const heading = main.querySelector('h1');
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
    return;
  }
  const again = targetId ? document.getElementById(targetId) : null;
  if (again && main.contains(again)) again.focus();
}

/**
 * Renders the page of the current address. With `focusHeading` the focus
 * moves to the page's heading. Otherwise it stays on the same control, or it
 * returns to the control with id `focusId` when it fell to the body.
 */
async function render({ focusHeading = false, focusId = null } = {}) {
  const generation = ++renderGeneration;
  if (!storedToken()) {
    signOutButton.hidden = true;
    signedInAs.hidden = true;
    breadcrumbs.replaceChildren();
    main.replaceChildren(signInForm());
    main.querySelector('input')?.focus();
    return;
  }
  signOutButton.hidden = false;
  const route = parseRoute(location.hash);
  main.setAttribute('aria-busy', 'true');
  try {
    const record = await currentToken();
    // A later render started meanwhile, perhaps with another token: its record wins.
    if (generation !== renderGeneration) return;
    showToken(record);
    const view = await VIEWS[route.name](route, page);
    if (generation !== renderGeneration) return;
    setBreadcrumbs(view.crumbs);
    const target = focusTarget(focusId);
    main.replaceChildren(view.content);
    placeFocus(target, focusHeading);
  } catch (error) {
    if (generation !== renderGeneration) return;
    if (error?.status === 401) {
      // The token was revoked or is unknown: the top bar no longer names it, and a later render reads its record again.
      forgetTokenRecord();
      showToken(null);
    }
    // The breadcrumbs of the previous page would name a webhook or repository that this page did not load.
    setBreadcrumbs([]);
    main.replaceChildren(h('section', { class: 'panel error', role: 'alert' }, h('h1', {}, 'Could not load this page'), h('p', {}, describeFailure(error))));
    placeFocus('', focusHeading);
  } finally {
    if (generation === renderGeneration) main.removeAttribute('aria-busy');
  }
}

/** The address of the page shown, without its query, to distinguish a move to another page from a change of filters. */
let shownPath = routePath(location.hash);

function routePath(hash) {
  return hash.split('?')[0];
}

signOutButton.addEventListener('click', () => {
  clearToken();
  // replaceState changes the address without a hashchange event, which would clear the notice.
  history.replaceState(null, '', '#/');
  shownPath = routePath(location.hash);
  notify('Signed out; the token was removed from this tab.', 'info');
  render();
});

window.addEventListener('hashchange', () => {
  const path = routePath(location.hash);
  // A filter change keeps the focus on the filter; a move to another page puts it on the new heading.
  const movedPage = path !== shownPath;
  shownPath = path;
  notify('');
  render({ focusHeading: movedPage });
});

render();
