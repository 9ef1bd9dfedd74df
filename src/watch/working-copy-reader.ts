/**
 * Reads the refs and locks of a working copy as they are now, tolerating the
 * half-written files that Dits's in-place writes leave for a moment.
 *
 * A ref file or `locks.json` that is not ready is read again after a short,
 * doubling delay. When it is still not ready after the last attempt, the scan
 * uses the value from the previous snapshot, so an unfinished write never
 * looks like a deletion. The next scan reads the file again.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotFound, listRefNames, parseLocks, readRef, readTextIfExists } from './dits-format.js';
import type { LockEntry, RefHeads, RefKind } from './dits-format.js';
import type { Snapshot } from './snapshot.js';

export interface ReadRetry {
  /** Reads of a not-ready file per scan, the first one included. */
  attempts: number;
  /** Delay before the second read, in milliseconds; it doubles before each further read. */
  initialDelayMs: number;
}

export const DEFAULT_READ_RETRY: ReadRetry = { attempts: 5, initialDelayMs: 10 };

export interface ObservedState {
  refs: RefHeads;
  locks: Map<string, LockEntry>;
  /** Files that stayed half-written through every attempt, relative to `.dits`; their previous values were kept. */
  unready: string[];
  /** Keys of `locks.json` whose values were malformed; their previous entries were kept. */
  malformedLocks: string[];
}

/** Raised when `<working copy>/.dits` is missing, so a scan must not report every ref as deleted. */
export class MissingDitsFolderError extends Error {
  constructor(readonly ditsDir: string) {
    super(`The Dits folder ${ditsDir} does not exist. Pass the folder that contains .dits, or restore it.`);
    this.name = 'MissingDitsFolderError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function readRefsSettled(ditsDir: string, previous: RefHeads, retry: ReadRetry): Promise<{ refs: RefHeads; unready: string[] }> {
  const refs: RefHeads = { heads: new Map(), tags: new Map() };
  let pending: Array<{ kind: RefKind; name: string }> = [];
  for (const kind of ['heads', 'tags'] as const) {
    for (const name of await listRefNames(ditsDir, kind)) pending.push({ kind, name });
  }

  for (let attempt = 0; attempt < retry.attempts && pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(retry.initialDelayMs * 2 ** (attempt - 1));
    const stillPending: typeof pending = [];
    for (const ref of pending) {
      const value = await readRef(ditsDir, ref.kind, ref.name);
      if (value === 'unready') stillPending.push(ref);
      else if (value !== 'missing') refs[ref.kind].set(ref.name, value);
    }
    pending = stillPending;
  }

  for (const ref of pending) {
    const kept = previous[ref.kind].get(ref.name);
    if (kept !== undefined) refs[ref.kind].set(ref.name, kept);
  }
  return { refs, unready: pending.map((ref) => `refs/${ref.kind}/${ref.name}`) };
}

function entryOf(lock: LockEntry): LockEntry {
  return { path: lock.path, owner: lock.owner, acquiredAt: lock.acquiredAt, expiresAt: lock.expiresAt, reason: lock.reason };
}

async function readLocksSettled(
  ditsDir: string,
  previous: Snapshot['locks'],
  retry: ReadRetry,
): Promise<{ locks: Map<string, LockEntry>; unready: boolean; malformed: string[] }> {
  const path = join(ditsDir, 'locks.json');
  for (let attempt = 0; attempt < retry.attempts; attempt++) {
    if (attempt > 0) await sleep(retry.initialDelayMs * 2 ** (attempt - 1));
    const text = await readTextIfExists(path);
    // A missing file means no locks are held, because Dits rewrites the file in place rather than deleting it.
    if (text === null) return { locks: new Map(), unready: false, malformed: [] };
    const parsed = parseLocks(text);
    if (!parsed) continue;
    for (const key of parsed.malformed) {
      const kept = previous.get(key);
      if (kept) parsed.locks.set(key, entryOf(kept));
    }
    return { locks: parsed.locks, unready: false, malformed: parsed.malformed };
  }
  const kept = new Map<string, LockEntry>();
  for (const [key, lock] of previous) kept.set(key, entryOf(lock));
  return { locks: kept, unready: true, malformed: [] };
}

/** Reads refs and locks of the working copy whose Dits folder is `ditsDir`, falling back to `previous` for unfinished writes. */
export async function readWorkingCopy(ditsDir: string, previous: Snapshot, retry: ReadRetry = DEFAULT_READ_RETRY): Promise<ObservedState> {
  try {
    await stat(ditsDir);
  } catch (error) {
    if (isNotFound(error)) throw new MissingDitsFolderError(ditsDir);
    throw error;
  }
  const refs = await readRefsSettled(ditsDir, previous.refs, retry);
  const locks = await readLocksSettled(ditsDir, previous.locks, retry);
  return {
    refs: refs.refs,
    locks: locks.locks,
    unready: locks.unready ? [...refs.unready, 'locks.json'] : refs.unready,
    malformedLocks: locks.malformed,
  };
}
