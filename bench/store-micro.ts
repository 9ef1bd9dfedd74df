/**
 * Development aid: the cost of the SQLite queue alone. Seeds a backlog
 * through the store, then claims and completes it in batches without any
 * HTTP, and prints microseconds per delivery for each step.
 *   node --import tsx bench/store-micro.ts [deliveries]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { uuidv7 as newId } from '../src/events/ids.js';
import type { AttemptResult, IngestItem } from '../src/store/types.js';
import { pushEventBody } from './setup.js';

const total = Number(process.argv[2] ?? 50_000);
const dir = mkdtempSync(join(tmpdir(), 'dits-store-micro-'));
const store = new SqliteStore(join(dir, 'db.sqlite'), { synchronous: 'full' });
const now = Date.now();
const repo = await store.createRepository({ owner: 'o', name: 'r', private: false, description: null, defaultBranch: 'main' }, now);
if (repo === 'exists') throw new Error('repository o/r already exists in a fresh database');
for (let i = 0; i < 10; i++) {
  await store.createWebhook(
    { scope: { kind: 'repo', repoId: repo.id }, url: `http://127.0.0.1:9/${i}`, events: ['push'], filters: null, active: true, secret: 'x'.repeat(32), insecureSsl: false },
    now,
    100,
  );
}
const body = Buffer.from(pushEventBody(1).repeat(1)).subarray(0, Number(process.env.BODY ?? 1300));
let t = performance.now();
for (let made = 0; made < total; ) {
  const items: IngestItem[] = [];
  for (let i = 0; i < 20 && made < total; i++, made += 10) {
    items.push({
      repoId: repo.id, event: 'push', eventId: newId(now), createdAt: now, idempotencyKey: null, requestHash: null, payload: '{}',
      plan: (_r, hooks) => hooks.map((h) => ({ id: newId(now), webhookId: h.id, body })),
    });
  }
  await store.ingest(items);
}
const ingestUs = ((performance.now() - t) * 1000) / total;

let claimMs = 0;
let completeMs = 0;
let done = 0;
const headers = { 'content-type': 'application/json', 'user-agent': 'Dits-Hookshot/1.0', 'x-dits-event': 'push', 'x-dits-delivery': 'x'.repeat(36), 'x-hub-signature-256': 'sha256=' + 'a'.repeat(64), 'webhook-id': 'x'.repeat(36), 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,' + 'b'.repeat(44) };
while (done < total) {
  t = performance.now();
  const claimed = await store.claimDue({ workerId: 'w', now: Date.now(), leaseMs: 60_000, limit: Number(process.env.LIMIT ?? 128), maxInFlightPerWebhook: 1_000_000 });
  claimMs += performance.now() - t;
  if (claimed.length === 0) break;
  const results: AttemptResult[] = claimed.map((d) => ({
    deliveryId: d.id, seq: d.seq, leaseToken: d.leaseToken, webhookId: d.webhookId, event: d.event, status: 'delivered', nextAttemptAt: null, resumeAt: null, deactivateWebhook: null,
    attempt: { attempt: 1, trigger: 'scheduled', startedAt: Date.now(), durationMs: 0.5, requestHeaders: headers, statusCode: 200, responseHeaders: { 'content-length': '2', date: 'x' }, responseBody: Buffer.from('ok'), responseBodyTruncated: false, errorCode: null, errorMessage: null, outcome: 'delivered' },
  }));
  t = performance.now();
  await store.completeAttempts(results, Date.now());
  completeMs += performance.now() - t;
  done += claimed.length;
}
console.log(JSON.stringify({ deliveries: done, ingestUsPerDelivery: +ingestUs.toFixed(1), claimUs: +((claimMs * 1000) / done).toFixed(1), completeUs: +((completeMs * 1000) / done).toFixed(1) }));
await store.close();
rmSync(dir, { recursive: true, force: true });
