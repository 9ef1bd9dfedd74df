import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService } from '../support/service.js';

/**
 * Starts a receiver that keeps every response open and a service with a
 * 200 ms shutdown grace that keeps its data folder. `cleanUp` ends both.
 */
async function holdingSetup(): Promise<{ receiver: Receiver; svc: Awaited<ReturnType<typeof startTestService>>; cleanUp: () => Promise<void> }> {
  const receiver = await Receiver.start();
  const openResponses: ServerResponse[] = [];
  receiver.respondWith((_req, res) => {
    openResponses.push(res);
  });
  const svc = await startTestService({ keepData: true, overrides: { shutdownGraceMs: 200 } });
  const cleanUp = async () => {
    for (const res of openResponses) res.end();
    await receiver.close();
    rmSync(svc.dataDir, { recursive: true, force: true });
  };
  return { receiver, svc, cleanUp };
}

test('shutdown cancels deliveries of a deleted webhook', async () => {
  const { receiver, svc, cleanUp } = await holdingSetup();
  try {
    const { repoId, hookId, base } = await createHook(svc, receiver.url);
    for (const message of ['first', 'second']) {
      const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(message));
      assert.equal(res.status, 202, res.text);
    }
    await receiver.waitFor(2);
    const deleted = await svc.api('DELETE', base);
    assert.equal(deleted.status, 204, deleted.text);
    // The leases of the two requests in flight come back unfinished at the end of the grace period.
    await svc.close();

    const store = new SqliteStore(join(svc.dataDir, 'dits-webhooks.db'));
    try {
      const statuses = (await store.listDeliveries({ webhookId: hookId, limit: 10 })).items.map((d) => d.status);
      assert.ok(statuses.length >= 2, `deliveries: ${statuses.join(', ')}`);
      assert.deepEqual(new Set(statuses), new Set(['cancelled']), `deliveries: ${statuses.join(', ')}`);
      assert.equal(await store.queueSize(), 0);
    } finally {
      await store.close();
    }
  } finally {
    await cleanUp();
  }
});

test('shutdown logs interrupted attempts', async () => {
  const { receiver, svc, cleanUp } = await holdingSetup();
  try {
    const { repoId, hookId } = await createHook(svc, receiver.url);
    const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('held'));
    assert.equal(res.status, 202, res.text);
    await receiver.waitFor(1);
    const started = performance.now();
    await svc.close();
    assert.ok(performance.now() - started < 3000, 'the held request does not keep the service from stopping');

    const store = new SqliteStore(join(svc.dataDir, 'dits-webhooks.db'));
    try {
      const [summary] = (await store.listDeliveries({ webhookId: hookId, limit: 10 })).items.filter((d) => d.event === 'push');
      const delivery = await store.getDelivery(hookId, summary.id);
      assert.equal(delivery?.status, 'pending', 'the delivery is sent again by the next worker');
      assert.equal(delivery?.attempts, 0);
      assert.equal(delivery?.attemptsLog.length, 1, 'the request sent is in the log');
      assert.equal(delivery?.attemptsLog[0].errorCode, 'interrupted');
      assert.equal(delivery?.attemptsLog[0].statusCode, null);
      assert.equal(delivery?.attemptsLog[0].requestHeaders['x-dits-delivery'], summary.id);
      assert.equal(await store.queueSize(), 1);
    } finally {
      await store.close();
    }
  } finally {
    await cleanUp();
  }
});
