/**
 * Development aid: the event-loop time of the SQLite store at low fan-out,
 * and the commits that stall it. There is one webhook. Each event is
 * ingested, with the claim that rides along, and its attempt recorded, one
 * at a time, as at a steady rate of single events. Prints the microseconds
 * per event, which with full include the wait for each WAL sync. Then it
 * lists the calls slower than 5 ms with their event numbers, where the
 * automatic checkpoint shows up every few hundred events, and the log size.
 *   node --import tsx bench/commit-stalls.ts [events] [full|normal]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { uuidv7 } from '../src/events/ids.js';
import type { AttemptResult, ClaimedDelivery, ClaimOptions, IngestItem } from '../src/store/types.js';
import { pushEventBody } from './setup.js';

const events = Number(process.argv[2] ?? 20_000);
const synchronous = process.argv[3] === 'normal' ? 'normal' : 'full';
const SLOW_MS = 5;

const dir = mkdtempSync(join(tmpdir(), 'dits-commit-stalls-'));
const file = join(dir, 'db.sqlite');
const store = new SqliteStore(file, { synchronous });
const now = Date.now();
const repo = await store.createRepository({ owner: 'o', name: 'r', private: false, description: null, defaultBranch: 'main' }, now);
if (repo === 'exists') throw new Error('repository o/r already exists in a fresh database');
await store.createWebhook(
  { scope: { kind: 'repo', repoId: repo.id }, url: 'http://127.0.0.1:9/hook', events: ['push'], filters: null, active: true, secret: 'x'.repeat(32), insecureSsl: false },
  now,
  100,
);
const body = Buffer.alloc(1300, 0x61);
const requestHeaders = { 'content-type': 'application/json', 'user-agent': 'Dits-Hookshot/1.0', 'x-dits-event': 'push', 'x-dits-delivery': 'x'.repeat(36), 'webhook-signature': 'v1,' + 'b'.repeat(44) };
const claim = (at: number): ClaimOptions => ({ workerId: 'w', now: at, leaseMs: 60_000, limit: 128, maxInFlightPerWebhook: 10 });

function delivered(delivery: ClaimedDelivery): AttemptResult {
  return {
    deliveryId: delivery.id, seq: delivery.seq, leaseToken: delivery.leaseToken, webhookId: delivery.webhookId, event: delivery.event,
    status: 'delivered', nextAttemptAt: null, resumeAt: null, deactivateWebhook: null,
    attempt: {
      attempt: 1, trigger: 'scheduled', startedAt: now, durationMs: 0.5, requestHeaders, statusCode: 200, responseHeaders: { 'content-length': '2' },
      responseBody: Buffer.from('ok'), responseBodyTruncated: false, errorCode: null, errorMessage: null, outcome: 'delivered',
    },
  };
}

const slow: string[] = [];
const timed = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const result = await run();
  const ms = performance.now() - started;
  if (ms > SLOW_MS) slow.push(`${what} ${ms.toFixed(1)} ms`);
  return result;
};

const started = performance.now();
for (let i = 0; i < events; i++) {
  const item: IngestItem = {
    repoId: repo.id, event: 'push', eventId: uuidv7(), createdAt: now + i, idempotencyKey: null, requestHash: null, payload: pushEventBody(i),
    plan: (_repo, hooks) => hooks.map((hook) => ({ id: uuidv7(), webhookId: hook.id, body })),
  };
  const { claimed } = await timed(`event ${i} ingest`, () => store.ingestAndClaim([item], claim(now + i + 1)));
  await timed(`event ${i} record`, () => store.completeAttempts(claimed.map(delivered), now + i + 2, claim(now + i + 2)));
}
const perEventUs = ((performance.now() - started) * 1000) / events;
console.log(JSON.stringify({ events, synchronous, perEventUs: +perEventUs.toFixed(1), slowCommits: slow.length, logBytes: statSync(`${file}-wal`).size }));
console.log(slow.slice(0, 20).join('\n'));
await store.close();
rmSync(dir, { recursive: true, force: true });
