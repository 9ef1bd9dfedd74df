// A PostgreSQL schema written by an earlier release, at migration 5, opened by
// this one: the store applies migration 6, which replaces complete_attempts,
// and migration 7, which replaces claim_due_deliveries, and the new rules hold
// on the data that was already there.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import type { RepositoryRecord, WebhookRecord } from '../../src/store/types.js';
import { attemptResult, dropSchema, TEST_DATABASE_URL, uniqueSchema } from './backends.js';

const schema = uniqueSchema('upgrade');
let client: pg.Client;

before(async () => {
  client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  // What migrate() of the release with five migrations left behind.
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(`SET search_path TO ${schema}`);
  await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
  for (const migration of POSTGRES_MIGRATIONS.filter((m) => m.version <= 5)) {
    await client.query(migration.sql);
    await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [migration.version]);
  }
});

after(async () => {
  await client.end();
  await dropSchema(schema);
});

test('schema 5 upgrades to the latest', async () => {
  // A push stored by the earlier release, for a webhook whose repository is deleted below.
  const seeded = await client.query<{ id: string }>(
    `WITH r AS (INSERT INTO repositories (owner, name, default_branch, created_at, updated_at) VALUES ('old', 'repo', 'main', 0, 0) RETURNING id),
          w AS (INSERT INTO webhooks (repo_id, url, events, active, secret, created_at, updated_at)
                SELECT id, 'http://127.0.0.1:9/', '["*"]', true, 'x', 0, 0 FROM r RETURNING id, repo_id)
     INSERT INTO deliveries (id, webhook_id, event, status, body, next_attempt_at, created_at, updated_at)
     SELECT $1, w.id, 'push', 'pending', '\\x7b7d', 0, 0, 0 FROM w RETURNING (SELECT repo_id FROM w)::text AS id`,
    [randomUUID()],
  );
  const store = new PostgresStore(TEST_DATABASE_URL, { schema });
  try {
    await store.migrate();
    const versions = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(versions.rows.map((row) => row.version), POSTGRES_MIGRATIONS.map((migration) => migration.version));
    // The function of migration 7 gives a deleted repository's webhooks only repo.deleted; the one of migration 1 sent the push.
    await client.query('UPDATE repositories SET deleted_at = 1 WHERE id = $1', [Number(seeded.rows[0].id)]);
    assert.deepEqual(await store.claimDue({ workerId: 'w', now: 1_000, leaseMs: 60_000, limit: 10, maxInFlightPerWebhook: 10 }), []);
    await client.query('DELETE FROM deliveries');

    const repo = (await store.createRepository({ owner: 'o', name: 'r', private: false, description: null, defaultBranch: 'main' }, 1_000)) as RepositoryRecord;
    const hook = (await store.createWebhook(
      { scope: { kind: 'repo', repoId: repo.id }, url: 'http://127.0.0.1:9/', events: ['*'], filters: null, active: true, secret: 'x'.repeat(20), insecureSsl: false },
      1_000,
      100,
    )) as WebhookRecord;
    await store.ingest([{
      repoId: repo.id, event: 'repo.deleted', eventId: randomUUID(), createdAt: 2_000, idempotencyKey: null, requestHash: null, payload: '{}',
      plan: (_repo, hooks) => hooks.map((h) => ({ id: randomUUID(), webhookId: h.id, body: Buffer.from('{}') })),
    }]);
    const [leased] = await store.claimDue({ workerId: 'w', now: 3_000, leaseMs: 60_000, limit: 10, maxInFlightPerWebhook: 10 });
    assert.equal(await store.deleteRepository(repo.id, 3_100), true);
    // The function of migration 6 cancels a retry of a deleted repository's webhook; the one of migration 1 kept it.
    await store.completeAttempts([attemptResult(leased, 'retrying', { nextAttemptAt: 90_000 })], 3_200);
    assert.equal((await store.getDelivery(hook.id, leased.id))?.status, 'cancelled');
  } finally {
    await store.close();
  }
});
