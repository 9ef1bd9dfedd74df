/**
 * Development aid: the cost of the SQLite store alone, without HTTP. It
 * replays the worker's pattern on a real database file: ten webhooks with
 * ten requests in flight each, batches of finished attempts recorded with
 * the next claim in the same transaction. `drain` stores the backlog first;
 * `mixed` ingests events between the batches, as end-to-end traffic does.
 * Prints microseconds per delivery.
 *   node --import tsx bench/store-micro.ts [drain|mixed] [deliveries]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { uuidv7 } from '../src/events/ids.js';
import type { AttemptResult, ClaimedDelivery, ClaimOptions, IngestItem } from '../src/store/types.js';
import { pushEventBody } from './setup.js';

const mode = process.argv[2] === 'mixed' ? 'mixed' : 'drain';
const total = Number(process.argv[3] ?? 50_000);
const WEBHOOKS = 10;
const PER_WEBHOOK = 10;
const BATCH = 40;

const dir = mkdtempSync(join(tmpdir(), 'dits-store-micro-'));
const store = new SqliteStore(join(dir, 'db.sqlite'), { synchronous: 'normal' });
const now = Date.now();
const repo = await store.createRepository({ owner: 'o', name: 'r', private: false, description: null, defaultBranch: 'main' }, now);
if (repo === 'exists') throw new Error('repository o/r already exists in a fresh database');
const repoId = repo.id;
for (let i = 0; i < WEBHOOKS; i++) {
  const hook = { scope: { kind: 'repo' as const, repoId }, url: `http://127.0.0.1:9/${i}`, events: ['push'], filters: null, active: true, secret: 'x'.repeat(32), insecureSsl: false };
  await store.createWebhook(hook, now, 100);
}
const body = Buffer.alloc(1300, 0x61);

let ingested = 0;
let ingestMs = 0;
async function ingestEvents(events: number): Promise<void> {
  const items: IngestItem[] = [];
  for (let i = 0; i < events && ingested < total; i++, ingested += WEBHOOKS) {
    items.push({
      repoId, event: 'push', eventId: uuidv7(now), createdAt: now, idempotencyKey: null, requestHash: null, payload: pushEventBody(i),
      plan: (_repo, hooks) => hooks.map((h) => ({ id: uuidv7(now), webhookId: h.id, body })),
    });
  }
  const started = performance.now();
  await store.ingest(items);
  ingestMs += performance.now() - started;
}

const requestHeaders = { 'content-type': 'application/json', 'user-agent': 'Dits-Hookshot/1.0', 'x-dits-event': 'push', 'x-dits-delivery': 'x'.repeat(36), 'x-dits-hook-id': '1', 'x-hub-signature-256': 'sha256=' + 'a'.repeat(64), 'webhook-id': 'x'.repeat(36), 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,' + 'b'.repeat(44) };
function delivered(d: ClaimedDelivery): AttemptResult {
  return {
    deliveryId: d.id, seq: d.seq, leaseToken: d.leaseToken, webhookId: d.webhookId, event: d.event, status: 'delivered', nextAttemptAt: null, resumeAt: null, deactivateWebhook: null,
    attempt: { attempt: 1, trigger: 'scheduled', startedAt: now, durationMs: 0.5, requestHeaders, statusCode: 200, responseHeaders: { 'content-length': '2', date: 'Fri, 04 Dec 2026 22:00:00 GMT' }, responseBody: Buffer.from('ok'), responseBodyTruncated: false, errorCode: null, errorMessage: null, outcome: 'delivered' },
  };
}
const claimOptions = (limit: number): ClaimOptions => ({ workerId: 'w', now: now + 1, leaseMs: 60_000, limit, maxInFlightPerWebhook: PER_WEBHOOK });

if (mode === 'drain') while (ingested < total) await ingestEvents(20);
else await ingestEvents(20);

const started = performance.now();
let inFlight: ClaimedDelivery[] = await store.claimDue(claimOptions(WEBHOOKS * PER_WEBHOOK));
let done = 0;
let completeMs = 0;
while (inFlight.length > 0) {
  if (mode === 'mixed') await ingestEvents(BATCH / WEBHOOKS);
  const finished = inFlight.slice(0, BATCH);
  inFlight = inFlight.slice(BATCH);
  const t = performance.now();
  const claimed = await store.completeAttempts(finished.map(delivered), now + 1, claimOptions(WEBHOOKS * PER_WEBHOOK - inFlight.length));
  completeMs += performance.now() - t;
  done += finished.length;
  inFlight.push(...claimed);
}
const elapsed = performance.now() - started;
const perDelivery = (ms: number) => +((ms * 1000) / done).toFixed(1);
console.log(JSON.stringify({ mode, deliveries: done, ingestUs: perDelivery(ingestMs), completeAndClaimUs: perDelivery(completeMs), totalUsInLoop: perDelivery(elapsed) }));
await store.close();
rmSync(dir, { recursive: true, force: true });
