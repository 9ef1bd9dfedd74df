import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver } from '../support/receiver.js';
import { startTestService, type TestService } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';

let svc: TestService;
let receiver: Receiver;

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService();
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

test('backtracking branch filter cannot stall ingestion', async () => {
  const { repoId } = await createHook(svc, receiver.url, { events: ['push'], filters: { branches: ['*a'.repeat(60) + '*b'] } });
  const started = performance.now();
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('x', { ref: `refs/heads/${'a'.repeat(200)}` }));
  const ms = performance.now() - started;
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.deliveries, 0, 'the branch does not match the filter');
  // A backtracking matcher needs minutes here; a generous bound still catches that.
  assert.ok(ms < 2000, `ingestion took ${ms.toFixed(0)} ms`);
  const health = await svc.api('GET', '/healthz', undefined, { token: '' });
  assert.equal(health.status, 200);
});

test('backtracking path filter cannot stall ingestion', async () => {
  const { repoId } = await createHook(svc, receiver.url, { events: ['push'], filters: { paths: { include: ['**/'.repeat(40) + 'x'] } } });
  const files = Array.from({ length: 50 }, (_, i) => 'a/'.repeat(100) + `f${i}`);
  const started = performance.now();
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('x', {
    commits: [{ id: 'c'.repeat(64), message: 'm', author: { name: 'A', email: 'a@example.com' }, added: files, modified: [], removed: [] }],
  }));
  const ms = performance.now() - started;
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.deliveries, 0);
  assert.ok(ms < 2000, `ingestion took ${ms.toFixed(0)} ms`);
});
