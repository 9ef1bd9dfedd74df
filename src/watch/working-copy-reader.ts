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
import { isNotFound, isSendableRefName, listRefNames, parseLocks, readRef, readTextIfExists, UnusableFileError } from './dits-format.js';
import type { LockEntry, RefHeads, RefKind, SkippedRef } from './dits-format.js';
import type { Snapshot } from './snapshot.js';

export interface ReadRetry {
  /** Reads of a not-ready file per scan, the first one included. */
  attempts: number;
  /** Delay before the second read, in milliseconds; it doubles before each further read. */
  initialDelayMs: number;
}

export const DEFAULT_READ_RETRY: ReadRetry = { attempts: 5, initialDelayMs: 10 };

/** Largest `locks.json` read, in bytes: room for hundreds of thousands of locks. */
export const LOCKS_FILE_MAX_BYTES = 64 * 1024 * 1024;

export interface ObservedState {
  refs: RefHeads;
  locks: Map<string, LockEntry>;
  /** Files that stayed half-written through every attempt, relative to `.dits`; their previous values were kept. */
  unready: string[];
  /** Ref files left out of `refs`: names the service rejects or that are not UTF-8, symbolic links, folders too deep. */
  skippedRefs: SkippedRef[];
  /** Keys of `locks.json` whose values were malformed; their previous entries were kept. */
  malformedLocks: string[];
  /** True when `locks.json` does not exist. */
  locksFileMissing: boolean;
}

/**
 * Raised when `<working copy>/.dits`, or its `HEAD` or `refs` inside, is
 * missing, so that a scan does not report every ref as deleted. Dits always
 * keeps both; a folder without them is being created, copied or removed.
 */
export class MissingDitsFolderError extends Error {
  constructor(
    readonly ditsDir: string,
    readonly part: string | null = null,
  ) {
    super(
      part === null
        ? `The Dits folder ${ditsDir} does not exist. Pass the folder that contains .dits, or restore it.`
        : `The Dits folder ${ditsDir} has no ${part}, so it is incomplete (being copied, created or removed). Scanning resumes once it is complete.`,
    );
    this.name = 'MissingDitsFolderError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function readRefsSettled(ditsDir: string, previous: RefHeads, retry: ReadRetry): Promise<{ refs: RefHeads; unready: string[]; skipped: SkippedRef[] }> {
  const refs: RefHeads = { heads: new Map(), tags: new Map() };
  const skipped: SkippedRef[] = [];
  let pending: Array<{ kind: RefKind; name: string }> = [];
  for (const kind of ['heads', 'tags'] as const) {
    const listed = await listRefNames(ditsDir, kind);
    skipped.push(...listed.skipped);
    for (const name of listed.names) {
      if (isSendableRefName(name)) pending.push({ kind, name });
      else skipped.push({ ref: `refs/${kind}/${name}`, reason: 'name' });
    }
  }

  for (let attempt = 0; attempt < retry.attempts && pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(retry.initialDelayMs * 2 ** (attempt - 1));
    const stillPending: typeof pending = [];
    for (const ref of pending) {
      const value = readRef(ditsDir, ref.kind, ref.name);
      if (value === 'unready') stillPending.push(ref);
      else if (value !== 'missing') refs[ref.kind].set(ref.name, value);
    }
    pending = stillPending;
  }

  for (const ref of pending) {
    const kept = previous[ref.kind].get(ref.name);
    if (kept !== undefined) refs[ref.kind].set(ref.name, kept);
  }
  return { refs, unready: pending.map((ref) => `refs/${ref.kind}/${ref.name}`), skipped };
}

function entryOf(lock: LockEntry): LockEntry {
  return { path: lock.path, owner: lock.owner, acquiredAt: lock.acquiredAt, expiresAt: lock.expiresAt, reason: lock.reason };
}

async function readLocksSettled(
  ditsDir: string,
  previous: Snapshot['locks'],
  retry: ReadRetry,
  acceptMissing: boolean,
): Promise<{ locks: Map<string, LockEntry>; unready: boolean; malformed: string[]; missing: boolean }> {
  const path = join(ditsDir, 'locks.json');
  for (let attempt = 0; attempt < retry.attempts; attempt++) {
    if (attempt > 0) await sleep(retry.initialDelayMs * 2 ** (attempt - 1));
    let text: string | null;
    try {
      text = await readTextIfExists(path, LOCKS_FILE_MAX_BYTES);
    } catch (error) {
      // A FIFO or a huge file in its place reads as unready: the previous locks stay, and the file is warned about.
      if (error instanceof UnusableFileError) return { locks: keptLocks(previous), unready: true, malformed: [], missing: false };
      throw error;
    }
    if (text === null) {
      // Dits rewrites the file in place and never deletes it, so a file gone while locks were held is more likely a
      // folder being copied or restored than every lock released. The caller accepts it once it stays missing.
      if (acceptMissing || previous.size === 0) return { locks: new Map(), unready: false, malformed: [], missing: true };
      return { locks: keptLocks(previous), unready: true, malformed: [], missing: true };
    }
    const parsed = parseLocks(text);
    if (!parsed) continue;
    for (const key of parsed.malformed) {
      const kept = previous.get(key);
      if (kept) parsed.locks.set(key, entryOf(kept));
    }
    return { locks: parsed.locks, unready: false, malformed: parsed.malformed, missing: false };
  }
  return { locks: keptLocks(previous), unready: true, malformed: [], missing: false };
}

function keptLocks(previous: Snapshot['locks']): Map<string, LockEntry> {
  const kept = new Map<string, LockEntry>();
  for (const [key, lock] of previous) kept.set(key, entryOf(lock));
  return kept;
}

/**
 * Reads refs and locks of the working copy whose Dits folder is `ditsDir`,
 * falling back to `previous` for unfinished writes. A missing `locks.json`
 * keeps the previous locks unless `acceptMissingLocks` is set.
 */
export async function readWorkingCopy(
  ditsDir: string,
  previous: Snapshot,
  retry: ReadRetry = DEFAULT_READ_RETRY,
  acceptMissingLocks = false,
): Promise<ObservedState> {
  for (const part of [null, 'HEAD', 'refs'] as const) {
    try {
      await stat(part === null ? ditsDir : join(ditsDir, part));
    } catch (error) {
      if (isNotFound(error)) throw new MissingDitsFolderError(ditsDir, part);
      throw error;
    }
  }
  // A deleted branch or tag loses its file, not the whole folder. A folder that vanishes while it contained refs is more
  // likely being moved or restored than emptied, so scanning waits for it rather than report every ref deleted.
  for (const kind of ['heads', 'tags'] as const) {
    if (previous.refs[kind].size === 0) continue;
    try {
      await stat(join(ditsDir, 'refs', kind));
    } catch (error) {
      if (isNotFound(error)) throw new MissingDitsFolderError(ditsDir, `refs/${kind}`);
      throw error;
    }
  }
  const refs = await readRefsSettled(ditsDir, previous.refs, retry);
  const locks = await readLocksSettled(ditsDir, previous.locks, retry, acceptMissingLocks);
  return {
    refs: refs.refs,
    locks: locks.locks,
    unready: locks.unready ? [...refs.unready, 'locks.json'] : refs.unready,
    skippedRefs: refs.skipped,
    malformedLocks: locks.malformed,
    locksFileMissing: locks.missing,
  };
}
