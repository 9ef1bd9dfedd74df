import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil } from '../support/service.js';

test('locked database gives 503 with Retry-After', async () => {
  const svc = await startTestService();
  const other = new Database(join(svc.dataDir, 'dits-webhooks.db'));
  try {
    const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'locked' });
    assert.equal(repo.status, 201, repo.text);
    // Another process holds the write lock for longer than the store waits (BUSY_TIMEOUT_MS).
    other.exec('BEGIN IMMEDIATE');
    const res = await svc.api('POST', `/v1/repos/${repo.json.id}/events`, pushEvent());
    const notReady = await svc.api('GET', '/readyz', undefined, { token: '' });
    other.exec('ROLLBACK');
    assert.equal(notReady.status, 503, 'not ready while writes would fail');
    assert.equal(notReady.json.status, 'unavailable');
    assert.equal(notReady.json.reason, 'another process holds the database write lock');
    const ready = await svc.api('GET', '/readyz', undefined, { token: '' });
    assert.equal(ready.status, 200, 'ready again once the lock is gone');
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json.error.code, 'store_busy');
    assert.match(res.json.error.message, /locked by another process/);
    assert.equal(res.headers['retry-after'], '1');
    const retried = await svc.api('POST', `/v1/repos/${repo.json.id}/events`, pushEvent());
    assert.equal(retried.status, 202, retried.text);
  } finally {
    other.close();
    await svc.stop();
  }
});

test('starting on a locked database names the lock', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-webhooks-locked-'));
  const file = join(dir, 'dits-webhooks.db');
  const other = new Database(file);
  try {
    other.pragma('journal_mode = WAL');
    other.exec('CREATE TABLE holder (v INTEGER)');
    other.exec('BEGIN EXCLUSIVE');
    assert.throws(() => new SqliteStore(file), /is locked by another process \(SQLITE_BUSY\); stop the process that keeps a transaction open on it/);
  } finally {
    other.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attempt finished while locked is kept', async () => {
  const svc = await startTestService();
  const receiver = await Receiver.start();
  const other = new Database(join(svc.dataDir, 'dits-webhooks.db'));
  let answer: () => void = () => {};
  receiver.respondWith(async (_req, res) => {
    await new Promise<void>((resolve) => {
      answer = resolve;
    });
    res.end('ok');
  });
  try {
    const { repoId, base } = await createHook(svc, receiver.url);
    assert.equal((await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent())).status, 202);
    await receiver.waitFor(1, 10_000);
    // The response arrives while another process holds the write lock, so the worker cannot record it yet.
    other.exec('BEGIN IMMEDIATE');
    answer();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    other.exec('ROLLBACK');
    const detail = await waitUntil(async () => {
      const list = await svc.api('GET', `${base}/deliveries`);
      const found = await svc.api('GET', `${base}/deliveries/${list.json.data[0].id}`);
      return found.json.status === 'delivered' ? found.json : null;
    }, 10_000, 'the delivery recorded as delivered');
    assert.equal(detail.attempts.length, 1, 'one attempt, recorded once the lock was gone');
    assert.equal(receiver.requests.length, 1, 'the delivery was not sent again');
  } finally {
    other.close();
    await svc.stop();
    await receiver.close();
  }
});

test('token use under a lock tried once a minute', async () => {
  const lines: { msg?: string }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const svc = await startTestService({ logger });
  const other = new Database(join(svc.dataDir, 'dits-webhooks.db'));
  try {
    const readers = [];
    for (let i = 0; i < 3; i++) readers.push((await svc.api('POST', '/v1/tokens', { name: `locked-reader-${i}`, scopes: ['read'] })).json.token as string);
    other.exec('BEGIN IMMEDIATE');
    for (const token of [...readers, ...readers]) {
      const res = await svc.api('GET', '/v1/repos', undefined, { token });
      assert.equal(res.status, 200, 'reads still work while another process holds the lock');
    }
    other.exec('ROLLBACK');
    const failures = lines.filter((line) => line.msg === 'recording the last use of a token failed; the next try is a minute later');
    assert.equal(failures.length, 1, 'one failed write, not one per request or per token');
  } finally {
    other.close();
    await svc.stop();
  }
});

test('full disk gives 507 store_full', async () => {
  const svc = await startTestService();
  try {
    const { repoId } = await createHook(svc, 'http://127.0.0.1:9/unused');
    const store = svc.store as SqliteStore;
    // A page limit at the current size makes SQLite fail every write that needs a new page, as on a full disk.
    const pages = Number(store.db.pragma('page_count', { simple: true }));
    store.db.pragma(`max_page_count = ${pages}`);
    const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('x'.repeat(20_000)));
    assert.equal(res.status, 507, res.text);
    assert.equal(res.json.error.code, 'store_full');
    assert.match(res.json.error.message, /Free disk space/);
    store.db.pragma('max_page_count = 1073741823');
    assert.equal((await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('after room'))).status, 202);
  } finally {
    await svc.stop();
  }
});

test('readiness reports a nearly full disk', async () => {
  // No disk has this much free space, so the check reports the real free space of the data folder as too little.
  const svc = await startTestService({ overrides: { minFreeDiskBytes: Number.MAX_SAFE_INTEGER } });
  try {
    const res = await svc.api('GET', '/readyz', undefined, { token: '' });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json.status, 'unavailable');
    assert.match(res.json.reason, /bytes free, fewer than minFreeDiskBytes/);
  } finally {
    await svc.stop();
  }
});

test('attempt finished on a full disk is kept', async () => {
  const svc = await startTestService();
  const receiver = await Receiver.start();
  let answer: () => void = () => {};
  // A 60 KiB response body needs new pages in the attempt record, so the page limit below makes recording it fail.
  receiver.respondWith(async (_req, res) => {
    await new Promise<void>((resolve) => {
      answer = resolve;
    });
    res.end('r'.repeat(60_000));
  });
  const db = (svc.store as SqliteStore).db;
  try {
    const { repoId, base } = await createHook(svc, receiver.url);
    assert.equal((await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent())).status, 202);
    await receiver.waitFor(1, 10_000);
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
    answer();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const list = await svc.api('GET', `${base}/deliveries`);
    assert.equal(list.json.data[0].status, 'pending', 'the attempt is not recorded while the disk is full');
    db.pragma('max_page_count = 1073741823');
    const detail = await waitUntil(async () => {
      const found = await svc.api('GET', `${base}/deliveries/${list.json.data[0].id}`);
      return found.json.status === 'delivered' ? found.json : null;
    }, 10_000, 'the delivery recorded as delivered');
    assert.equal(detail.attempts.length, 1, 'one attempt, recorded once there was room');
    assert.equal(receiver.requests.length, 1, 'the delivery was not sent again');
  } finally {
    await svc.stop();
    await receiver.close();
  }
});
