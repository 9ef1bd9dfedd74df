// DOM building and display formatting. Every value from the API enters the
// page as a text node or an attribute value, never as markup: event payloads
// and response bodies come from outside and may contain HTML.

/**
 * Creates an element. Attributes whose name starts with "on" and whose value
 * is a function become event listeners; false, null and undefined are skipped.
 * Children are nodes or values shown as text; arrays are flattened.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  appendChildren(element, children);
  return element;
}

/**
 * Bidirectional embeddings, overrides and isolates: U+202A to U+202E and
 * U+2066 to U+2069. The marks U+200E, U+200F and U+061C, common in right-to-left
 * text, only act as one strong letter and stay as they are.
 */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

/**
 * Returns text with each bidirectional embedding, override or isolate shown
 * as its escape, such as \u202e. Shown live, such a character reorders the
 * text around it, so that a stored name or payload could read as something else.
 */
export function inertText(text) {
  return text.replace(BIDI_CONTROLS, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function appendChildren(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    // append() of a string inserts a text node; the string is never parsed as HTML.
    element.append(child instanceof Node ? child : inertText(String(child)));
  }
}

/** Creates a link to a dashboard route such as `/repos/1`, which the caller builds from encoded segments. */
export function link(route, ...children) {
  return h('a', { href: `#${route}` }, ...children);
}

const KNOWN_STATUSES = new Set(['active', 'inactive', 'disabled', 'pending', 'delivered', 'retrying', 'failed', 'cancelled']);

/** Creates a coloured label for a webhook or delivery status, neutral for an unknown status. */
export function badge(status) {
  const known = KNOWN_STATUSES.has(status) ? status : 'other';
  return h('span', { class: `badge badge-${known}` }, status ?? 'unknown');
}

const pad = (value) => String(value).padStart(2, '0');

/** Formats an ISO 8601 time as local `YYYY-MM-DD HH:MM:SS` followed by the local offset from UTC, such as `+09:00`. */
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  // getTimezoneOffset is UTC minus local time, in minutes.
  const offset = -date.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${day} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}`;
}

/**
 * Returns the short form of a delivery id shown in lists: its last 8
 * characters. Ids are UUIDv7: the first 8 characters are a timestamp that
 * changes about once a minute, and the last ones are random.
 */
export function shortDeliveryId(id) {
  return `…${String(id).slice(-8)}`;
}

/** Creates a <time> element in local time, with the exact UTC value as its tooltip. */
export function timeElement(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, formatTime(iso));
}

/** Formats a duration in milliseconds: `4.2 ms`, `850 ms`, `2.35 s`. */
export function formatDuration(ms) {
  if (typeof ms !== 'number') return '—';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Returns JSON text indented by two spaces, or the text unchanged when it is not JSON. */
export function prettyBody(text) {
  if (typeof text !== 'string' || text === '') return text ?? '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Creates a preformatted block of text, such as a request or response body. */
export function codeBlock(text, label) {
  return h('pre', { class: 'code', 'aria-label': label, tabindex: 0 }, text);
}

/** Builds a two-column table of HTTP headers from an object that maps names to a value or a list of values. */
export function headersTable(headers, label) {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return h('p', { class: 'muted' }, 'No headers.');
  const rows = entries.map(([name, value]) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, Array.isArray(value) ? value.join(', ') : value)));
  return h('table', { class: 'headers', 'aria-label': label }, h('tbody', {}, rows));
}

/**
 * Builds a description list from [term, value] pairs, where a value is a node or text.
 * A null value shows as a dash, and an undefined value leaves its pair out.
 */
export function facts(pairs) {
  const listed = pairs.filter(([, value]) => value !== undefined);
  return h('dl', { class: 'facts' }, listed.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value ?? '—')]));
}

/**
 * Builds a table with a header row from `rows`, each an array of cells (nodes
 * or text), inside a box that scrolls sideways when the window is too narrow.
 */
export function dataTable(className, label, headings, rows) {
  const table = h(
    'table',
    { class: `data ${className}`, 'aria-label': label },
    h('thead', {}, h('tr', {}, headings.map((heading) => h('th', { scope: 'col' }, heading)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell))))),
  );
  return h('div', { class: 'table-scroll' }, table);
}

/**
 * Creates a row of action buttons. The reasons of the buttons that are
 * switched off, taken from their titles, are shown as text below the row, so
 * that keyboard and screen reader users learn them too.
 */
export function actionBar(id, buttons) {
  const reasonsId = `${id}-reasons`;
  const reasons = [];
  for (const button of buttons) {
    if (!button.disabled || !button.title) continue;
    button.setAttribute('aria-describedby', reasonsId);
    if (!reasons.includes(button.title)) reasons.push(button.title);
  }
  const note = reasons.length > 0 ? h('p', { class: 'action-reasons', id: reasonsId }, reasons.join(' ')) : null;
  return h('div', { class: 'actions', id }, buttons, note);
}

/** Appends rows built like dataTable's to an existing table, for "Load more". */
export function appendRows(table, rows) {
  const body = table.querySelector('tbody');
  for (const cells of rows) body.append(h('tr', {}, cells.map((cell) => h('td', {}, cell))));
}

/**
 * Creates a "Load more" button for cursor pagination. `loadPage(cursor)` adds the
 * next page to the view and returns its next_cursor; the button goes away
 * when that is null.
 */
export function loadMoreButton(cursor, loadPage, describeError) {
  if (!cursor) return null;
  let next = cursor;
  const message = h('span', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  const wrapper = h('div', { class: 'load-more' }, button, message);
  button.addEventListener('click', async () => {
    button.disabled = true;
    message.textContent = '';
    try {
      next = await loadPage(next);
      if (!next) wrapper.remove();
    } catch (error) {
      message.textContent = inertText(describeError(error));
    } finally {
      button.disabled = false;
    }
  });
  return wrapper;
}
