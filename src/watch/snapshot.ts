/**
 * The last state of a working copy that the watcher turned into events, kept
 * on disk so that a restart reports exactly what changed while it was down.
 * The file is replaced atomically (temporary file, fsync, rename), so a crash
 * leaves either the old or the new snapshot, never a mix.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isRecord, parseLockEntry, parseRefContent, readStateFile } from './dits-format.js';
import type { RefHeads } from './dits-format.js';
import type { LockTable } from './lock-events.js';

export interface Snapshot {
  /**
   * Random id of the baseline that this line of snapshots started from, in
   * each event's key, or '' in files written before it existed. A baseline
   * taken again after the state file was deleted starts `sequence` over, and
   * the new id keeps its events' keys apart from the earlier ones.
   */
  baseline: string;
  /** Events queued so far from this working copy; each event's key includes its number. */
  sequence: number;
  refs: RefHeads;
  locks: LockTable;
}

/** Paths of the snapshot file and the outbox file of one working copy. */
export interface StatePaths {
  snapshot: string;
  outbox: string;
}

const FORMAT_VERSION = 1;

export function emptySnapshot(): Snapshot {
  return { baseline: '', sequence: 0, refs: { heads: new Map(), tags: new Map() }, locks: new Map() };
}

/** Returns a new baseline id: 16 random hex characters. */
export function newBaselineId(): string {
  return randomBytes(8).toString('hex');
}

const BASELINE_ID = /^[0-9a-f]{16}$/;

/**
 * Places the state files in `<working copy>/.dits` by default. In a shared
 * state folder, the file names carry the working copy's folder name and a
 * hash of its absolute path, so two working copies never share a file.
 */
export function statePathsFor(workingCopy: string, stateDir?: string): StatePaths {
  if (!stateDir) {
    const ditsDir = join(workingCopy, '.dits');
    return { snapshot: join(ditsDir, 'webhooks-watch.json'), outbox: join(ditsDir, 'webhooks-outbox.jsonl') };
  }
  const absolute = resolve(workingCopy);
  const stem = `${basename(absolute)}-${createHash('sha256').update(absolute).digest('hex').slice(0, 12)}`;
  return { snapshot: join(stateDir, `${stem}.json`), outbox: join(stateDir, `${stem}.outbox.jsonl`) };
}

/** Serializes a snapshot to the stored JSON form. */
export function snapshotToJson(snapshot: Snapshot): string {
  // Object.fromEntries defines own properties, so a path named `__proto__` is stored like any other.
  const locks = Object.fromEntries(
    [...snapshot.locks].map(([path, lock]) => [
      path,
      { owner: lock.owner, acquired_at: lock.acquiredAt, expires_at: lock.expiresAt, reason: lock.reason, expired_notified: lock.expiredNotified },
    ]),
  );
  return JSON.stringify({
    version: FORMAT_VERSION,
    ...(snapshot.baseline === '' ? {} : { baseline: snapshot.baseline }),
    sequence: snapshot.sequence,
    refs: { heads: Object.fromEntries(snapshot.refs.heads), tags: Object.fromEntries(snapshot.refs.tags) },
    locks,
  });
}

function refsFromJson(value: unknown, where: string): Map<string, string> {
  if (!isRecord(value)) throw new Error(`${where} must be an object of ref name to commit id`);
  const refs = new Map<string, string>();
  for (const [name, id] of Object.entries(value)) {
    const hex = typeof id === 'string' ? parseRefContent(id) : null;
    if (hex === null) throw new Error(`${where}.${name} must be a 64-character hex commit id, got ${JSON.stringify(id)}`);
    refs.set(name, hex);
  }
  return refs;
}

function locksFromJson(value: unknown): LockTable {
  if (!isRecord(value)) throw new Error('locks must be an object keyed by path');
  const locks: LockTable = new Map();
  for (const [path, stored] of Object.entries(value)) {
    const entry = parseLockEntry(path, stored);
    if (!entry || !isRecord(stored) || typeof stored.expired_notified !== 'boolean') {
      throw new Error(`locks.${path} must have owner, acquired_at, expires_at, reason and expired_notified`);
    }
    locks.set(path, { ...entry, expiredNotified: stored.expired_notified });
  }
  return locks;
}

/** Parses the stored JSON form; throws an Error naming the first invalid field. */
export function snapshotFromJson(text: string): Snapshot {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error('the file is not valid JSON');
  }
  if (!isRecord(data)) throw new Error('the file must contain a JSON object');
  if (data.version !== FORMAT_VERSION) throw new Error(`version must be ${FORMAT_VERSION}, got ${JSON.stringify(data.version)}`);
  const sequence = data.sequence;
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 0) {
    throw new Error(`sequence must be a non-negative integer, got ${JSON.stringify(sequence)}`);
  }
  const baseline = data.baseline ?? '';
  if (typeof baseline !== 'string' || (baseline !== '' && !BASELINE_ID.test(baseline))) {
    throw new Error(`baseline must be 16 lowercase hex characters, got ${JSON.stringify(data.baseline)}`);
  }
  if (!isRecord(data.refs)) throw new Error('refs must be an object with heads and tags');
  return {
    baseline,
    sequence,
    refs: { heads: refsFromJson(data.refs.heads, 'refs.heads'), tags: refsFromJson(data.refs.tags, 'refs.tags') },
    locks: locksFromJson(data.locks),
  };
}

/**
 * Loads the snapshot, or returns null when the file does not exist. An
 * unreadable snapshot stops the watcher rather than being replaced, because a
 * new baseline would silently skip what changed while the watcher was down.
 */
export async function loadSnapshot(path: string): Promise<Snapshot | null> {
  const text = await readStateFile(path, 'state file');
  if (text === null) return null;
  try {
    return snapshotFromJson(text);
  } catch (error) {
    throw new Error(
      `Invalid watcher state file ${path}: ${(error as Error).message}. ` +
        'Delete the file to start from the current state of the working copy; changes made while the watcher was stopped are then not reported.',
    );
  }
}

export async function saveSnapshot(path: string, snapshot: Snapshot): Promise<void> {
  await writeFileAtomic(path, snapshotToJson(snapshot) + '\n');
}

/** Replaces a file with new content through a synced temporary file and a rename. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  // Syncing the folder makes the rename itself durable across a power loss.
  const folder = await open(dirname(path), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
