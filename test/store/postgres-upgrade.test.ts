// A PostgreSQL schema written by an earlier release, at migration 5, opened by
// this one: the store applies migration 6, which replaces complete_attempts,
// and the new rule holds on the data that was already there.
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

test('schema 5 upgrades to 6', async () => {
  const store = new PostgresStore(TEST_DATABASE_URL, { schema });
  try {
    await store.migrate();
    const versions = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(versions.rows.map((row) => row.version), [1, 2, 3, 4, 5, 6]);

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
