import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ingestItem, makeHook, makeRepo, sqliteBackend } from './backends.js';

test('orphaned leases released by owner', async () => {
  const backend = sqliteBackend();
  const store = await backend.open();
  try {
    const repo = await makeRepo(store);
    await makeHook(store, { kind: 'repo', repoId: repo.id });
    await store.ingest([ingestItem(repo.id), ingestItem(repo.id)]);
    const options = { now: 10_000, leaseMs: 60_000, limit: 1, maxInFlightPerWebhook: 10 };
    const [gone] = await store.claimDue({ ...options, workerId: 'worker-gone' });
    const [alive] = await store.claimDue({ ...options, workerId: 'worker-alive' });
    assert.ok(gone, 'the first claim leased a delivery');
    assert.ok(alive, 'the second claim leased the other one');

    const checkedOwners: string[] = [];
    const released = await store.releaseOrphanedLeases!((owner) => {
      checkedOwners.push(owner);
      return owner === 'worker-gone';
    }, 10_100);
    assert.equal(released, 1);
    assert.deepEqual(checkedOwners.sort(), ['worker-alive', 'worker-gone'], 'each owner is checked once');

    const again = await store.claimDue({ ...options, workerId: 'worker-new', limit: 10, now: 10_200 });
    assert.deepEqual(again.map((d) => d.id), [gone.id], 'only the ended worker gave its delivery back');
    assert.equal(await store.releaseOrphanedLeases!(() => false, 10_300), 0, 'nothing is written when every owner lives');
  } finally {
    await store.close();
    await backend.dispose();
  }
});
