/**
 * Turns validated ingestion fields into the event fields of the delivered
 * payload: defaults derived, commits capped, keys in a fixed order. The server
 * serializes the result once per delivery, so the key order decides the bytes
 * that receivers verify signatures over.
 */
import type { EventName } from './catalog.js';
import { eventFieldOrder, IDEMPOTENCY_KEY_FIELD, SERVER_SET_KEYS } from './schemas.js';

export { validateEventFields } from './validate.js';

export interface IngestLimits {
  /** Maximum commits kept in a push payload. Later commits are dropped, and `total_commits_count` keeps the real number. */
  maxCommitsPerPush: number;
}

export const DEFAULT_INGEST_LIMITS: Readonly<IngestLimits> = Object.freeze({ maxCommitsPerPush: 2048 });

/** Keys that never appear among the normalized event fields: the caller places `sender` and the server-set keys itself. */
const EXCLUDED_KEYS: ReadonlySet<string> = new Set(['event', 'sender', IDEMPOTENCY_KEY_FIELD, ...SERVER_SET_KEYS]);

/** Reports whether `id` is made only of zeros, which means "no commit" whatever its length. */
export function isZeroObjectId(id: unknown): boolean {
  return typeof id === 'string' && id.length > 0 && /^0+$/.test(id);
}

function isPushEvent(event: EventName): boolean {
  return event === 'push' || event === 'push.tag' || event === 'push.force';
}

/**
 * Returns the event fields of the delivered payload, to be placed after event,
 * delivery_id, timestamp, repository and sender. Expects fields that passed
 * validateEventFields. The output omits `sender`, the idempotency key `id`
 * and the server-set keys. Declared keys come first in catalog order, then any
 * extra keys in their given order. The input is not mutated, but the output
 * shares nested objects with it, so treat both as read-only afterwards.
 */
export function normalizeEventFields(
  event: EventName,
  fields: Record<string, unknown>,
  limits: IngestLimits = DEFAULT_INGEST_LIMITS,
): Record<string, unknown> {
  const output = isPushEvent(event) ? normalizePush(event, fields, limits) : pickDeclared(event, fields);
  for (const key of Object.keys(fields)) {
    if (EXCLUDED_KEYS.has(key) || Object.hasOwn(output, key)) continue;
    // JSON.parse makes "__proto__" an own key, but plain assignment would set the prototype instead of copying it.
    if (key === '__proto__') Object.defineProperty(output, key, { value: fields[key], enumerable: true, writable: true, configurable: true });
    else output[key] = fields[key];
  }
  return output;
}

function pickDeclared(event: EventName, fields: Record<string, unknown>): Record<string, unknown> {
  const output: Record<string, unknown> = {};
  for (const key of eventFieldOrder(event)) {
    if (Object.hasOwn(fields, key)) output[key] = fields[key];
  }
  return output;
}

function normalizePush(event: EventName, fields: Record<string, unknown>, limits: IngestLimits): Record<string, unknown> {
  const allCommits = Array.isArray(fields.commits) ? (fields.commits as unknown[]) : [];
  const kept = allCommits.length > limits.maxCommitsPerPush ? allCommits.slice(0, limits.maxCommitsPerPush) : allCommits;
  const commits = withCommitDefaults(kept);

  // The head is the newest pushed commit, which is the last one even when truncation dropped it from `commits`.
  let headCommit: unknown = null;
  if (Object.hasOwn(fields, 'head_commit')) headCommit = fields.head_commit;
  else if (allCommits.length > 0) headCommit = commitWithDefaults(allCommits[allCommits.length - 1]);

  return {
    ref: fields.ref,
    before: fields.before,
    after: fields.after,
    created: typeof fields.created === 'boolean' ? fields.created : isZeroObjectId(fields.before),
    deleted: typeof fields.deleted === 'boolean' ? fields.deleted : isZeroObjectId(fields.after),
    forced: event === 'push.force' ? true : fields.forced === true,
    commits,
    head_commit: headCommit,
    pusher: fields.pusher ?? defaultPusher(fields.sender),
    total_commits_count: typeof fields.total_commits_count === 'number' ? fields.total_commits_count : allCommits.length,
  };
}

function defaultPusher(sender: unknown): { name: string } | null {
  const login = (sender as { login?: unknown } | null | undefined)?.login;
  return typeof login === 'string' ? { name: login } : null;
}

/** Returns `commits` itself when every commit already has its file lists, so the common case allocates nothing. */
function withCommitDefaults(commits: unknown[]): unknown[] {
  let copy: unknown[] | null = null;
  for (let i = 0; i < commits.length; i++) {
    const commit = commitWithDefaults(commits[i]);
    if (commit !== commits[i] && copy === null) copy = commits.slice(0, i);
    if (copy !== null) copy.push(commit);
  }
  return copy ?? commits;
}

const FILE_LIST_KEYS = ['added', 'modified', 'removed'] as const;

/** Returns the commit itself when it has added, modified and removed arrays, else a copy with the missing ones set to []. */
function commitWithDefaults(commit: unknown): unknown {
  if (commit === null || typeof commit !== 'object') return commit;
  const record = commit as Record<string, unknown>;
  if (FILE_LIST_KEYS.every((key) => Array.isArray(record[key]))) return commit;

  const copy: Record<string, unknown> = { ...record };
  for (const key of FILE_LIST_KEYS) {
    if (!Array.isArray(copy[key])) copy[key] = [];
  }
  return copy;
}
