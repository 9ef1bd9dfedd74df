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

/** Inserts repository 1 with webhook 1, in the columns every schema version has. */
function insertRepositoryAndWebhook(db: Database.Database): void {
  db.prepare(
    `INSERT INTO repositories (id, owner, name, private, description, default_branch, archived, created_at, updated_at)
     VALUES (1, 'user', 'project', 0, NULL, 'main', 0, 1, 1)`,
  ).run();
  db.prepare(
    `INSERT INTO webhooks (id, repo_id, owner, url, events, active, secret, insecure_ssl, created_at, updated_at)
     VALUES (1, 1, 'user', 'http://127.0.0.1:9/hook', '["*"]', 1, 'secret-secret-secret', 0, 1, 1)`,
  ).run();
}

test('upgrade keeps stored bodies byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-sqlite-migrations-'));
  const file = join(dir, 'dits-webhooks.db');
  try {
    const old = databaseAt(file, 2);
    insertRepositoryAndWebhook(old);
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

test('an upgrade that rewrites the attempts table gives the old pages back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-sqlite-migrations-'));
  const file = join(dir, 'dits-webhooks.db');
  const fill = (db: Database.Database) => {
    insertRepositoryAndWebhook(db);
    const delivery = db.prepare(
      `INSERT INTO deliveries (seq, id, webhook_id, event, status, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, 1, 'push', 'delivered', NULL, 1, 1)`,
    );
    const body = db.prepare('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)');
    const attempt = db.prepare(
      `INSERT INTO attempts (delivery_seq, attempt, trigger, started_at, duration_ms, request_headers, status_code, response_headers,
         response_body, response_body_truncated, error_code, error_message, outcome)
       VALUES (?, 1, 'scheduled', 5, 1.5, ?, 200, '{}', NULL, 0, NULL, NULL, 'delivered')`,
    );
    db.transaction(() => {
      for (let seq = 1; seq <= 2000; seq++) {
        delivery.run(seq, `delivery-${seq}`);
        body.run(seq, Buffer.from('{}'));
        attempt.run(seq, JSON.stringify({ 'x-dits-delivery': `delivery-${seq}`, padding: 'p'.repeat(700) }));
      }
    })();
  };
  try {
    // The rewrite alone leaves the old table's pages free inside the file.
    const plain = new Database(join(dir, 'plain.db'));
    for (const migration of SQLITE_MIGRATIONS.filter((m) => m.version <= 4)) plain.exec(migration.sql);
    fill(plain);
    plain.exec(SQLITE_MIGRATIONS.find((m) => m.version === 5)!.sql);
    assert.ok(Number(plain.pragma('freelist_count', { simple: true })) > 100, 'migration 5 alone frees the pages of the old attempts table');
    plain.close();

    const old = databaseAt(file, 4);
    fill(old);
    old.close();
    const problems: string[] = [];
    const store = new SqliteStore(file, { onError: (message) => problems.push(message) });
    try {
      assert.equal(Number(store.db.pragma('freelist_count', { simple: true })), 0);
      assert.deepEqual(problems, []);
      const detail = await store.getDelivery(1, 'delivery-2000');
      assert.equal(detail?.attemptsLog[0].requestHeaders['x-dits-delivery'], 'delivery-2000');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
