/**
 * Counts the store calls of the delivery path in this process: how many
 * transactions the worker and the ingestion path run, how many deliveries
 * each carries, and the wall time they block the event loop. It wraps the
 * SQLite store's methods in place; the bench's service processes load it
 * before the service starts.
 */
import { SqliteStore } from '../src/store/sqlite/store.js';
import { WalSync } from '../src/store/sqlite/wal-sync.js';

export interface CallStats {
  calls: number;
  /** Calls that handled nothing, such as claims that found no due delivery. */
  empty: number;
  /** Deliveries or events handled by those calls. */
  items: number;
  /** Wall time inside the calls, ms. */
  ms: number;
}

const stats: Record<'claimDue' | 'flushClaim' | 'completeAttempts' | 'ingest', CallStats> = {
  claimDue: { calls: 0, empty: 0, items: 0, ms: 0 },
  flushClaim: { calls: 0, empty: 0, items: 0, ms: 0 },
  completeAttempts: { calls: 0, empty: 0, items: 0, ms: 0 },
  ingest: { calls: 0, empty: 0, items: 0, ms: 0 },
};

type AsyncMethod = (...args: any[]) => Promise<unknown>;

function wrap(name: keyof typeof stats, count: (args: any[], result: unknown) => number): void {
  const prototype = SqliteStore.prototype as unknown as Record<string, AsyncMethod>;
  const original = prototype[name];
  prototype[name] = async function traced(this: unknown, ...args: any[]) {
    const started = performance.now();
    const result = await original.apply(this, args);
    const entry = stats[name];
    entry.calls++;
    entry.ms += performance.now() - started;
    const items = count(args, result);
    entry.items += items;
    if (items === 0) entry.empty++;
    return result;
  };
}

wrap('claimDue', (_args, result) => (result as unknown[]).length);
wrap('completeAttempts', (args, result) => {
  // A claim that rode along with the complete is counted apart; its time is in the complete's.
  if (args[2] !== undefined) {
    const claimed = (result as unknown[]).length;
    stats.flushClaim.calls++;
    stats.flushClaim.items += claimed;
    if (claimed === 0) stats.flushClaim.empty++;
  }
  return (args[0] as unknown[]).length;
});
wrapIngest();

/**
 * Wraps ingest so that its time leaves out the WAL sync that follows the
 * commit at synchronous=full: the sync runs in the thread pool, and the
 * event loop serves other work meanwhile.
 */
function wrapIngest(): void {
  const prototype = SqliteStore.prototype as unknown as Record<string, AsyncMethod>;
  const original = prototype.ingest;
  const syncPrototype = WalSync.prototype as unknown as { sync: () => Promise<void> };
  const originalSync = syncPrototype.sync;
  let syncMs = 0;
  syncPrototype.sync = async function timedSync(this: unknown) {
    const started = performance.now();
    try {
      await originalSync.call(this);
    } finally {
      syncMs += performance.now() - started;
    }
  };
  prototype.ingest = async function traced(this: unknown, items: unknown[]) {
    const started = performance.now();
    const syncBefore = syncMs;
    const result = await original.call(this, items);
    const entry = stats.ingest;
    entry.calls++;
    entry.ms += performance.now() - started - (syncMs - syncBefore);
    entry.items += items.length;
    if (items.length === 0) entry.empty++;
    return result;
  };
}

/** Returns the counts since the last reset and starts new ones. */
export function takeStoreStats(): typeof stats {
  const copy = structuredClone(stats);
  for (const entry of Object.values(stats)) Object.assign(entry, { calls: 0, empty: 0, items: 0, ms: 0 });
  return copy;
}
