import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
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
