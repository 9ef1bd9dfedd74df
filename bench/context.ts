import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchChild } from './children.js';

/** The knobs of one benchmark invocation; the report prints them. */
export interface BenchSettings {
  /** Deliveries stored for the drain and sent end to end; events are this divided by `fanOut`. */
  deliveries: number;
  /** Webhooks on the repository; every event is delivered to each. */
  fanOut: number;
  /** Requests in flight to one webhook: the service default. */
  maxInFlightPerWebhook: number;
  /** Ingestion requests in flight from the closed-loop load generator. */
  loadConcurrency: number;
  /** Events per second of the latency run. */
  latencyRate: number;
  /** Length of the measured latency run, in ms (a 3 s warm-up comes first). */
  latencyDurationMs: number;
  /** SQLite `synchronous` pragma of every Dits service started. */
  synchronous: 'full' | 'normal';
  /** Upper bound of any one phase, in ms. */
  phaseTimeoutMs: number;
}

export interface BenchContext {
  settings: BenchSettings;
  receiver: BenchChild;
  receiverPort: number;
}

/** Requests in flight across all webhooks: what the worker may reach and what the yardsticks get. */
export function totalConcurrency(settings: BenchSettings): number {
  return settings.fanOut * settings.maxInFlightPerWebhook;
}

export function eventCount(settings: BenchSettings): number {
  return Math.ceil(settings.deliveries / settings.fanOut);
}

/** Temporary folders in use, removed on exit too, so that an interrupted run leaves none behind. */
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs `body` with a fresh temporary folder and removes the folder afterwards. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dits-bench-'));
  tempDirs.add(dir);
  try {
    return await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

/** Polls `check` every 50 ms until it returns true; throws after `timeoutMs`. */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, condition: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Store calls of the delivery path during a phase (see store-trace.ts). */
export type StoreStats = Record<'claimDue' | 'flushClaim' | 'completeAttempts' | 'ingest' | 'ingestRecorded' | 'ingestClaim', { calls: number; empty: number; items: number; ms: number }>;

export interface Throughput {
  /** Deliveries that arrived at the receiver. */
  count: number;
  /** From the start of the measured phase to the last arrival, ms. */
  ms: number;
  perSecond: number;
  /** CPU time of the process doing the work, microseconds over the phase. */
  cpuMicros?: number;
  /** Redis server CPU time over the phase (BullMQ only), microseconds. */
  redisCpuMicros?: number;
  /** Receiver CPU time over the phase, microseconds. */
  receiverCpuMicros?: number;
  /** CPU time of the bench's own process, which runs the load generator, over the phase (end-to-end runs only), microseconds. */
  loadCpuMicros?: number;
  /** Redis persistence settings in force (BullMQ only), as CONFIG GET reports them. */
  redisPersistence?: string;
  /** Time from the start of the service process's startService to its worker's start (Dits drain only), ms. */
  startupMs?: number;
  /** Events accepted per second by the ingestion endpoint (end-to-end runs only). */
  ingestPerSecond?: number;
  store?: StoreStats;
}

export interface Latency {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Events per second actually sent. */
  sentPerSecond: number;
  /** Largest lag of the load generator behind its schedule, ms. */
  maxLagMs: number;
  /** Ingestion requests that did not return 202, plus arrivals without a send time. */
  rejected: number;
  /** From the first send to the last arrival of the measured part, ms. */
  phaseMs: number;
  store?: StoreStats;
}

/** Reads the receiver's CPU time, in microseconds. */
export async function receiverCpu(context: BenchContext): Promise<number> {
  return (await context.receiver.call('status')).cpuMicros;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function summarizeLatencies(latencies: number[]): Pick<Latency, 'count' | 'p50' | 'p90' | 'p99' | 'max'> {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
}
