import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService } from '../support/service.js';

test('shutdown cancels deliveries of a deleted webhook', async () => {
  const receiver = await Receiver.start();
  const openResponses: ServerResponse[] = [];
  receiver.respondWith((_req, res) => {
    openResponses.push(res);
  });
  const svc = await startTestService({ keepData: true, overrides: { shutdownGraceMs: 200 } });
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
    for (const res of openResponses) res.end();
    await receiver.close();
    rmSync(svc.dataDir, { recursive: true, force: true });
  }
});
