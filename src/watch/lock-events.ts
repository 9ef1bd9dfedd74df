/**
 * Turns changes of `locks.json` and the passing of lock expiry times into
 * events. The lifecycle of one lock (one owner's hold on one path since one
 * `acquired_at`) is:
 *
 * - `lock.acquired` when its key appears, or when its key changes owner or
 *   `acquired_at`;
 * - `lock.expired` once, when `expires_at` passes while the entry is still in
 *   the file. Dits keeps expired entries until someone takes a new lock.
 *   Extending `expires_at` arms the expiry again for the new time;
 * - then exactly one end. `lock.broken` is that end when another owner took
 *   the key over, and `lock.acquired` for the new owner follows it, so that
 *   consumers that track holders from `lock.acquired` see the new one.
 *   `lock.released` is the end when the key disappeared or the same owner
 *   took the path again with a new `acquired_at`. An expired entry that Dits
 *   prunes is still `lock.released`.
 *
 * The sender of a lock event is the lock owner; for `lock.broken` it is the new
 * owner, who is also `broken_by`. A change of `reason` alone gives no event.
 */
import { createHash } from 'node:crypto';
import { sendableRepoPath, type LockEntry } from './dits-format.js';
import { accountLogin, senderOf } from './event-request.js';
import type { EventRequest } from './event-request.js';

/** A lock as the snapshot stores it: the entry and whether its expiry was already reported. */
export interface TrackedLock extends LockEntry {
  /** True once `lock.expired` was queued for the current `expiresAt`. */
  expiredNotified: boolean;
}

export type LockTable = Map<string, TrackedLock>;

/** Derives a stable id for one lock: the first 32 hex characters of sha256 over path, owner and acquisition time. */
export function lockId(entry: LockEntry): string {
  return createHash('sha256').update(JSON.stringify([entry.path, entry.owner, entry.acquiredAt])).digest('hex').slice(0, 32);
}

/** Converts Unix seconds to an ISO 8601 UTC timestamp with milliseconds. */
export function secondsToIso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function lockPayload(entry: LockEntry): Record<string, unknown> {
  return {
    id: lockId(entry),
    path: sendableRepoPath(entry.path),
    owner: { login: accountLogin(entry.owner) },
    locked_at: secondsToIso(entry.acquiredAt),
    expires_at: secondsToIso(entry.expiresAt),
    reason: entry.reason,
  };
}

function acquired(entry: LockEntry): EventRequest {
  return { body: { event: 'lock.acquired', lock: lockPayload(entry), sender: senderOf(entry.owner) }, identity: [lockId(entry)] };
}

function released(entry: LockEntry): EventRequest {
  return { body: { event: 'lock.released', lock: lockPayload(entry), sender: senderOf(entry.owner) }, identity: [lockId(entry)] };
}

function broken(entry: LockEntry, newOwner: string): EventRequest {
  return {
    body: { event: 'lock.broken', lock: lockPayload(entry), broken_by: { login: accountLogin(newOwner) }, sender: senderOf(newOwner) },
    identity: [lockId(entry), newOwner],
  };
}

function expired(entry: LockEntry): EventRequest {
  return {
    body: { event: 'lock.expired', lock: lockPayload(entry), sender: senderOf(entry.owner) },
    identity: [lockId(entry), entry.expiresAt],
  };
}

export interface LockDiff {
  events: EventRequest[];
  /** The lock table to store in the next snapshot. */
  locks: LockTable;
}

/** Events for one path whose entry exists before and after, and the entry to track. */
function diffEntry(old: TrackedLock, current: LockEntry): { events: EventRequest[]; tracked: TrackedLock } {
  if (current.owner !== old.owner) {
    return { events: [broken(old, current.owner), acquired(current)], tracked: { ...current, expiredNotified: false } };
  }
  if (current.acquiredAt !== old.acquiredAt) {
    return { events: [released(old), acquired(current)], tracked: { ...current, expiredNotified: false } };
  }
  const renewed = current.expiresAt !== old.expiresAt;
  return { events: [], tracked: { ...current, expiredNotified: renewed ? false : old.expiredNotified } };
}

/**
 * Computes the lock events between the tracked table and the entries now in
 * `locks.json`, then the expiries due at `nowMs` (milliseconds since the epoch).
 * Paths are handled in sorted order.
 */
export function diffLocks(before: LockTable, after: Map<string, LockEntry>, nowMs: number): LockDiff {
  const events: EventRequest[] = [];
  const locks: LockTable = new Map();
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();

  for (const path of paths) {
    const old = before.get(path);
    const current = after.get(path);
    if (current === undefined) {
      events.push(released(old!));
      continue;
    }
    if (old === undefined) {
      events.push(acquired(current));
      locks.set(path, { ...current, expiredNotified: false });
      continue;
    }
    const change = diffEntry(old, current);
    events.push(...change.events);
    locks.set(path, change.tracked);
  }

  for (const [path, lock] of locks) {
    if (lock.expiredNotified || nowMs < lock.expiresAt * 1000) continue;
    events.push(expired(lock));
    locks.set(path, { ...lock, expiredNotified: true });
  }
  return { events, locks };
}

/** Returns the earliest expiry time not yet reported, in milliseconds since the epoch, or null when there is none. */
export function nextExpiryMs(locks: LockTable): number | null {
  let next: number | null = null;
  for (const lock of locks.values()) {
    if (lock.expiredNotified) continue;
    const at = lock.expiresAt * 1000;
    if (next === null || at < next) next = at;
  }
  return next;
}
