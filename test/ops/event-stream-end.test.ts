import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startTestService, type TestService } from '../support/service.js';
import { pushEvent } from '../support/fixtures.js';

let svc: TestService;

before(async () => {
  svc = await startTestService();
});

after(async () => {
  await svc.stop();
});

/** Opens an event stream and resolves with everything it sent once the server ends it, or rejects after `timeoutMs`. */
async function readUntilEnd(path: string, token: string, timeoutMs: number, onOpen: () => Promise<void>): Promise<string> {
  const res = await request(`${svc.url}${path}`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
  assert.equal(res.statusCode, 200);
  let text = '';
  const timer = setTimeout(() => res.body.destroy(new Error(`stream still open after ${timeoutMs} ms`)), timeoutMs);
  const reading = (async () => {
    for await (const chunk of res.body) text += chunk.toString();
  })();
  await onOpen();
  await reading.finally(() => clearTimeout(timer));
  return text;
}

test('stream ends when its token is revoked', async () => {
  const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'revoked-stream' });
  const reader = await svc.api('POST', '/v1/tokens', { name: 'stream-reader', scopes: ['read'] });
  const text = await readUntilEnd(`/v1/repos/${repo.json.id}/events`, reader.json.token, 8000, async () => {
    const revoked = await svc.api('DELETE', `/v1/tokens/${reader.json.id}`);
    assert.equal(revoked.status, 204);
    const ingested = await svc.api('POST', `/v1/repos/${repo.json.id}/events`, pushEvent());
    assert.equal(ingested.status, 202);
  });
  assert.match(text, /: connected/);
  assert.doesNotMatch(text, /event: push/, 'an event stored after the revocation is not sent');
});

test('stream ends after repository deletion', async () => {
  const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'deleted-stream' });
  const text = await readUntilEnd(`/v1/repos/${repo.json.id}/events`, svc.adminToken, 8000, async () => {
    const deleted = await svc.api('DELETE', `/v1/repos/${repo.json.id}`);
    assert.equal(deleted.status, 204);
  });
  assert.match(text, /event: repo\.deleted/);
});

test('streams per token capped', async () => {
  const limited = await startTestService({ overrides: { eventStreamsPerToken: 2 } });
  const open: { destroy: () => void }[] = [];
  try {
    const repo = await limited.api('POST', '/v1/repos', { owner: 'user', name: 'stream-cap' });
    const other = await limited.api('POST', '/v1/tokens', { name: 'other-reader', scopes: ['read'] });
    const path = `${limited.url}/v1/repos/${repo.json.id}/events`;
    const connect = (token: string) => request(path, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
    for (let i = 0; i < 2; i++) {
      const res = await connect(limited.adminToken);
      assert.equal(res.statusCode, 200);
      open.push(res.body);
    }
    const overLimit = await connect(limited.adminToken);
    assert.equal(overLimit.statusCode, 429);
    const body = (await overLimit.body.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'too_many_streams');
    assert.match(body.error.message, /already has 2 open event streams.*DITS_WEBHOOKS_EVENT_STREAMS_PER_TOKEN/);

    const otherToken = await connect(other.json.token);
    assert.equal(otherToken.statusCode, 200, 'another token has streams of its own');
    open.push(otherToken.body);

    // A closed stream frees its place.
    open.shift()!.destroy();
    let again = await connect(limited.adminToken);
    for (let tries = 0; again.statusCode === 429 && tries < 50; tries++) {
      await again.body.dump();
      await new Promise((resolve) => setTimeout(resolve, 20));
      again = await connect(limited.adminToken);
    }
    assert.equal(again.statusCode, 200);
    open.push(again.body);
  } finally {
    for (const body of open) body.destroy();
    await limited.stop();
  }
});
