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

test('oversized filters are rejected at creation', async () => {
  const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'big-filters' });
  const glob = '*a'.repeat(113) + '{b,c}{d,e}{f,g}{h,i}{j,k}{l,m}';
  const res = await svc.api('POST', `/v1/repos/${repo.json.id}/webhooks`, { url: receiver.url, events: ['push'], active: false, filters: { paths: { include: Array(100).fill(glob) } } });
  assert.equal(res.status, 400, res.text);
  assert.match(res.text, /glob tokens after brace expansion/);
  const braces = await svc.api('POST', `/v1/repos/${repo.json.id}/webhooks`, { url: receiver.url, events: ['push'], active: false, filters: { tags: ['{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}'] } });
  assert.equal(braces.status, 400);
  assert.match(braces.text, /more than 64 alternatives/);
});

test('large push against many filtered webhooks stays fast', async (t) => {
  const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'many-filters' });
  const include = ['**/*.{mov,mp4}', '**/*.psd', 'assets/**', '**/render-*/**/*.{exr,dpx,tif}'];
  for (let i = 0; i < 20; i++) {
    const hook = await svc.api('POST', `/v1/repos/${repo.json.id}/webhooks`, { url: receiver.url, events: ['push'], active: true, secret: 'a-long-enough-secret', filters: { paths: { include } } });
    assert.equal(hook.status, 201, hook.text);
  }
  const commits = Array.from({ length: 2048 }, (_, c) => ({
    id: c.toString(16).padStart(64, '0'),
    message: 'm',
    author: { name: 'A', email: 'a@example.com' },
    added: Array.from({ length: 20 }, (_, f) => `shots/scene-${c}/take-${f}/notes.txt`),
  }));
  const started = performance.now();
  const res = await svc.api('POST', `/v1/repos/${repo.json.id}/events`, pushEvent('x', { commits }));
  const ms = performance.now() - started;
  assert.equal(res.status, 202, res.text);
  t.diagnostic(`2,048 commits x 20 files against 20 filtered webhooks: ${ms.toFixed(0)} ms`);
  assert.ok(ms < 5000, `ingestion took ${ms.toFixed(0)} ms`);
});
