import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { AttemptResult, ClaimedDelivery, IngestItem, RepositoryRecord, Store, WebhookRecord } from '../../src/store/types.js';
import type { DeliveryStatus } from '../../src/delivery/states.js';

/** PostgreSQL server of the test machine; DITS_TEST_DATABASE_URL points the tests elsewhere. */
export const TEST_DATABASE_URL = process.env.DITS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Returns a schema name that no other test file uses. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** Drops a schema that a test created, with everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** One store implementation under test; `open` returns an empty store and `openSibling` a second handle on the same data. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  open(): Promise<Store>;
  openSibling(): Promise<Store>;
  dispose(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'dits-store-conformance-'));
  let file = '';
  let count = 0;
  return {
    name: 'sqlite',
    async open() {
      file = join(dir, `store-${++count}.db`);
      return new SqliteStore(file, { synchronous: 'normal' });
    },
    async openSibling() {
      return new SqliteStore(file, { synchronous: 'normal' });
    },
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a PostgreSQL backend on one fresh schema for the whole file; `open` empties its tables. */
export function postgresBackend(): Backend {
  const schema = uniqueSchema('conformance');
  return {
    name: 'postgres',
    async open() {
      const store = new PostgresStore(TEST_DATABASE_URL, { schema, poolSize: 4 });
      await store.migrate();
      const { rows } = await store.pool.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'",
        [schema],
      );
      await store.pool.query(`TRUNCATE ${rows.map((r: { tablename: string }) => r.tablename).join(', ')} RESTART IDENTITY`);
      return store;
    },
    async openSibling() {
      return new PostgresStore(TEST_DATABASE_URL, { schema, poolSize: 4 });
    },
    async dispose() {
      await dropSchema(schema);
    },
  };
}

export async function makeRepo(store: Store, owner = 'user', name = `project-${randomUUID().slice(0, 8)}`, now = 1_000): Promise<RepositoryRecord> {
  const repo = await store.createRepository({ owner, name, private: false, description: null, defaultBranch: 'main' }, now);
  if (repo === 'exists') throw new Error(`repository ${owner}/${name} exists`);
  return repo;
}

export async function makeHook(
  store: Store,
  scope: WebhookRecord['scope'],
  options: { active?: boolean; url?: string; now?: number } = {},
): Promise<WebhookRecord> {
  const hook = await store.createWebhook(
    {
      scope,
      url: options.url ?? 'http://127.0.0.1:9/hook',
      events: ['*'],
      filters: null,
      active: options.active ?? true,
      secret: 'a-secret-of-enough-length',
      insecureSsl: false,
    },
    options.now ?? 1_000,
    20,
  );
  if (hook === 'limit') throw new Error('webhook limit reached');
  return hook;
}

/** Builds an ingest item whose plan creates one delivery per webhook handed in, with a body naming the delivery. */
export function ingestItem(repoId: number, options: { key?: string; hash?: string; createdAt?: number; event?: string } = {}): IngestItem {
  const eventId = randomUUID();
  const createdAt = options.createdAt ?? 2_000;
  const event = options.event ?? 'push';
  return {
    repoId,
    event,
    eventId,
    createdAt,
    idempotencyKey: options.key ?? null,
    requestHash: options.key === undefined ? null : options.hash ?? 'hash-1',
    payload: JSON.stringify({ sender: { login: 'octocat' }, ref: 'refs/heads/main' }),
    plan: (_repo, hooks) =>
      hooks.map((hook) => {
        const id = randomUUID();
        return { id, webhookId: hook.id, body: Buffer.from(JSON.stringify({ event, delivery_id: id, event_id: eventId })) };
      }),
  };
}

/** Builds the result of an attempt on a claimed delivery, as the worker writes it back. */
export function attemptResult(
  claimed: ClaimedDelivery,
  status: DeliveryStatus,
  options: { startedAt?: number; statusCode?: number | null; nextAttemptAt?: number | null; leaseToken?: string; deactivate?: string } = {},
): AttemptResult {
  const defaultCode = status === 'delivered' ? 200 : 500;
  const statusCode = options.statusCode === undefined ? defaultCode : options.statusCode;
  return {
    deliveryId: claimed.id,
    seq: claimed.seq,
    leaseToken: options.leaseToken ?? claimed.leaseToken,
    webhookId: claimed.webhookId,
    event: claimed.event,
    status,
    nextAttemptAt: status === 'retrying' ? options.nextAttemptAt ?? 100_000 : null,
    resumeAt: null,
    deactivateWebhook: options.deactivate ?? null,
    attempt: {
      attempt: claimed.attempts + 1,
      trigger: claimed.manual ? 'manual' : 'scheduled',
      startedAt: options.startedAt ?? 3_000,
      durationMs: 12.5,
      requestHeaders: { 'x-dits-delivery': claimed.id, 'content-type': 'application/json' },
      statusCode,
      responseHeaders: statusCode === null ? null : { 'content-type': 'text/plain' },
      responseBody: statusCode === null ? null : Buffer.from([0, 1, 2, 255]),
      responseBodyTruncated: status === 'delivered',
      errorCode: statusCode === null ? 'timeout' : null,
      errorMessage: statusCode === null ? 'no response within 10 s' : null,
      outcome: status,
    },
  };
}
