/**
 * History walks over Dits commit objects: which commits a ref update brought
 * in, and whether the old head is an ancestor of the new one.
 *
 * The walk paints commits from two sides at once, newest timestamp first, the
 * way `git rev-list new ^old` does: commits reachable from the tips get NEW,
 * commits reachable from the exclusions get OLD, and the walk stops once every
 * queued commit is OLD. It reads only the commits between the two sides plus a
 * few more, instead of the whole history of the old head.
 */
import type { CommitObject } from './dits-format.js';
import type { ObjectReader } from './object-store.js';

export interface WalkLimits {
  /** Commits kept in the result list; the newest ones are kept. */
  maxListed: number;
  /** Commit objects read by one walk, both sides together; bounds time and memory. */
  maxRead: number;
}

export interface NewCommits {
  /** Ids reachable from the tips and from no exclusion, oldest first; at most `maxListed`, the newest ones. */
  listed: string[];
  /** Number of such commits found; only a lower bound when `complete` is false. */
  total: number;
  /** False when the read bound was reached or an object was missing, so commits may be uncounted. */
  complete: boolean;
  /** Ids of commit objects that were referenced but could not be read. */
  missing: string[];
  /** Exclusions that a tip reaches, that is, exclusions that are ancestors of a tip (or a tip itself). */
  reachedExclusions: Set<string>;
}

const NEW = 1;
const OLD = 2;

/**
 * Extra commits read after every queued commit is OLD. Commit timestamps come
 * from the clocks of the machines that made them, so a parent can look newer
 * than its child; the slop lets OLD catch up across such a skew.
 */
const SLOP = 8;

interface QueueItem {
  id: string;
  parents: string[];
  time: number;
  order: number;
}

/** A binary max-heap on commit time; ties keep insertion order. */
class CommitQueue {
  private readonly items: QueueItem[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: QueueItem): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): QueueItem | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < items.length && before(items[left], items[best])) best = left;
        if (right < items.length && before(items[right], items[best])) best = right;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

function before(a: QueueItem, b: QueueItem): boolean {
  return a.time > b.time || (a.time === b.time && a.order < b.order);
}

function commitTime(commit: CommitObject): number {
  const ms = Date.parse(commit.timestamp);
  return Number.isFinite(ms) ? ms : 0;
}

/** Finds the commits reachable from `tips` and from none of `exclude` (git's `tips ^exclude`). */
export async function findNewCommits(
  reader: ObjectReader,
  tips: string[],
  exclude: string[],
  limits: WalkLimits,
): Promise<NewCommits> {
  const flags = new Map<string, number>();
  const queued = new Set<string>();
  const queue = new CommitQueue();
  const missing: string[] = [];
  const newInPopOrder: string[] = [];
  let reads = 0;
  let boundReached = false;
  let queuedWithoutOld = 0;
  let order = 0;

  const enqueue = async (id: string): Promise<void> => {
    if (reads >= limits.maxRead) {
      boundReached = true;
      return;
    }
    reads++;
    const commit = await reader.readCommit(id);
    if (!commit) {
      if (!missing.includes(id)) missing.push(id);
      return;
    }
    queued.add(id);
    if (!((flags.get(id) ?? 0) & OLD)) queuedWithoutOld++;
    queue.push({ id, parents: commit.parents, time: commitTime(commit), order: order++ });
  };

  // Marks a commit and queues it when the new flag has to travel on to its parents.
  const mark = async (id: string, flag: number): Promise<void> => {
    const previous = flags.get(id) ?? 0;
    if ((previous | flag) === previous) return;
    flags.set(id, previous | flag);
    const gainsOld = flag === OLD;
    if (queued.has(id)) {
      if (gainsOld) queuedWithoutOld--;
      return;
    }
    // NEW never travels through an OLD commit: what lies below it is old history.
    if (gainsOld || !(previous & OLD)) await enqueue(id);
  };

  for (const id of exclude) await mark(id, OLD);
  for (const id of tips) await mark(id, NEW);

  let slop = SLOP;
  while (queue.size > 0) {
    if (queuedWithoutOld === 0 && slop-- <= 0) break;
    const item = queue.pop()!;
    queued.delete(item.id);
    if ((flags.get(item.id) ?? 0) & OLD) {
      for (const parent of item.parents) await mark(parent, OLD);
      continue;
    }
    queuedWithoutOld--;
    newInPopOrder.push(item.id);
    for (const parent of item.parents) await mark(parent, NEW);
  }

  // A commit listed as NEW may have turned OLD later, when timestamps were skewed.
  const found = newInPopOrder.filter((id) => !((flags.get(id) ?? 0) & OLD)).reverse();
  const reachedExclusions = new Set(exclude.filter((id) => ((flags.get(id) ?? 0) & NEW) !== 0));
  return {
    listed: found.slice(Math.max(0, found.length - limits.maxListed)),
    total: found.length,
    complete: !boundReached && missing.length === 0,
    missing,
    reachedExclusions,
  };
}

/** How an old head relates to a new head of the same ref. */
export type Ancestry = 'ancestor' | 'not-ancestor' | 'unknown';

/** Classifies the ancestry of `oldHead` from a walk of `newHead ^oldHead`; unknown when that walk was incomplete. */
export function ancestryOf(walk: NewCommits, oldHead: string): Ancestry {
  if (walk.reachedExclusions.has(oldHead)) return 'ancestor';
  return walk.complete ? 'not-ancestor' : 'unknown';
}
