import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../store/backends.js';

const schema = uniqueSchema('api');
let svc: TestService;
let receiver: Receiver;

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService({
    overrides: { databaseUrl: TEST_DATABASE_URL, databaseSchema: schema, pollIntervalMs: 200 },
  });
});

after(async () => {
  await svc?.stop();
  await receiver?.close();
  await dropSchema(schema);
});

function signature(body: Buffer): string {
  return 'sha256=' + createHmac('sha256', 'your_webhook_secret').update(body).digest('hex');
}

test('service runs on the postgres store', async () => {
  assert.equal(svc.store.kind, 'postgres');
  const ready = await svc.api('GET', '/readyz');
  assert.equal(ready.status, 200);
});

test('event is delivered end to end', async () => {
  const { repoId, hookId, base } = await createHook(svc, receiver.url, { events: ['push'] });
  const before = receiver.requests.length;
  const ingested = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('Cut the trailer'), { headers: { 'idempotency-key': 'push-1' } });
  assert.equal(ingested.status, 202);
  assert.equal(ingested.json.deliveries, 1);
  assert.equal(svc.store.kind, 'postgres');
  await receiver.waitFor(before + 1);

  const request = receiver.requests[before];
  const body = JSON.parse(request.body.toString('utf8'));
  assert.equal(request.headers['x-dits-event'], 'push');
  assert.equal(request.headers['x-dits-hook-id'], String(hookId));
  assert.equal(request.headers['x-hub-signature-256'], signature(request.body));
  assert.equal(body.delivery_id, request.headers['x-dits-delivery']);
  assert.equal(body.repository.id, repoId);
  assert.equal(body.commits[0].message, 'Cut the trailer');

  const replayed = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('Cut the trailer'), { headers: { 'idempotency-key': 'push-1' } });
  assert.equal(replayed.status, 202);
  assert.equal(replayed.json.id, ingested.json.id);
  assert.equal(replayed.headers['idempotent-replayed'], 'true');

  const deliveryId = String(request.headers['x-dits-delivery']);
  const detail = await waitUntil(async () => {
    const res = await svc.api('GET', `${base}/deliveries/${deliveryId}`);
    return res.json?.status === 'delivered' ? res : null;
  }, 10_000, 'the delivery to be recorded as delivered');
  assert.ok(detail);
  assert.equal(detail.json.attempts.length, 1);
  assert.equal(detail.json.attempts[0].status_code, 200);

  const redeliver = await svc.api('POST', `${base}/deliveries/${deliveryId}/redeliver`);
  assert.equal(redeliver.status, 202, redeliver.text);
  await receiver.waitFor(before + 2);
  const again = receiver.requests[before + 1];
  assert.equal(again.headers['x-dits-delivery'], deliveryId);
  assert.ok(again.body.equals(request.body), 'a redelivery sends the identical bytes');
  assert.equal(receiver.requests.length, before + 2, 'the replayed ingestion created no delivery');

  const list = await svc.api('GET', `${base}/deliveries?status=delivered`);
  assert.equal(list.status, 200);
  assert.equal(list.json.data.length, 1);
});

test('ping reaches the receiver', async () => {
  const { base } = await createHook(svc, receiver.url);
  const before = receiver.requests.length;
  const ping = await svc.api('POST', `${base}/pings`);
  assert.equal(ping.status, 202, ping.text);
  await receiver.waitFor(before + 1);
  assert.equal(receiver.requests[before].headers['x-dits-event'], 'ping');
});

test('connection lost during ingestion is 503', async () => {
  const { repoId, base } = await createHook(svc, receiver.url, { events: ['push'] });
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    // The lock holds the ingestion inside its transaction, so that its connection can be ended at that point.
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${schema}.events IN ACCESS EXCLUSIVE MODE`);
    const pending = svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('Lost connection'), { headers: { 'idempotency-key': 'lost-1' } });
    const waiting = await waitUntil(async () => {
      const { rows } = await admin.query('SELECT pid FROM pg_locks WHERE NOT granted AND relation = $1::regclass', [`${schema}.events`]);
      return rows[0]?.pid ?? null;
    }, 5000, 'the ingestion to wait for the lock');
    await admin.query('SELECT pg_terminate_backend($1)', [waiting]);
    const lost = await pending;
    await admin.query('ROLLBACK');
    assert.equal(lost.status, 503, lost.text);
    assert.equal(lost.json.error.code, 'store_unavailable');
    assert.equal(lost.headers['retry-after'], '1');
    assert.match(lost.json.error.message, /connection to the database failed during the request, so it may not have been stored\. Retry it/);

    const retried = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('Lost connection'), { headers: { 'idempotency-key': 'lost-1' } });
    assert.equal(retried.status, 202, retried.text);
    const delivered = await waitUntil(async () => {
      const list = await svc.api('GET', `${base}/deliveries`);
      return list.json.data.length === 1 && list.json.data[0].status === 'delivered' ? list.json.data : null;
    }, 10_000, 'the retried event to be delivered');
    assert.equal(delivered.length, 1, 'the event was stored once');
  } finally {
    await admin.end();
  }
});
