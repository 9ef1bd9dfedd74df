/**
 * The benchmark's webhook receiver, run as its own process: a bare node:http
 * server on 127.0.0.1 that reads each request body, responds with 200 at once, and
 * counts requests. In latency mode it also reads the `bench_sent_at` field
 * (shared monotonic clock, ms) from each body and keeps arrival minus send
 * time. The parent controls it over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpuMicros, monotonicMs, serveRpc } from './rpc.js';

const SENT_AT = /"bench_sent_at":([0-9.]+)/;

interface Phase {
  count: number;
  firstAt: number;
  lastAt: number;
  latency: boolean;
  latencies: number[];
  /** Requests whose body carried no `bench_sent_at` while latency mode was on. */
  unmatched: number;
}

function newPhase(latency: boolean): Phase {
  return { count: 0, firstAt: 0, lastAt: 0, latency, latencies: [], unmatched: 0 };
}

let phase = newPhase(false);
let waiter: { count: number; resolve: () => void } | null = null;

function arrived(sentAtText: string | null): void {
  const now = monotonicMs();
  if (phase.count === 0) phase.firstAt = now;
  phase.count++;
  phase.lastAt = now;
  if (phase.latency) {
    if (sentAtText === null) phase.unmatched++;
    else phase.latencies.push(now - Number(sentAtText));
  }
  if (waiter && phase.count >= waiter.count) {
    waiter.resolve();
    waiter = null;
  }
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  const latency = phase.latency;
  req.on('data', (chunk: Buffer) => {
    if (latency) chunks.push(chunk);
  });
  req.on('end', () => {
    const match = latency ? SENT_AT.exec(Buffer.concat(chunks).toString('latin1')) : null;
    arrived(match ? match[1] : null);
    res.writeHead(200, { 'content-length': '0' });
    res.end();
  });
}

const server = createServer({ keepAliveTimeout: 60_000 }, handle);

function summary(): Omit<Phase, 'latencies'> & { latencies: number[] } {
  return { ...phase };
}

serveRpc({
  async listen() {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port };
  },
  /** Starts a new phase: counters to zero, latency recording on or off. */
  reset(params: { latency?: boolean }) {
    phase = newPhase(params.latency === true);
    waiter = null;
  },
  /** Resolves with the phase summary once `count` requests have arrived, or rejects after `timeoutMs`. */
  async waitFor(params: { count: number; timeoutMs: number; withLatencies?: boolean }) {
    if (phase.count < params.count) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = null;
          reject(new Error(`receiver got ${phase.count} of ${params.count} requests within ${params.timeoutMs} ms`));
        }, params.timeoutMs);
        waiter = {
          count: params.count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    }
    const result = summary();
    if (!params.withLatencies) result.latencies = [];
    return result;
  },
  status() {
    return { count: phase.count, cpuMicros: cpuMicros() };
  },
  async close() {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    setImmediate(() => process.exit(0));
  },
});
