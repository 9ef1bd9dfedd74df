import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ApiClient, ApiRequestError } from '../../src/watch/api-client.js';
import { RepoResolver } from '../../src/watch/repo-mapping.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/** Starts a loopback server that records each request and responds with the next queued reply. */
async function scriptedServer(): Promise<{ url: string; seen: Seen[]; replies: Reply[]; server: Server }> {
  const seen: Seen[] = [];
  const replies: Reply[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      seen.push({ method: request.method!, url: request.url!, headers: request.headers, body });
      const reply = replies.shift() ?? { status: 500 };
      response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      response.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, replies, server };
}

describe('ApiClient', () => {
  let target: Awaited<ReturnType<typeof scriptedServer>>;
  let client: ApiClient;
  before(async () => {
    target = await scriptedServer();
    client = new ApiClient({ serverUrl: `${target.url}/prefix/`, token: 'tok', timeoutMs: 2000 });
  });
  after(async () => {
    await client.close();
    await new Promise((resolve) => target.server.close(resolve));
  });

  test('ingestEvent sends token, key and body', async () => {
    target.replies.push({ status: 202, body: { id: 'evt_1', event: 'push', deliveries: 2 } });
    const result = await client.ingestEvent(9, { event: 'tag.created', ref: 'refs/tags/v1' }, 'key-1');
    assert.deepEqual(result, { id: 'evt_1', event: 'push', deliveries: 2 });
    const request = target.seen.at(-1)!;
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/prefix/v1/repos/9/events');
    assert.equal(request.headers.authorization, 'Bearer tok');
    assert.equal(request.headers['idempotency-key'], 'key-1');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request.body), { event: 'tag.created', ref: 'refs/tags/v1' });
  });

  const failures: Array<{ name: string; reply: Reply; status: number; code: string; retryable: boolean; retryAfterMs: number | null; message: RegExp }> = [
    {
      name: '429 with Retry-After',
      reply: { status: 429, body: { error: { code: 'rate_limited', message: 'slow down', details: [] } }, headers: { 'retry-after': '3' } },
      status: 429,
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 3000,
      message: /returned 429 rate_limited: slow down/,
    },
    {
      name: '400 is not retryable',
      reply: { status: 400, body: { error: { code: 'invalid_request', message: 'ref: expected refs/...', details: [] } } },
      status: 400,
      code: 'invalid_request',
      retryable: false,
      retryAfterMs: null,
      message: /ref: expected refs\/\.\.\./,
    },
    { name: '502 without a body', reply: { status: 502 }, status: 502, code: 'http_502', retryable: true, retryAfterMs: null, message: /no error message/ },
    { name: '202 without an id', reply: { status: 202, body: {} }, status: 202, code: 'invalid_response', retryable: true, retryAfterMs: null, message: /without an event id/ },
  ];
  for (const failure of failures) {
    test(failure.name, async () => {
      target.replies.push(failure.reply);
      await assert.rejects(client.ingestEvent(9, { event: 'push' }, 'k'), (error: unknown) => {
        assert.ok(error instanceof ApiRequestError);
        assert.equal(error.status, failure.status);
        assert.equal(error.code, failure.code);
        assert.equal(error.retryable, failure.retryable);
        assert.equal(error.retryAfterMs, failure.retryAfterMs);
        assert.match(error.message, failure.message);
        return true;
      });
    });
  }

  test('findRepository matches the full name exactly', async () => {
    target.replies.push({ status: 200, body: { data: [{ id: 3, name: 'b', owner: 'a', full_name: 'a/b', private: false }], next_cursor: null } });
    assert.equal((await client.findRepository('a/b'))?.id, 3);
    assert.equal(target.seen.at(-1)!.url, '/prefix/v1/repos?full_name=a%2Fb');
    target.replies.push({ status: 200, body: { data: [{ id: 4, full_name: 'a/bb' }], next_cursor: null } });
    assert.equal(await client.findRepository('a/b'), null);
  });
});

describe('ApiClient without a server', () => {
  test('refused connection is retryable', async () => {
    const target = await scriptedServer();
    const url = target.url;
    await new Promise((resolve) => target.server.close(resolve));
    const client = new ApiClient({ serverUrl: url, token: 'tok', timeoutMs: 2000 });
    try {
      await assert.rejects(client.ingestEvent(1, { event: 'push' }, 'k'), (error: unknown) => {
        assert.ok(error instanceof ApiRequestError);
        assert.deepEqual([error.status, error.code, error.retryable], [null, 'ECONNREFUSED', true]);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});

describe('RepoResolver', () => {
  let target: Awaited<ReturnType<typeof scriptedServer>>;
  let client: ApiClient;
  before(async () => {
    target = await scriptedServer();
    client = new ApiClient({ serverUrl: target.url, token: 'tok', timeoutMs: 2000 });
  });
  after(async () => {
    await client.close();
    await new Promise((resolve) => target.server.close(resolve));
  });

  test('missing repository without create is a retryable error', async () => {
    target.replies.push({ status: 200, body: { data: [], next_cursor: null } });
    const resolver = new RepoResolver(client, { kind: 'name', owner: 'studio', name: 'film', create: false, private: false });
    await assert.rejects(resolver.resolve(), (error: unknown) => {
      assert.ok(error instanceof ApiRequestError);
      assert.equal(error.retryable, true);
      assert.match(error.message, /Repository studio\/film was not found on the server\. Create it .* or restart the watcher with --create\./);
      return true;
    });
  });

  test('creation race falls back to the lookup', async () => {
    target.replies.push(
      { status: 200, body: { data: [], next_cursor: null } },
      { status: 409, body: { error: { code: 'repo_exists', message: 'exists', details: [] } } },
      { status: 200, body: { data: [{ id: 12, name: 'film', owner: 'studio', full_name: 'studio/film', private: true }], next_cursor: null } },
    );
    const resolver = new RepoResolver(client, { kind: 'name', owner: 'studio', name: 'film', create: true, private: true });
    assert.equal(await resolver.resolve(), 12);
    assert.deepEqual(JSON.parse(target.seen.at(-2)!.body), { owner: 'studio', name: 'film', private: true });
    // The id is kept: no further request.
    const requests = target.seen.length;
    assert.equal(await resolver.resolve(), 12);
    assert.equal(target.seen.length, requests);
  });

  test('fixed id needs no request', async () => {
    const requests = target.seen.length;
    assert.equal(await new RepoResolver(client, { kind: 'id', id: 44 }).resolve(), 44);
    assert.equal(target.seen.length, requests);
  });
});
