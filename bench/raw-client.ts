/**
 * The raw limit: an undici Pool that POSTs the stored delivery bodies, with
 * their signature headers computed beforehand, straight to the receiver.
 * No store, no claiming, no bookkeeping: the most this machine's HTTP path
 * allows at the given concurrency.
 */
import { Pool } from 'undici';
import { buildRequestHeaders } from '../src/delivery/request-headers.js';
import { prepareSigningKey } from '../src/signing/sign.js';
import type { ClaimedDelivery } from '../src/store/types.js';
import { readStoredDeliveries } from './deliveries-file.js';
import { cpuMicros, monotonicMs, serveRpc } from './rpc.js';

interface Prepared {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

let prepared: Prepared[] = [];

function prepare(dbFile: string): number {
  const nowSeconds = Math.floor(Date.now() / 1000);
  prepared = readStoredDeliveries(dbFile).map((stored) => {
    const url = new URL(stored.url);
    const claimed = { id: stored.id, webhookId: stored.webhookId, event: stored.event, body: stored.body } as ClaimedDelivery;
    return {
      origin: url.origin,
      path: url.pathname,
      headers: buildRequestHeaders(claimed, [prepareSigningKey(stored.secret)], nowSeconds),
      body: stored.body,
    };
  });
  return prepared.length;
}

async function run(concurrency: number, timeoutMs: number) {
  const origin = prepared[0].origin;
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  let next = 0;
  let failures = 0;
  const startedAt = monotonicMs();
  const cpuAtStart = cpuMicros();
  const deadline = startedAt + timeoutMs;
  const loop = async () => {
    while (next < prepared.length && monotonicMs() < deadline) {
      const request = prepared[next++];
      try {
        const response = await pool.request({ path: request.path, method: 'POST', headers: request.headers, body: request.body });
        await response.body.dump();
        if (response.statusCode < 200 || response.statusCode > 299) failures++;
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const finishedAt = monotonicMs();
  const cpuUsed = cpuMicros() - cpuAtStart;
  await pool.close();
  return { sent: next, failures, startedAt, finishedAt, cpuMicros: cpuUsed };
}

serveRpc({
  prepare: (params: { dbFile: string }) => ({ count: prepare(params.dbFile) }),
  run: (params: { concurrency: number; timeoutMs: number }) => run(params.concurrency, params.timeoutMs),
  close() {
    setImmediate(() => process.exit(0));
  },
});
