// Lock order of the PostgreSQL statements that change webhook rows. Attempt
// records update webhook rows in id order. A cancellation that updated them in
// another order deadlocked with them, and PostgreSQL broke the cycle only after
// deadlock_timeout. This test holds one webhook row the way a running attempt
// record does, and checks that a repository deletion waits for it and goes on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/store.js';
import type { IngestItem, RepositoryRecord, WebhookRecord } from '../../src/store/types.js';
import { attemptResult, dropSchema, TEST_DATABASE_URL, uniqueSchema } from './backends.js';

const schema = uniqueSchema('lockorder');
let store: PostgresStore;
let client: pg.Client;

before(async () => {
  store = new PostgresStore(TEST_DATABASE_URL, { schema });
  await store.migrate();
  client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
});

after(async () => {
  await client.end();
  await store.close();
  await dropSchema(schema);
});

function pushItem(repoId: number): IngestItem {
  return {
    repoId, event: 'push', eventId: randomUUID(), createdAt: 2_000, idempotencyKey: null, requestHash: null, payload: '{}',
    plan: (_repo, hooks) => hooks.map((hook) => ({ id: randomUUID(), webhookId: hook.id, body: Buffer.from('{}') })),
  };
}

test('cancellation takes webhook rows in id order', async () => {
  const repo = (await store.createRepository({ owner: 'o', name: 'r', private: false, description: null, defaultBranch: 'main' }, 1_000)) as RepositoryRecord;
  const hook = (url: string) => store.createWebhook({ scope: { kind: 'repo', repoId: repo.id }, url, events: ['*'], filters: null, active: true, secret: 'x'.repeat(20), insecureSsl: false }, 1_000, 100) as Promise<WebhookRecord>;
  const first = await hook('http://127.0.0.1:9/first');
  const second = await hook('http://127.0.0.1:9/second');
  await store.ingest([pushItem(repo.id)]);
  await store.ingest([pushItem(repo.id)]);
  const claimed = (await store.claimDue({ workerId: 'w', now: 3_000, leaseMs: 60_000, limit: 10, maxInFlightPerWebhook: 10 })).sort((a, b) => a.seq - b.seq);
  assert.deepEqual(claimed.map((d) => d.webhookId), [first.id, second.id, first.id, second.id]);
  // The second webhook's last delivery comes before the first one's in seq order, the order the cancellation visits.
  await store.completeAttempts(claimed.slice(0, 2).map((d) => attemptResult(d, 'retrying', { nextAttemptAt: 90_000 })), 3_100);
  await store.completeAttempts([attemptResult(claimed[2], 'retrying', { nextAttemptAt: 90_000 })], 3_200);

  const timeout = (await client.query<{ ms: string }>("SELECT setting AS ms FROM pg_settings WHERE name = 'deadlock_timeout'")).rows[0];
  await client.query('BEGIN');
  await client.query(`UPDATE ${schema}.webhooks SET last_status_code = last_status_code WHERE id = $1`, [first.id]);
  const started = performance.now();
  const deletion = store.deleteRepository(repo.id, 4_000).then((deleted) => ({ deleted, ms: performance.now() - started }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  // The attempt record goes on to the second webhook, as complete_attempts does after the first.
  await client.query(`UPDATE ${schema}.webhooks SET last_status_code = last_status_code WHERE id = $1`, [second.id]);
  await client.query('COMMIT');
  const { deleted, ms } = await deletion;
  assert.equal(deleted, true);
  assert.ok(ms < Number(timeout.ms), `the deletion took ${Math.round(ms)} ms; a deadlock is broken only after deadlock_timeout (${timeout.ms} ms)`);
  const statuses = await client.query(`SELECT last_delivery_status AS s FROM ${schema}.webhooks ORDER BY id`);
  assert.deepEqual(statuses.rows.map((row) => row.s), ['cancelled', 'cancelled']);
});
