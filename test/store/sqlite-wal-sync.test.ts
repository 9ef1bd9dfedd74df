import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalSync, type Datasync } from '../../src/store/sqlite/wal-sync.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { ingestItem, makeHook, makeRepo } from './backends.js';

/** Returns a datasync that finishes only when the test calls finish, and counts its calls. */
function controlledDatasync(): { datasync: Datasync; calls: number; finish: (err?: NodeJS.ErrnoException) => void } {
  const pending: ((err: NodeJS.ErrnoException | null) => void)[] = [];
  const state = {
    calls: 0,
    datasync: ((_fd, done) => {
      state.calls++;
      pending.push(done);
    }) as Datasync,
    finish: (err?: NodeJS.ErrnoException) => pending.shift()?.(err ?? null),
  };
  return state;
}

function withLogFile(run: (file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dits-wal-sync-'));
  const file = join(dir, 'db.sqlite-wal');
  writeFileSync(file, 'log');
  return run(file).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('syncs during a sync share the next', () =>
  withLogFile(async (file) => {
    const datasync = controlledDatasync();
    const sync = new WalSync(file, datasync.datasync);
    const first = sync.sync();
    const second = sync.sync();
    const third = sync.sync();
    assert.equal(second, third, 'calls during a running sync wait for the same next one');
    assert.equal(datasync.calls, 1, 'the next sync starts only after the running one');
    let secondDone = false;
    void second.then(() => (secondDone = true));
    datasync.finish();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(datasync.calls, 2, 'the waiting calls started a sync of their own');
    assert.equal(secondDone, false, 'a call made during the first sync is not covered by it');
    datasync.finish();
    await second;
    await sync.close();
  }));

test('failed sync rejects its callers only', () =>
  withLogFile(async (file) => {
    const datasync = controlledDatasync();
    const sync = new WalSync(file, datasync.datasync);
    const failing = sync.sync();
    datasync.finish(Object.assign(new Error('I/O error'), { code: 'EIO' }));
    await assert.rejects(failing, /I\/O error/);
    const next = sync.sync();
    datasync.finish();
    await next;
    assert.equal(datasync.calls, 2);
    await sync.close();
  }));

test('FULL store ingests through the log sync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-wal-sync-store-'));
  const file = join(dir, 'db.sqlite');
  const store = new SqliteStore(file, { synchronous: 'full' });
  try {
    const repo = await makeRepo(store);
    await makeHook(store, { kind: 'repo', repoId: repo.id });
    const results = await Promise.all([store.ingest([ingestItem(repo.id)]), store.ingest([ingestItem(repo.id), ingestItem(repo.id)])]);
    assert.deepEqual(results.flat().map((result) => result.ok), [true, true, true]);
    const sibling = new SqliteStore(file, { synchronous: 'full' });
    try {
      assert.equal((await sibling.listEvents({ repoId: repo.id, limit: 10 })).items.length, 3, 'another connection reads the events');
      assert.equal(await sibling.queueSize(), 3);
    } finally {
      await sibling.close();
    }
    assert.equal(Number(store.db.pragma('synchronous', { simple: true })), 2, 'the connection is back at FULL after the ingest');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
