/**
 * An event the watcher has decided to send, before it is queued, and the
 * derivation of its idempotency key.
 */
import { createHash } from 'node:crypto';

/** The event names the watcher produces; all belong to the service's catalog. */
export type WatchEventName =
  | 'push'
  | 'push.force'
  | 'branch.created'
  | 'branch.deleted'
  | 'tag.created'
  | 'tag.deleted'
  | 'lock.acquired'
  | 'lock.released'
  | 'lock.broken'
  | 'lock.expired';

/** The request body of `POST /v1/repos/{id}/events`: the event name and its fields. */
export type EventBody = { event: WatchEventName } & Record<string, unknown>;

export interface EventRequest {
  body: EventBody;
  /** Values that tell this change apart from others of the same event name (ref and ids, or lock id and owner). */
  identity: Array<string | number>;
}

/** Maximum login length that the service accepts in account objects. */
const MAX_LOGIN_LENGTH = 100;

/** Control characters (U+0000 to U+001F and U+007F to U+009F), which the service rejects in logins. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** NUL characters and lone UTF-16 surrogates, which the service rejects in every string of an event. */
const UNSENDABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Turns a Dits name (a committer name, a lock owner) into an account login
 * that the service accepts, since it rejects the whole event otherwise. The
 * name is trimmed, its control characters become U+FFFD, and it is cut to
 * 100 UTF-16 code units without splitting a surrogate pair. An empty name
 * becomes `unknown`.
 */
export function accountLogin(name: string): string {
  let login = name.trim().replace(CONTROL_CHARACTERS, '\ufffd').slice(0, MAX_LOGIN_LENGTH);
  if (/[\ud800-\udbff]$/.test(login)) login = login.slice(0, -1);
  return login.trim() || 'unknown';
}

/** Builds the `sender` object of an event. Dits stores no account ids, so it carries only the login. */
export function senderOf(name: string): { login: string; type: 'user' } {
  return { login: accountLogin(name), type: 'user' };
}

/**
 * Returns a copy of an event body in which every string, object keys
 * included, has its NUL characters and lone UTF-16 surrogates replaced with
 * U+FFFD. The service rejects an event with either, and Dits stores commit
 * messages, names and paths as it got them.
 */
export function sendableBody(body: EventBody): EventBody {
  return sendableValue(body) as EventBody;
}

function sendableValue(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(UNSENDABLE_TEXT, '\ufffd');
  if (Array.isArray(value)) return value.map(sendableValue);
  if (value === null || typeof value !== 'object') return value;
  // Object.fromEntries defines own properties, so a key named `__proto__` stays an ordinary field.
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [sendableValue(key), sendableValue(item)]));
}

/**
 * Derives the Idempotency-Key of an event: sha256 over the repository, the
 * working copy's event sequence number, the event name and its identity.
 * The sequence number is stored in the snapshot. Recomputing the events of a
 * change that was queued but whose snapshot was never saved (a crash between
 * the two writes) therefore yields the same keys. A later identical change,
 * such as a branch deleted and created again at the same commit, gets a new key.
 */
export function idempotencyKey(repoKey: string, baseline: string, sequence: number, request: EventRequest): string {
  // Snapshots from before baseline ids keep their keys, so events recomputed after an upgrade are not sent twice.
  const scope = baseline === '' ? [repoKey] : [repoKey, baseline];
  const material = JSON.stringify([...scope, sequence, request.body.event, ...request.identity]);
  return createHash('sha256').update(material).digest('hex');
}
