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
  /** True when the walk stopped at `maxRead` commit objects. */
  boundReached: boolean;
  /** Exclusions that a tip reaches, that is, exclusions that are ancestors of a tip (or a tip itself). */
  reachedExclusions: Set<string>;
}

const NEW = 1;
const OLD = 2;

/**
 * Extra commits read after every queued commit is OLD. Commit timestamps come
 * from the clocks of the machines that made them, so a parent can look newer
 * than its child. The slop lets OLD catch up across such a skew.
 */
const SLOP = 8;

/**
 * How far past the watcher's clock a commit time may lie before the walk
 * takes it as a skewed clock, in ms. A commit from the future can sit below
 * many older-looking commits, out of reach of the slop, so a walk that meets
 * one goes on until both histories end or the read bound is reached.
 */
const FUTURE_TOLERANCE_MS = 24 * 60 * 60 * 1000;

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

/** The state of one two-sided walk: the flags painted so far and the queue of commits still to visit. */
class PaintedWalk {
  readonly missing: string[] = [];
  /** Commits visited as NEW, newest first. */
  readonly newInPopOrder: string[] = [];
  boundReached = false;
  private readonly flags = new Map<string, number>();
  private readonly queued = new Set<string>();
  private readonly queue = new CommitQueue();
  private reads = 0;
  private queuedWithoutOld = 0;
  private order = 0;
  /** Set once a commit dated past `latestPlausible` was read: timestamps no longer tell where the walk may stop. */
  private skewed = false;

  constructor(
    private readonly reader: ObjectReader,
    private readonly maxRead: number,
    private readonly latestPlausible: number,
  ) {}

  has(id: string, flag: number): boolean {
    return ((this.flags.get(id) ?? 0) & flag) !== 0;
  }

  /** Marks a commit and queues it when the new flag has to travel on to its parents. */
  async mark(id: string, flag: number): Promise<void> {
    const previous = this.flags.get(id) ?? 0;
    if ((previous | flag) === previous) return;
    this.flags.set(id, previous | flag);
    const gainsOld = flag === OLD;
    if (this.queued.has(id)) {
      if (gainsOld) this.queuedWithoutOld--;
      return;
    }
    // NEW never travels through an OLD commit: what lies below it is old history.
    if (gainsOld || !(previous & OLD)) await this.enqueue(id);
  }

  /** Visits queued commits, newest first, until only OLD ones remain (plus the slop). */
  async run(): Promise<void> {
    let slop = SLOP;
    while (this.queue.size > 0) {
      if (this.queuedWithoutOld === 0 && !this.skewed && slop-- <= 0) break;
      const item = this.queue.pop()!;
      this.queued.delete(item.id);
      if (this.has(item.id, OLD)) {
        for (const parent of item.parents) await this.mark(parent, OLD);
        continue;
      }
      this.queuedWithoutOld--;
      this.newInPopOrder.push(item.id);
      for (const parent of item.parents) await this.mark(parent, NEW);
    }
  }

  private async enqueue(id: string): Promise<void> {
    if (this.reads >= this.maxRead) {
      this.boundReached = true;
      return;
    }
    this.reads++;
    const commit = await this.reader.readCommit(id);
    if (!commit) {
      if (!this.missing.includes(id)) this.missing.push(id);
      return;
    }
    this.queued.add(id);
    if (!this.has(id, OLD)) this.queuedWithoutOld++;
    const time = commitTime(commit);
    if (time > this.latestPlausible) this.skewed = true;
    this.queue.push({ id, parents: commit.parents, time, order: this.order++ });
  }
}

/** Finds the commits reachable from `tips` and from none of `exclude` (git's `tips ^exclude`); `now` is the watcher's clock. */
export async function findNewCommits(
  reader: ObjectReader,
  tips: string[],
  exclude: string[],
  limits: WalkLimits,
  now: number = Date.now(),
): Promise<NewCommits> {
  const walk = new PaintedWalk(reader, limits.maxRead, now + FUTURE_TOLERANCE_MS);
  for (const id of exclude) await walk.mark(id, OLD);
  for (const id of tips) await walk.mark(id, NEW);
  await walk.run();

  // A commit listed as NEW may have turned OLD later, when timestamps were skewed.
  const found = walk.newInPopOrder.filter((id) => !walk.has(id, OLD)).reverse();
  return {
    listed: found.slice(Math.max(0, found.length - limits.maxListed)),
    total: found.length,
    complete: !walk.boundReached && walk.missing.length === 0,
    missing: walk.missing,
    boundReached: walk.boundReached,
    reachedExclusions: new Set(exclude.filter((id) => walk.has(id, NEW))),
  };
}

/** Relation of an old head to a new head of the same ref. */
export type Ancestry = 'ancestor' | 'not-ancestor' | 'unknown';

/** Classifies the ancestry of `oldHead` from a walk of `newHead ^oldHead`; unknown when that walk was incomplete. */
export function ancestryOf(walk: NewCommits, oldHead: string): Ancestry {
  if (walk.reachedExclusions.has(oldHead)) return 'ancestor';
  return walk.complete ? 'not-ancestor' : 'unknown';
}
