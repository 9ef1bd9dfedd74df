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
    old.prepare(
      `INSERT INTO attempts (delivery_seq, attempt, trigger, started_at, duration_ms, request_headers, status_code, response_headers,
         response_body, response_body_truncated, error_code, error_message, outcome)
       VALUES (1, 1, 'scheduled', 5, 1.5, '{"x-dits-delivery":"delivery-0"}', 500, '{"retry-after":"3"}', ?, 1, NULL, NULL, 'retrying')`,
    ).run(Buffer.from([0x00, 0xfe, 0x41]));
    old.prepare("UPDATE deliveries SET attempts = 1 WHERE id = 'delivery-0'").run();
    old.close();

    const store = new SqliteStore(file);
    try {
      assert.equal(Number(store.db.pragma('user_version', { simple: true })), SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1].version);
      for (const [i, body] of bodies.entries()) {
        const detail = await store.getDelivery(1, `delivery-${i}`);
        assert.ok(detail, `delivery-${i} is missing after the upgrade`);
        assert.deepEqual(detail.body, body);
      }
      const [attempt] = (await store.getDelivery(1, 'delivery-0'))!.attemptsLog;
      assert.equal(attempt.attempt, 1);
      assert.equal(attempt.trigger, 'scheduled');
      assert.equal(attempt.statusCode, 500);
      assert.deepEqual(attempt.requestHeaders, { 'x-dits-delivery': 'delivery-0' });
      assert.deepEqual(attempt.responseHeaders, { 'retry-after': '3' });
      assert.deepEqual(attempt.responseBody, Buffer.from([0x00, 0xfe, 0x41]), 'attempt bodies keep their bytes too');
      assert.equal(attempt.responseBodyTruncated, true);
      const claimed = await store.claimDue({ workerId: 'w', now: 10, leaseMs: 60_000, limit: 10, maxInFlightPerWebhook: 10 });
      assert.deepEqual(claimed.map((d) => d.body), bodies);
      assert.equal(claimed[0].scheduledAttempts, 1, 'the attempt moved with its delivery');
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
