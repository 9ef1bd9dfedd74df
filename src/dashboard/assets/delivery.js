// View of one delivery: the request that is sent on every attempt, each
// attempt with its response, and the redeliver button.
import { apiPath, callApi, pollUntil } from './api.js';
import { actionBar, badge, codeBlock, facts, formatDuration, h, headersTable, prettyBody, shortDeliveryId, timeElement } from './dom.js';
import { scopeTitle } from './repositories.js';
import { webhookRoute } from './router.js';

function responseBlock(attempt) {
  const response = attempt.response;
  if (!response) return h('p', { class: 'muted' }, 'No response arrived.');
  const base64 = response.body_encoding === 'base64';
  const body = base64 ? response.body : prettyBody(response.body);
  return [
    h('h4', {}, 'Response headers'),
    headersTable(response.headers, `Response headers of attempt ${attempt.attempt}`),
    h('h4', {}, 'Response body'),
    base64 ? h('p', { class: 'muted' }, 'The body is not UTF-8 text, so it is shown as base64.') : null,
    response.body ? codeBlock(body, `Response body of attempt ${attempt.attempt}`) : h('p', { class: 'muted' }, 'Empty body.'),
  ];
}

function truncationFact(attempt) {
  if (!attempt.response) return null;
  // The server keeps the first responseBodyLimitBytes of each body (64 KiB unless configured otherwise), and what
  // arrived of a body that the receiver cut off or stopped sending.
  return attempt.response.body_truncated ? h('span', { class: 'flag' }, 'yes, only the first part was kept (size limit, or the receiver stopped sending)') : 'no';
}

function attemptSection(attempt) {
  return h(
    'section',
    { class: 'attempt', 'aria-label': `Attempt ${attempt.attempt}` },
    h('div', { class: 'title-row' }, h('h3', {}, `Attempt ${attempt.attempt}`), badge(attempt.outcome)),
    facts([
      ['Trigger', attempt.trigger],
      ['Started', timeElement(attempt.started_at)],
      ['Duration', formatDuration(attempt.duration_ms)],
      ['Status code', attempt.status_code === null ? h('span', { class: 'muted' }, 'no response') : h('span', { class: 'status-code' }, String(attempt.status_code))],
      ['Body truncated', truncationFact(attempt)],
      ['Error', attempt.error ? h('span', { class: 'error-text' }, `${attempt.error.code}: ${attempt.error.message}`) : null],
    ]),
    responseBlock(attempt),
    h('details', {}, h('summary', {}, 'Request headers sent'), headersTable(attempt.request_headers, `Request headers of attempt ${attempt.attempt}`)),
  );
}

function requestSection(delivery) {
  const headers = delivery.request.headers
    ? headersTable(delivery.request.headers, 'Request headers')
    : h('p', { class: 'muted' }, 'Headers are recorded with the first attempt.');
  return h(
    'section',
    { class: 'panel' },
    h('h2', {}, 'Request'),
    h('h3', {}, 'Headers'),
    headers,
    h('h3', {}, 'Body'),
    codeBlock(prettyBody(delivery.request.body), 'Request body'),
  );
}

function redeliverButton(delivery, hook, path, page) {
  const blocked = page.writeBlocked ?? (hook.active ? null : 'Activate the webhook to redeliver.');
  const button = h('button', { type: 'button', id: 'redeliver-button', disabled: blocked !== null, title: blocked }, 'Redeliver');
  button.addEventListener('click', () =>
    page.runAction(button, async () => {
      const before = delivery.attempts.length;
      await callApi('POST', `${path}/redeliver`);
      page.notify('Redelivery queued; waiting for the new attempt…');
      const after = await pollUntil(async () => {
        const current = await callApi('GET', path);
        return current.attempts.length > before ? current : null;
      });
      if (!after) return 'Redelivery queued; no attempt was made within 10 s, so check that a worker is running.';
      const attempt = after.attempts[after.attempts.length - 1];
      const code = attempt.status_code === null ? '' : ` with status code ${attempt.status_code}`;
      return `Attempt ${attempt.attempt} (${attempt.trigger}): ${attempt.outcome}${code}.`;
    }),
  );
  return button;
}

/** Renders one delivery, its request and its attempts, newest attempt first. */
export async function renderDelivery(route, page) {
  const { scope, hookId, deliveryId } = route;
  const hookPath = `${scope.api}/webhooks/${hookId}`;
  const path = `${hookPath}/deliveries/${apiPath(deliveryId)}`;
  const [delivery, hook, title] = await Promise.all([callApi('GET', path), callApi('GET', hookPath), scopeTitle(scope)]);
  const summary = h(
    'section',
    { class: 'panel' },
    h('div', { class: 'title-row' }, h('h1', {}, 'Delivery'), badge(delivery.status)),
    h('p', { class: 'mono' }, delivery.id),
    facts([
      ['Event', delivery.event],
      ['Status', badge(delivery.status)],
      ['Attempts', String(delivery.attempt_count)],
      ['Next attempt', timeElement(delivery.next_attempt_at)],
      ['Last status code', delivery.last_status_code === null ? null : String(delivery.last_status_code)],
      ['Last error', delivery.last_error],
      ['Event id', delivery.event_id === null ? null : String(delivery.event_id)],
      ['Created', timeElement(delivery.created_at)],
      ['Updated', timeElement(delivery.updated_at)],
    ]),
    actionBar('delivery-actions', [redeliverButton(delivery, hook, path, page)]),
  );
  const attempts = [...delivery.attempts].reverse().map(attemptSection);
  const attemptsPanel = h(
    'section',
    { class: 'panel' },
    h('h2', {}, `Attempts (${delivery.attempts.length})`),
    attempts.length === 0 ? h('p', { class: 'muted' }, 'No attempt yet.') : attempts,
  );
  const crumbs = [
    [title, scope.route],
    [`Webhook #${hookId}`, webhookRoute(scope, hookId)],
    [`Delivery ${shortDeliveryId(delivery.id)}`],
  ];
  return { crumbs, content: h('div', {}, summary, requestSection(delivery), attemptsPanel) };
}
