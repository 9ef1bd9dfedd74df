/**
 * Counts the store calls of the delivery path in this process: how many
 * transactions the worker and the ingestion path run, how many deliveries
 * each carries, and the wall time they block the event loop. It wraps the
 * SQLite store's methods in place; the bench's service processes load it
 * before the service starts.
 */
import { SqliteStore } from '../src/store/sqlite/store.js';

export interface CallStats {
  calls: number;
  /** Calls that handled nothing, such as claims that found no due delivery. */
  empty: number;
  /** Deliveries or events handled by those calls. */
  items: number;
  /** Wall time the calls block the event loop, ms: the part before each call returns its promise. */
  ms: number;
}

const stats: Record<'claimDue' | 'flushClaim' | 'completeAttempts' | 'ingest' | 'ingestRecorded' | 'ingestClaim', CallStats> = {
  claimDue: { calls: 0, empty: 0, items: 0, ms: 0 },
  flushClaim: { calls: 0, empty: 0, items: 0, ms: 0 },
  completeAttempts: { calls: 0, empty: 0, items: 0, ms: 0 },
  ingest: { calls: 0, empty: 0, items: 0, ms: 0 },
  /** Attempts that ingestions recorded in their own transactions; its time is in the ingest's. */
  ingestRecorded: { calls: 0, empty: 0, items: 0, ms: 0 },
  /** Deliveries that ingestions claimed for the worker; its time is in the ingest's. */
  ingestClaim: { calls: 0, empty: 0, items: 0, ms: 0 },
};

type AsyncMethod = (...args: any[]) => Promise<unknown>;

/** Counts the part of a call that rode along in its transaction. */
function countRide(entry: CallStats, items: number): void {
  entry.calls++;
  entry.items += items;
  if (items === 0) entry.empty++;
}

function wrap(method: string, name: keyof typeof stats, count: (args: any[], result: unknown) => number): void {
  const prototype = SqliteStore.prototype as unknown as Record<string, AsyncMethod>;
  const original = prototype[method];
  prototype[method] = async function traced(this: unknown, ...args: any[]) {
    const started = performance.now();
    // The SQLite store does its work before it returns the promise. What it awaits after that, such as the WAL sync
    // of an ingest, runs off the event loop.
    const pending = original.apply(this, args);
    const blockedMs = performance.now() - started;
    const result = await pending;
    const entry = stats[name];
    entry.calls++;
    entry.ms += blockedMs;
    const items = count(args, result);
    entry.items += items;
    if (items === 0) entry.empty++;
    return result;
  };
}

wrap('claimDue', 'claimDue', (_args, result) => (result as unknown[]).length);
wrap('completeAttempts', 'completeAttempts', (args, result) => {
  // A claim that rode along with the complete is counted apart.
  if (args[2] !== undefined) countRide(stats.flushClaim, (result as unknown[]).length);
  return (args[0] as unknown[]).length;
});
wrap('ingest', 'ingest', (args) => (args[0] as unknown[]).length);
wrap('ingestAndClaim', 'ingest', (args, result) => {
  countRide(stats.ingestRecorded, (args[2]?.results as unknown[] | undefined)?.length ?? 0);
  countRide(stats.ingestClaim, (result as { claimed: unknown[] }).claimed.length);
  return (args[0] as unknown[]).length;
});

/** Returns the counts since the last reset and starts new ones. */
export function takeStoreStats(): typeof stats {
  const copy = structuredClone(stats);
  for (const entry of Object.values(stats)) Object.assign(entry, { calls: 0, empty: 0, items: 0, ms: 0 });
  return copy;
}
