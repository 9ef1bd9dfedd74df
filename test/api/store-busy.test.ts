import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pushEvent } from '../support/fixtures.js';
import { startTestService } from '../support/service.js';

test('locked database gives 503 with Retry-After', async () => {
  const svc = await startTestService();
  const other = new Database(join(svc.dataDir, 'dits-webhooks.db'));
  try {
    const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'locked' });
    assert.equal(repo.status, 201, repo.text);
    // Another process holds the write lock for longer than the store waits (5 s).
    other.exec('BEGIN IMMEDIATE');
    const res = await svc.api('POST', `/v1/repos/${repo.json.id}/events`, pushEvent());
    other.exec('ROLLBACK');
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
