/**
 * HTTP load generators for the ingestion endpoints: a closed loop (fixed
 * concurrency, fixed count) for throughput and an open loop (fixed rate,
 * fixed duration) for latency. Both are bounded in count and time and send
 * only to the loopback origin they are given.
 */
import { Pool } from 'undici';
import { monotonicMs } from './rpc.js';

export interface LoadTarget {
  /** `http://127.0.0.1:<port>`; nothing else is accepted. */
  origin: string;
  path: string;
  token: string | null;
}

export interface LoadResult {
  sent: number;
  /** Monotonic time of the first request, ms. */
  firstAt: number;
  /** Monotonic time the last response arrived, ms. */
  lastAt: number;
  /** Response status counts; status 0 counts transport errors. */
  statuses: Record<number, number>;
  /** Largest delay of a send behind its schedule (open loop only), ms. */
  maxLagMs: number;
}

function assertLoopback(origin: string): void {
  const host = new URL(origin).hostname;
  if (host !== '127.0.0.1' && host !== '[::1]' && host !== 'localhost') {
    throw new Error(`load target ${origin} is not a loopback address; the benchmark sends traffic only to 127.0.0.1`);
  }
}

function headersFor(target: LoadTarget): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  return headers;
}

async function postOne(pool: Pool, target: LoadTarget, headers: Record<string, string>, body: string, statuses: Record<number, number>): Promise<void> {
  let status = 0;
  try {
    const response = await pool.request({ path: target.path, method: 'POST', headers, body });
    status = response.statusCode;
    await response.body.dump();
  } catch {
    status = 0;
  }
  statuses[status] = (statuses[status] ?? 0) + 1;
}

/** Posts `count` bodies with `concurrency` requests in flight; stops early at `timeoutMs`. */
export async function postClosedLoop(
  target: LoadTarget,
  options: { count: number; concurrency: number; timeoutMs: number; body: (index: number) => string },
): Promise<LoadResult> {
  assertLoopback(target.origin);
  const pool = new Pool(target.origin, { connections: options.concurrency, pipelining: 1 });
  const headers = headersFor(target);
  const statuses: Record<number, number> = {};
  const bodies = Array.from({ length: options.count }, (_, i) => options.body(i));
  let next = 0;
  const firstAt = monotonicMs();
  const deadline = firstAt + options.timeoutMs;
  const loop = async () => {
    while (next < bodies.length && monotonicMs() < deadline) {
      const index = next++;
      await postOne(pool, target, headers, bodies[index], statuses);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  const lastAt = monotonicMs();
  await pool.close();
  return { sent: next, firstAt, lastAt, statuses, maxLagMs: 0 };
}

/**
 * Posts at a steady `ratePerSecond` for `durationMs`. Each body is built at
 * its send time, so it can carry that time. `maxInFlight` caps the requests
 * open at once, and sends beyond the cap are skipped and counted as status -1.
 */
export async function postAtRate(
  target: LoadTarget,
  options: { ratePerSecond: number; durationMs: number; maxInFlight: number; body: (sentAt: number) => string },
): Promise<LoadResult> {
  assertLoopback(target.origin);
  const pool = new Pool(target.origin, { connections: 64, pipelining: 1 });
  const headers = headersFor(target);
  const statuses: Record<number, number> = {};
  const total = Math.round((options.ratePerSecond * options.durationMs) / 1000);
  const open = new Set<Promise<void>>();
  let sent = 0;
  let maxLagMs = 0;
  const firstAt = monotonicMs();
  while (sent < total) {
    const now = monotonicMs();
    const due = Math.min(total, Math.floor(((now - firstAt) * options.ratePerSecond) / 1000) + 1);
    for (; sent < due; sent++) {
      maxLagMs = Math.max(maxLagMs, now - (firstAt + (sent * 1000) / options.ratePerSecond));
      if (open.size >= options.maxInFlight) {
        statuses[-1] = (statuses[-1] ?? 0) + 1;
        continue;
      }
      const request = postOne(pool, target, headers, options.body(monotonicMs()), statuses).finally(() => open.delete(request));
      open.add(request);
    }
    if (now - firstAt > options.durationMs + 5000) break;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(open);
  const lastAt = monotonicMs();
  await pool.close();
  return { sent, firstAt, lastAt, statuses, maxLagMs };
}
