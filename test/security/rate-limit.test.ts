// Per-token rate limiting: with a limit of 5 requests per minute, the sixth
// request of a token in the same minute gets 429 with Retry-After and the
// catalog error shape, while other tokens and public routes are unaffected.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestService, type TestService } from '../support/service.js';

const LIMIT = 5;
/** 10.5 s into a fixed-window minute, so the window ends 49.5 s later. */
let now = Date.UTC(2026, 0, 1, 12, 0, 10, 500);
let svc: TestService;
let limited = '';
let other = '';

before(async () => {
  svc = await startTestService({ clock: () => now, overrides: { rateLimitPerMinute: LIMIT } });
  for (const name of ['limited', 'other']) {
    const created = await svc.api('POST', '/v1/tokens', { name, scopes: ['write'] });
    assert.equal(created.status, 201, created.text);
    if (name === 'limited') limited = created.json.token;
    else other = created.json.token;
  }
});

after(async () => {
  await svc.stop();
});

test('sixth request in a minute gets 429', async () => {
  for (let i = 1; i <= LIMIT; i++) {
    const res = await svc.api('GET', '/v1/repos', undefined, { token: limited });
    assert.equal(res.status, 200, `request ${i}: ${res.text}`);
  }
  const res = await svc.api('GET', '/v1/repos', undefined, { token: limited });
  assert.equal(res.status, 429, res.text);
  assert.equal(res.headers['retry-after'], '50');
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(Object.keys(res.json), ['error']);
  assert.equal(res.json.error.code, 'rate_limited');
  assert.match(res.json.error.message, /exceeded 5 requests per minute; retry after 50 seconds/);
  assert.deepEqual(res.json.error.details, []);
});

test('limit covers every route of the token', async () => {
  const ingest = await svc.api('POST', '/v1/repos/1/events', { event: 'repo.created', sender: { login: 'a' } }, { token: limited });
  assert.equal(ingest.status, 429);
  const create = await svc.api('POST', '/v1/repos', { owner: 'a', name: 'b' }, { token: limited });
  assert.equal(create.status, 429);
  assert.equal((await svc.api('GET', '/v1/repos', undefined, { token: '' })).status, 401, 'a request without a token is not counted as the limited token');
});

test('other token is unaffected', async () => {
  for (let i = 1; i <= LIMIT; i++) {
    const res = await svc.api('GET', '/v1/repos', undefined, { token: other });
    assert.equal(res.status, 200, `request ${i} of the other token: ${res.text}`);
  }
  assert.equal((await svc.api('GET', '/v1/repos')).status, 200, 'the admin token has its own window');
});

test('public routes are not limited', async () => {
  for (let i = 0; i < LIMIT * 3; i++) assert.equal((await svc.api('GET', '/healthz', undefined, { token: '' })).status, 200);
});

test('next window allows requests again', async () => {
  now += 49_500;
  const res = await svc.api('GET', '/v1/repos', undefined, { token: limited });
  assert.equal(res.status, 200, res.text);
});
