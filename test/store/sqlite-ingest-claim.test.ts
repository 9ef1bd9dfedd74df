import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptResult, ingestItem, makeHook, makeRepo, sqliteBackend } from './backends.js';
import type { ClaimedDelivery, ClaimOptions, Store } from '../../src/store/types.js';
import type { SqliteStore } from '../../src/store/sqlite/store.js';

const claim = (overrides: Partial<ClaimOptions> = {}): ClaimOptions => ({
  workerId: 'worker-a',
  now: 10_000,
  leaseMs: 300_000,
  limit: 100,
  maxInFlightPerWebhook: 2,
  ...overrides,
});

/** Returns the event id that a delivery body of the test's ingest items names. */
const eventOf = (delivery: ClaimedDelivery): string => JSON.parse(delivery.body.toString()).event_id;

async function withSqlite(run: (store: SqliteStore & Store) => Promise<void>): Promise<void> {
  const backend = sqliteBackend();
  const store = (await backend.open()) as SqliteStore & Store;
  try {
    await run(store);
  } finally {
    await store.close();
    await backend.dispose();
  }
}

test('ingest claims within the webhook limit', () =>
  withSqlite(async (store) => {
    const repo = await makeRepo(store);
    await makeHook(store, { kind: 'repo', repoId: repo.id });
    const items = [ingestItem(repo.id, { createdAt: 2_000 }), ingestItem(repo.id, { createdAt: 2_001 }), ingestItem(repo.id, { createdAt: 2_002 })];
    const { results, claimed } = await store.ingestAndClaim(items, claim());
    assert.deepEqual(results.map((result) => result.ok && result.deliveries), [1, 1, 1]);
    assert.deepEqual(claimed.map(eventOf), [items[0].eventId, items[1].eventId], 'the two oldest, up to the limit of the webhook');
    assert.deepEqual(await store.claimDue(claim({ now: 10_100 })), [], 'the webhook is at its limit');

    await store.completeAttempts([attemptResult(claimed[0], 'delivered')], 10_200);
    const next = await store.claimDue(claim({ now: 10_300 }));
    assert.deepEqual(next.map(eventOf), [items[2].eventId]);
  }));

test('ingest claims older due deliveries first', () =>
  withSqlite(async (store) => {
    const repo = await makeRepo(store);
    await makeHook(store, { kind: 'repo', repoId: repo.id });
    const older = ingestItem(repo.id, { createdAt: 2_000 });
    await store.ingest([older]);
    const newer = ingestItem(repo.id, { createdAt: 3_000 });
    const { claimed } = await store.ingestAndClaim([newer], claim({ limit: 1 }));
    assert.deepEqual(claimed.map(eventOf), [older.eventId]);
    const rest = await store.claimDue(claim({ now: 10_100 }));
    assert.deepEqual(rest.map(eventOf), [newer.eventId]);
  }));

test('ingest claim is one transaction with the events', () =>
  withSqlite(async (store) => {
    const repo = await makeRepo(store);
    await makeHook(store, { kind: 'repo', repoId: repo.id });
    const failing = { ...ingestItem(repo.id), plan: () => { throw new Error('planning failed'); } };
    await assert.rejects(store.ingestAndClaim([ingestItem(repo.id), failing], claim()), /planning failed/);
    assert.equal(await store.queueSize(), 0, 'nothing of the failed batch was stored');
    assert.deepEqual(await store.claimDue(claim({ now: 10_100 })), []);
  }));

test('ingest records finished attempts', () =>
  withSqlite(async (store) => {
    const repo = await makeRepo(store);
    const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
    const first = ingestItem(repo.id, { createdAt: 2_000 });
    const { claimed: [sent] } = await store.ingestAndClaim([first], claim({ maxInFlightPerWebhook: 1 }));
    const second = ingestItem(repo.id, { createdAt: 3_000 });
    const { claimed } = await store.ingestAndClaim([second], claim({ now: 10_300, maxInFlightPerWebhook: 1 }), {
      results: [attemptResult(sent, 'delivered', { startedAt: 10_100 })],
      now: 10_200,
    });
    const detail = await store.getDelivery(hook.id, sent.id);
    assert.equal(detail?.status, 'delivered');
    assert.equal(detail?.attemptsLog.length, 1);
    assert.deepEqual(claimed.map(eventOf), [second.eventId], 'the recorded attempt freed the slot of the webhook');
  }));

test('failed ingest records no attempts', () =>
  withSqlite(async (store) => {
    const repo = await makeRepo(store);
    const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
    const { claimed: [sent] } = await store.ingestAndClaim([ingestItem(repo.id)], claim());
    const failing = { ...ingestItem(repo.id), plan: () => { throw new Error('planning failed'); } };
    const finished = { results: [attemptResult(sent, 'delivered')], now: 10_200 };
    await assert.rejects(store.ingestAndClaim([failing], claim({ now: 10_300 }), finished), /planning failed/);
    const detail = await store.getDelivery(hook.id, sent.id);
    assert.equal(detail?.status, 'pending');
    assert.equal(detail?.attemptsLog.length, 0);
  }));

test('same result recorded twice once', () =>
  withSqlite(async (store) => {
    const repo = await makeRepo(store);
    const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
    const { claimed: [sent] } = await store.ingestAndClaim([ingestItem(repo.id)], claim());
    const result = attemptResult(sent, 'delivered');
    await store.ingestAndClaim([ingestItem(repo.id)], claim({ now: 10_300 }), { results: [result], now: 10_200 });
    await store.completeAttempts([result], 10_400);
    const detail = await store.getDelivery(hook.id, sent.id);
    assert.equal(detail?.attemptsLog.length, 1, 'a result recorded again, as after a commit whose sync failed, adds no attempt');
    assert.equal(detail?.attempts, 1);
  }));
