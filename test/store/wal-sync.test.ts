import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WalSync } from '../../src/store/sqlite/wal-sync.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { ingestItem, makeHook, makeRepo } from './backends.js';

function walDatabase(): { db: Database.Database; file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dits-wal-sync-'));
  const file = join(dir, 'db.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (v INTEGER)');
  return { db, file, dir };
}

test('callers during a running sync share the next one', async () => {
  const { db, file, dir } = walDatabase();
  const sync = new WalSync(`${file}-wal`);
  try {
    db.prepare('INSERT INTO t VALUES (1)').run();
    const first = sync.sync();
    db.prepare('INSERT INTO t VALUES (2)').run();
    const waiting = [sync.sync(), sync.sync(), sync.sync()];
    assert.equal(waiting[0], waiting[1], 'one promise for every caller that arrived during the first sync');
    await Promise.all([first, ...waiting]);
    assert.equal(sync.flushes, 2, 'the first sync, then one more for the commits that came after it started');
    await sync.sync();
    assert.equal(sync.flushes, 3);
  } finally {
    sync.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed sync is reported and the next call tries again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-wal-sync-'));
  const sync = new WalSync(join(dir, 'missing-wal'));
  try {
    await assert.rejects(sync.sync(), /ENOENT/);
    await assert.rejects(sync.sync(), /ENOENT/);
  } finally {
    sync.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ingestion syncs at full, not at normal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-wal-sync-'));
  const full = new SqliteStore(join(dir, 'full.db'), { synchronous: 'full' });
  const normal = new SqliteStore(join(dir, 'normal.db'), { synchronous: 'normal' });
  try {
    for (const store of [full, normal]) {
      const repo = await makeRepo(store);
      await makeHook(store, { kind: 'repo', repoId: repo.id });
      const [result] = await store.ingest([ingestItem(repo.id)]);
      assert.equal(result.ok, true);
    }
    assert.equal(full.ingestSyncs, 1);
    assert.equal(normal.ingestSyncs, 0);
    const repo = await makeRepo(full, 'user', 'replayed');
    await full.ingest([ingestItem(repo.id, { key: 'k1', hash: 'h1' })]);
    const syncs = full.ingestSyncs;
    const [again] = await full.ingest([ingestItem(repo.id, { key: 'k1', hash: 'h1' })]);
    assert.equal(again.ok && again.replayed, true);
    assert.equal(full.ingestSyncs, syncs, 'a replayed idempotency key stores nothing and needs no sync');
  } finally {
    await full.close();
    await normal.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
