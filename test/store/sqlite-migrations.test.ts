import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

/** Creates a database file at schema version `version`, the way an older release left it. */
function databaseAt(file: string, version: number): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  for (const migration of SQLITE_MIGRATIONS.filter((m) => m.version <= version)) db.exec(migration.sql);
  db.pragma(`user_version = ${version}`);
  return db;
}

test('upgrade keeps stored bodies byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-sqlite-migrations-'));
  const file = join(dir, 'dits-webhooks.db');
  try {
    const old = databaseAt(file, 2);
    old.prepare(
      `INSERT INTO repositories (id, owner, name, private, description, default_branch, archived, created_at, updated_at)
       VALUES (1, 'user', 'project', 0, NULL, 'main', 0, 1, 1)`,
    ).run();
    old.prepare(
      `INSERT INTO webhooks (id, repo_id, owner, url, events, active, secret, insecure_ssl, created_at, updated_at)
       VALUES (1, 1, 'user', 'http://127.0.0.1:9/hook', '["*"]', 1, 'secret-secret-secret', 0, 1, 1)`,
    ).run();
    const bodies = [Buffer.from('{"event":"push","n":1}'), Buffer.from([0x7b, 0x00, 0xff, 0x7d])];
    const insert = old.prepare(
      `INSERT INTO deliveries (id, webhook_id, event, status, body, next_attempt_at, created_at, updated_at)
       VALUES (?, 1, 'push', 'pending', ?, 1, 1, 1)`,
    );
    bodies.forEach((body, i) => insert.run(`delivery-${i}`, body));
    old.close();

    const store = new SqliteStore(file);
    try {
      assert.equal(Number(store.db.pragma('user_version', { simple: true })), SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1].version);
      for (const [i, body] of bodies.entries()) {
        const detail = await store.getDelivery(1, `delivery-${i}`);
        assert.ok(detail, `delivery-${i} is missing after the upgrade`);
        assert.deepEqual(detail.body, body);
      }
      const claimed = await store.claimDue({ workerId: 'w', now: 10, leaseMs: 60_000, limit: 10, maxInFlightPerWebhook: 10 });
      assert.deepEqual(claimed.map((d) => d.body), bodies);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('newer schema version is rejected', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-sqlite-migrations-'));
  const file = join(dir, 'dits-webhooks.db');
  try {
    const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1].version;
    const newer = databaseAt(file, latest);
    newer.pragma(`user_version = ${latest + 1}`);
    newer.close();
    assert.throws(() => new SqliteStore(file), new RegExp(`has schema version ${latest + 1}, newer than the ${latest} this release knows`));
    const check = new Database(file);
    assert.equal(Number(check.pragma('user_version', { simple: true })), latest + 1, 'the database is left as it was');
    check.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
