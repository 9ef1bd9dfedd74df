// Repository deletion on PostgreSQL against the transactions that run beside
// it. Each test holds, in a client of its own, the locks that an attempt
// record or an ingestion batch holds while it runs, and checks what the
// deletion does once they commit.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { lockRepos } from '../../src/store/postgres/ingest.js';
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
  // The ingestion lock's key names the current schema.
  await client.query(`SET search_path TO ${schema}`);
});

// A test that failed inside its transaction leaves it open; the next test starts clean.
afterEach(async () => {
  await client.query('ROLLBACK');
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

let repoCount = 0;

/** Creates a repository with `hooks` webhooks subscribed to every event. */
async function repoWithHooks(hooks: number): Promise<{ repo: RepositoryRecord; webhooks: WebhookRecord[] }> {
  const repo = (await store.createRepository({ owner: 'o', name: `r${++repoCount}`, private: false, description: null, defaultBranch: 'main' }, 1_000)) as RepositoryRecord;
  const webhooks: WebhookRecord[] = [];
  for (let i = 0; i < hooks; i++) {
    const scope = { kind: 'repo' as const, repoId: repo.id };
    webhooks.push((await store.createWebhook({ scope, url: `http://127.0.0.1:9/${i}`, events: ['*'], filters: null, active: true, secret: 'x'.repeat(20), insecureSsl: false }, 1_000, 100)) as WebhookRecord);
  }
  return { repo, webhooks };
}

/** Resolves once another session waits for a lock that the test's client holds: the deletion the caller started. */
async function waitingForLock(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const waiting = await client.query('SELECT 1 FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))');
    if (waiting.rowCount! > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the deletion never waited for a lock');
}

test('deletion waits for an ingestion batch', async () => {
  const { repo, webhooks: [hook] } = await repoWithHooks(1);
  // An ingestion batch holds the repository's advisory lock until it commits its deliveries.
  await client.query('BEGIN');
  await client.query(lockRepos([[repo.id]]));
  const deletion = store.deleteRepository(repo.id, 4_000);
  await waitingForLock();
  const id = randomUUID();
  await client.query(
    `INSERT INTO ${schema}.deliveries (id, webhook_id, event, status, body, next_attempt_at, created_at, updated_at) VALUES ($1, $2, 'push', 'pending', '\\x7b7d', 3000, 3000, 3000)`,
    [id, hook.id],
  );
  await client.query('COMMIT');
  assert.equal(await deletion, true);
  assert.equal((await store.getDelivery(hook.id, id))?.status, 'cancelled', 'the batch committed first, so its delivery was cancelled');
});

test('deletion waits for an attempt record', async () => {
  const { repo, webhooks: [hook] } = await repoWithHooks(1);
  await store.ingest([pushItem(repo.id)]);
  const [leased] = await store.claimDue({ workerId: 'w', now: 3_000, leaseMs: 60_000, limit: 10, maxInFlightPerWebhook: 10 });
  assert.equal(leased.webhookId, hook.id);
  // An attempt record locks the webhook first, then ends the lease with a retry.
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM ${schema}.webhooks WHERE id = $1 FOR KEY SHARE`, [hook.id]);
  const deletion = store.deleteRepository(repo.id, 4_000);
  await waitingForLock();
  await client.query(
    `UPDATE ${schema}.deliveries SET status = 'retrying', attempts = 1, next_attempt_at = 90000, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = $1`,
    [leased.id],
  );
  await client.query('COMMIT');
  assert.equal(await deletion, true);
  assert.equal((await store.getDelivery(hook.id, leased.id))?.status, 'cancelled', 'the retry recorded first was cancelled');
});

test('cancellation takes webhook rows in id order', async () => {
  const { repo, webhooks: [first, second] } = await repoWithHooks(2);
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
  const statuses = await client.query(`SELECT last_delivery_status AS s FROM ${schema}.webhooks WHERE id = ANY ($1) ORDER BY id`, [[first.id, second.id]]);
  assert.deepEqual(statuses.rows.map((row) => row.s), ['cancelled', 'cancelled']);
});
