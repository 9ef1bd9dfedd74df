import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';

test('ingested delivery needs no claim of its own', async () => {
  const receiver = await Receiver.start();
  // The default durability, so the claim rides along with the WAL sync as in production.
  const svc = await startTestService({ overrides: { sqliteSynchronous: 'full', pollIntervalMs: 60_000 } });
  try {
    // The helper creates the webhook inactive and then activates it, so no ping is on its way.
    const { repoId } = await createHook(svc, receiver.url);
    let claims = 0;
    const claimDue = svc.store.claimDue.bind(svc.store);
    svc.store.claimDue = (options) => {
      claims++;
      return claimDue(options);
    };
    const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('claimed by ingestion'));
    assert.equal(res.status, 202, res.text);
    await receiver.waitFor(1);
    assert.equal(claims, 0, 'the delivery went out without a claimDue call');
  } finally {
    await svc.stop();
    await receiver.close();
  }
});

test('small worker limit sends every event', async () => {
  const receiver = await Receiver.start();
  receiver.respondWith(async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    res.end('ok');
  });
  // A worker wake-up lost while ingestion keeps room reserved would show as a wait for the 60 s poll.
  const svc = await startTestService({ overrides: { maxInFlight: 2, pollIntervalMs: 60_000 } });
  try {
    const { repoId } = await createHook(svc, receiver.url);
    const sent = await Promise.all(Array.from({ length: 30 }, (_, i) => svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(`event ${i}`))));
    assert.deepEqual([...new Set(sent.map((res) => res.status))], [202]);
    await waitUntil(() => receiver.requests.filter((r) => r.headers['x-dits-event'] === 'push').length === 30, 10_000, 'all 30 pushes');
    assert.ok(receiver.maxInFlight <= 2, `at most 2 requests in flight, saw ${receiver.maxInFlight}`);
  } finally {
    await svc.stop();
    await receiver.close();
  }
});

test('ingestion records finished attempts', async () => {
  const receiver = await Receiver.start();
  // Finished attempts wait a minute for an ingestion, so only the second event's ingestion can record the first attempt.
  const svc = await startTestService({ rideWaitMs: 60_000, overrides: { sqliteSynchronous: 'full', pollIntervalMs: 60_000 } });
  try {
    const { repoId, base } = await createHook(svc, receiver.url);
    let completes = 0;
    const completeAttempts = svc.store.completeAttempts.bind(svc.store);
    svc.store.completeAttempts = (...args) => {
      completes++;
      return completeAttempts(...args);
    };
    assert.equal((await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('first'))).status, 202);
    await receiver.waitFor(1);
    // The metric counts an attempt once the worker has its result, before the result is recorded.
    await waitUntil(async () => /dits_webhook_deliveries_total\{status="delivered",event="push"\} 1/.test((await svc.api('GET', '/metrics', undefined, { token: '' })).text), 5000, 'the first attempt finished');
    const [first] = (await svc.api('GET', `${base}/deliveries`)).json.data;
    assert.equal(first.status, 'pending', 'the attempt waits for an ingestion');

    assert.equal((await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('second'))).status, 202);
    const recorded = await svc.api('GET', `${base}/deliveries/${first.id}`);
    assert.equal(recorded.json.status, 'delivered', 'the second ingestion recorded the first attempt');
    assert.equal(recorded.json.attempts.length, 1);
    assert.equal(completes, 0, 'no transaction of the worker recorded it');
    await receiver.waitFor(2);
  } finally {
    await svc.stop();
    await receiver.close();
  }
});

test('webhook at its limit records at once', async () => {
  const receiver = await Receiver.start();
  // Finished attempts would wait a minute for an ingestion, but a webhook at its limit of one must not wait for its next delivery.
  const svc = await startTestService({ rideWaitMs: 60_000, overrides: { maxInFlightPerWebhook: 1, pollIntervalMs: 60_000 } });
  try {
    const { repoId } = await createHook(svc, receiver.url);
    for (let i = 0; i < 3; i++) assert.equal((await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(`serial ${i}`))).status, 202);
    await waitUntil(() => receiver.requests.filter((r) => r.headers['x-dits-event'] === 'push').length === 3, 10_000, 'all three pushes');
  } finally {
    await svc.stop();
    await receiver.close();
  }
});
