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

/**
 * Turns a Dits name (a committer name, a lock owner) into an account login:
 * trimmed and cut to 100 characters, because the service rejects longer
 * logins and the event would be dropped. An empty name becomes `unknown`.
 */
export function accountLogin(name: string): string {
  return name.trim().slice(0, MAX_LOGIN_LENGTH).trim() || 'unknown';
}

/** Builds the `sender` object of an event. Dits stores no account ids, so it carries only the login. */
export function senderOf(name: string): { login: string; type: 'user' } {
  return { login: accountLogin(name), type: 'user' };
}

/**
 * Derives the Idempotency-Key of an event: sha256 over the repository, the
 * working copy's event sequence number, the event name and its identity.
 * The sequence number is stored in the snapshot. Recomputing the events of a
 * change that was queued but whose snapshot was never saved (a crash between
 * the two writes) therefore yields the same keys. A later identical change,
 * such as a branch deleted and created again at the same commit, gets a new key.
 */
export function idempotencyKey(repoKey: string, sequence: number, request: EventRequest): string {
  const material = JSON.stringify([repoKey, sequence, request.body.event, ...request.identity]);
  return createHash('sha256').update(material).digest('hex');
}
