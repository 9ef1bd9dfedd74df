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
  // Switching the button off while the action ran took the focus from it, so the new page's button gets it back.
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
 * Focuses the new page's element with id `previousId`, such as a filter or a
 * button, or else with `focusHeading` the page's heading. Replacing the page
 * would otherwise leave the focus on the document body.
 */
function placeFocus(previousId, focusHeading) {
  const again = previousId ? document.getElementById(previousId) : null;
  if (again && main.contains(again)) {
    again.focus();
    return;
  }
  if (!focusHeading || main.contains(document.activeElement)) return;
  const heading = main.querySelector('h1');
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

/**
 * Renders the page of the current address. The focus returns to the control
 * with id `focusId`, by default the focused one, and else with `focusHeading`
 * moves to the page's heading.
 */
async function render({ focusHeading = false, focusId = null } = {}) {
  const generation = ++renderGeneration;
  const focused = focusId ?? (main.contains(document.activeElement) ? document.activeElement.id : '');
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
    main.replaceChildren(view.content);
    placeFocus(focused, focusHeading);
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

signOutButton.addEventListener('click', () => {
  clearToken();
  // replaceState changes the address without a hashchange event, which would clear the notice.
  history.replaceState(null, '', '#/');
  notify('Signed out; the token was removed from this tab.', 'info');
  render();
});

window.addEventListener('hashchange', () => {
  notify('');
  render({ focusHeading: true });
});

render();
