// Hostile requests to the API and hostile responses from receivers: every
// one gets a clear 4xx (or a recorded attempt), never a 5xx, a hang or a
// crash.
//
// Network safety: raw sockets and deliveries go only to the service and to
// Receivers on 127.0.0.1 that this file starts.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { REQUEST_TIMEOUT_MS } from '../../src/api/server.js';
import { BODY_READ_TIMEOUT_MS } from '../../src/delivery/sender.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';

const REQUEST_LIMIT = 4096;
const EVENT_LIMIT = 64 * 1024;
const RESPONSE_LIMIT = 8 * 1024;

let svc: TestService;
let receiver: Receiver;
let repoId: number;
let base: string;
let deliveryId: string;

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService({
    overrides: { maxRequestBodyBytes: REQUEST_LIMIT, maxEventBodyBytes: EVENT_LIMIT, responseBodyLimitBytes: RESPONSE_LIMIT, pollIntervalMs: 50 },
  });
  ({ repoId, base } = await createHook(svc, receiver.url, { name: 'hostile' }));
  const ingested = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent());
  assert.equal(ingested.status, 202, ingested.text);
  deliveryId = (await waitUntil(async () => (await svc.api('GET', `${base}/deliveries`)).json.data[0], 10_000, 'a delivery')).id;
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

const json = { 'content-type': 'application/json' };
/** Target of webhooks that validation rejects; nothing is ever sent to it. */
const REJECTED_URL = 'http://127.0.0.1:9/hook';

/** Builds a JSON body of exactly `size` bytes: an object with one padding string. */
function paddedJson(size: number, fields: Record<string, unknown> = {}): string {
  const prefix = JSON.stringify({ ...fields, pad: '' }).slice(0, -2);
  return prefix + '"' + 'x'.repeat(size - prefix.length - 2) + '"}';
}

interface Case {
  name: string;
  method: string;
  path: () => string;
  raw: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  code: string;
  /** Text the error message must contain. */
  message?: RegExp;
}

const routesWithBodies: [string, string, () => string][] = [
  ['create repository', 'POST', () => '/v1/repos'],
  ['update repository', 'PATCH', () => `/v1/repos/${repoId}`],
  ['create webhook', 'POST', () => `/v1/repos/${repoId}/webhooks`],
  ['update webhook', 'PATCH', () => base],
  ['ping', 'POST', () => `${base}/pings`],
  ['redeliver', 'POST', () => `${base}/deliveries/${deliveryId}/redeliver`],
  ['replay', 'POST', () => `${base}/replays`],
  ['create token', 'POST', () => '/v1/tokens'],
  ['ingest event', 'POST', () => `/v1/repos/${repoId}/events`],
];

const deep = '{"owner":"a","name":"b","x":' + '['.repeat(1000) + ']'.repeat(1000) + '}';
const bigInteger = '{"event":"repo.created","owner":"a","name":"b","sender":{"login":"a"},"x":9007199254740993}';
const negativeBigInteger = '{"event":"repo.created","owner":"a","name":"b","sender":{"login":"a"},"x":-9007199254740993}';
const invalidUtf8 = Buffer.concat([Buffer.from('{"owner":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('","name":"b"}')]);
const overlong = Buffer.concat([Buffer.from('{"owner":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","name":"b"}')]);
const lonelySurrogate = Buffer.concat([Buffer.from('{"owner":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","name":"b"}')]);

const cases: Case[] = [];
for (const [name, method, path] of routesWithBodies) {
  const isEvent = name === 'ingest event';
  const limit = isEvent ? EVENT_LIMIT : REQUEST_LIMIT;
  cases.push({ name: `${name}: body over its limit`, method, path, raw: paddedJson(limit + 1), headers: json, status: 413, code: 'payload_too_large', message: new RegExp(`limit of ${limit} bytes`) });
  cases.push({ name: `${name}: deep nesting`, method, path, raw: deep, headers: json, status: 400, code: 'invalid_json', message: /deeper than 64 levels/ });
  cases.push({ name: `${name}: integer beyond 2^53`, method, path, raw: bigInteger, headers: json, status: 400, code: 'invalid_number', message: /9007199254740993/ });
  cases.push({ name: `${name}: negative integer beyond 2^53`, method, path, raw: negativeBigInteger, headers: json, status: 400, code: 'invalid_number' });
  cases.push({ name: `${name}: invalid UTF-8`, method, path, raw: invalidUtf8, headers: json, status: 400, code: 'invalid_json', message: /UTF-8/ });
  cases.push({ name: `${name}: overlong UTF-8`, method, path, raw: overlong, headers: json, status: 400, code: 'invalid_json' });
  cases.push({ name: `${name}: UTF-8 surrogate`, method, path, raw: lonelySurrogate, headers: json, status: 400, code: 'invalid_json' });
  cases.push({ name: `${name}: __proto__ key`, method, path, raw: '{"owner":"a","name":"b","__proto__":{"scopes":["admin"]}}', headers: json, status: 400, code: 'invalid_json' });
  cases.push({ name: `${name}: form encoding`, method, path, raw: 'owner=a&name=b', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' });
  cases.push({ name: `${name}: binary octets`, method, path, raw: Buffer.from([0, 1, 2, 255]), headers: { 'content-type': 'application/octet-stream' }, status: 415, code: 'unsupported_media_type' });
  cases.push({ name: `${name}: truncated JSON`, method, path, raw: '{"owner": "a", "na', headers: json, status: 400, code: 'invalid_json' });
}

cases.push(
  { name: 'event body between the limits is accepted', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: JSON.stringify(pushEvent('m'.repeat(REQUEST_LIMIT * 4))), headers: json, status: 202, code: '' },
  { name: 'event name with CR LF', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: JSON.stringify({ ...pushEvent(), event: 'push\r\nX-Evil: 1' }), headers: json, status: 400, code: 'invalid_request', message: /Field event must name an event type/ },
  { name: 'event name with LF only', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: JSON.stringify({ ...pushEvent(), event: 'push\nX-Evil: 1' }), headers: json, status: 400, code: 'invalid_request' },
  { name: 'webhook events entry with CR LF', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, raw: JSON.stringify({ url: REJECTED_URL, events: ['push\r\nX-Evil: 1'] }), headers: json, status: 400, code: 'invalid_event_pattern' },
  { name: 'webhook URL with CR LF', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, raw: JSON.stringify({ url: `${REJECTED_URL}\r\nX-Evil: 1`, events: ['push'] }), headers: json, status: 400, code: 'invalid_target_url', message: /carriage return/ },
  { name: 'webhook URL with LF in host', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, raw: JSON.stringify({ url: 'http://127.0.0.1\n.evil/hook', events: ['push'] }), headers: json, status: 400, code: 'invalid_target_url', message: /line feed/ },
  { name: 'webhook URL with NUL', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, raw: JSON.stringify({ url: `${REJECTED_URL}\u0000`, events: ['push'] }), headers: json, status: 400, code: 'invalid_target_url' },
  { name: 'webhook URL with line separator', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, raw: JSON.stringify({ url: `${REJECTED_URL}\u2028x`, events: ['push'] }), headers: json, status: 400, code: 'invalid_target_url' },
  { name: 'webhook PATCH URL with CR LF', method: 'PATCH', path: () => base, raw: JSON.stringify({ url: `${REJECTED_URL}\r\nHost: evil` }), headers: json, status: 400, code: 'invalid_target_url' },
  { name: 'owner with encoded CR LF', method: 'GET', path: () => '/v1/owners/a%0d%0aX-Evil:%201/webhooks', raw: '', status: 400, code: 'invalid_request' },
  { name: 'secret with CR LF', method: 'PATCH', path: () => base, raw: JSON.stringify({ secret: 'sixteen-chars-secret\r\nX-Evil: 1' }), headers: json, status: 400, code: 'invalid_request', message: /control characters/ },
  { name: 'latin1 charset is refused', method: 'POST', path: () => '/v1/repos', raw: Buffer.from([0x7b, 0x22, 0x6f, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]), headers: { 'content-type': 'application/json; charset=latin1' }, status: 415, code: 'unsupported_media_type' },
  { name: 'invalid UTF-8 bytes', method: 'POST', path: () => '/v1/repos', raw: Buffer.from([0x7b, 0x22, 0x6f, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]), headers: { 'content-type': 'application/json; charset=utf-8' }, status: 400, code: 'invalid_json' },
);

describe('hostile request bodies', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const res = await svc.api(c.method, c.path(), undefined, { raw: c.raw, headers: c.headers });
      assert.equal(res.status, c.status, `${c.method} ${c.path()}: ${res.text.slice(0, 300)}`);
      if (c.code) {
        assert.equal(res.json?.error?.code, c.code, res.text.slice(0, 300));
        assert.ok(Array.isArray(res.json.error.details));
      }
      if (c.message) assert.match(res.json.error.message, c.message);
    });
  }

  test('chunked body over the limit is cut off', async () => {
    async function* chunks() {
      for (let i = 0; i < 64; i++) yield Buffer.from('{"pad":"' + 'x'.repeat(1024) + '",');
    }
    const res = await request(`${svc.url}/v1/repos`, { method: 'POST', headers: { ...json, authorization: `Bearer ${svc.adminToken}` }, body: chunks() });
    const body = (await res.body.json()) as any;
    assert.equal(res.statusCode, 413);
    assert.equal(body.error.code, 'payload_too_large');
  });
});

/** Writes raw bytes to the service and returns the response text received within two seconds. */
function rawExchange(bytes: string | Buffer): Promise<string> {
  const url = new URL(svc.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, 2000);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (/\r\n\r\n/.test(answer)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (answer) resolve(answer);
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(bytes);
  });
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
}

describe('hostile raw requests', () => {
  const auth = () => `Authorization: Bearer ${svc.adminToken}\r\n`;

  test('oversized header gets 431', async () => {
    const answer = await rawExchange(`GET /v1/repos HTTP/1.1\r\nHost: x\r\n${auth()}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(statusOf(answer), 431, answer.slice(0, 200));
  });

  test('oversized URL gets 431 or 414', async () => {
    const answer = await rawExchange(`GET /v1/repos?${'q'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`);
    assert.ok([414, 431].includes(statusOf(answer)), answer.slice(0, 200));
    assert.match(answer, /shorten the URL/, 'the message names the URL as well as the headers');
  });

  test('header with bare CR is rejected', async () => {
    const answer = await rawExchange(`GET /v1/repos HTTP/1.1\r\nHost: x\r\n${auth()}X-Evil: a\rb\r\n\r\n`);
    assert.equal(statusOf(answer), 400, answer.slice(0, 200));
  });

  test('conflicting Content-Length and chunked is rejected', async () => {
    const body = '{"owner":"a","name":"smuggled"}';
    const answer = await rawExchange(
      `POST /v1/repos HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    assert.equal(statusOf(answer), 400, answer.slice(0, 200));
    assert.equal((await svc.api('GET', '/v1/repos?full_name=a/smuggled')).json.data.length, 0, 'the smuggled repository was not created');
  });

  test('two hundred headers are answered', async () => {
    const headers = Array.from({ length: 200 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const answer = await rawExchange(`GET /v1/repos HTTP/1.1\r\nHost: x\r\n${auth()}${headers}\r\n`);
    assert.ok(statusOf(answer) > 0, `no status line: ${answer.slice(0, 200)}`);
    assert.ok(statusOf(answer) < 500, answer.slice(0, 200));
  });

  test('server limits time to receive a request', () => {
    const server = svc.server!.server;
    assert.equal(server.requestTimeout, REQUEST_TIMEOUT_MS);
    assert.ok(server.headersTimeout > 0, `headersTimeout ${server.headersTimeout}`);
    assert.ok(server.headersTimeout <= REQUEST_TIMEOUT_MS, `headersTimeout ${server.headersTimeout}`);
  });

  test('service answers after the raw requests', async () => {
    assert.equal((await svc.api('GET', '/healthz')).status, 200);
  });
});

describe('hostile receivers', () => {
  async function deliverTo(hostile: Receiver): Promise<{ detail: any; elapsedMs: number }> {
    const hook = await createHook(svc, hostile.url, { name: `hostile-${hostile.port}` });
    const started = Date.now();
    const ingested = await svc.api('POST', `/v1/repos/${hook.repoId}/events`, pushEvent());
    assert.equal(ingested.status, 202);
    const detail = await waitUntil(async () => {
      const list = await svc.api('GET', `${hook.base}/deliveries`);
      const summary = list.json.data[0];
      if (!summary || summary.status === 'pending') return null;
      return (await svc.api('GET', `${hook.base}/deliveries/${summary.id}`)).json;
    }, 15_000, 'the attempt to the hostile receiver');
    return { detail, elapsedMs: Date.now() - started };
  }

  test('endless response body is cut and cancelled', async () => {
    const hostile = await Receiver.start();
    let sent = 0;
    hostile.respondWith(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      // Writes until the service hangs up; the bound keeps a broken service from looping forever.
      while (!res.destroyed && sent < 512 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
      }
    });
    const { detail, elapsedMs } = await deliverTo(hostile);
    assert.equal(detail.status, 'delivered');
    assert.equal(detail.attempts[0].response.body.length, RESPONSE_LIMIT);
    assert.equal(detail.attempts[0].response.body_truncated, true);
    assert.ok(sent < 64 * 1024 * 1024, `the service stopped reading early, after ${sent} bytes`);
    assert.ok(elapsedMs < BODY_READ_TIMEOUT_MS + 5000, `the attempt took ${elapsedMs} ms`);
    await hostile.close();
  });

  test('dripping response body times out', async () => {
    const hostile = await Receiver.start();
    hostile.respondWith(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 200 && !res.destroyed; i++) {
        res.write('.');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      res.end();
    });
    const { detail, elapsedMs } = await deliverTo(hostile);
    assert.equal(detail.status, 'delivered', 'the status line decides the outcome');
    assert.ok(elapsedMs < BODY_READ_TIMEOUT_MS + 5000, `the attempt took ${elapsedMs} ms`);
    assert.ok(detail.attempts[0].response.body.length < 200);
    await hostile.close();
  });

  test('huge response headers fail the attempt', async () => {
    const hostile = await Receiver.start();
    hostile.respondWith((_req, res) => {
      res.writeHead(200, { 'x-huge': 'h'.repeat(100 * 1024) });
      res.end('ok');
    });
    const { detail } = await deliverTo(hostile);
    assert.equal(detail.status, 'retrying');
    assert.equal(detail.attempts[0].status_code, null);
    assert.equal(detail.attempts[0].error.code, 'network');
    assert.match(detail.attempts[0].error.message, /UND_ERR_HEADERS_OVERFLOW/);
    await hostile.close();
  });

  test('encoded CR LF in the URL stays in the path', async () => {
    const target = await Receiver.start();
    const hook = await createHook(svc, `http://127.0.0.1:${target.port}/hook%0d%0aX-Evil:%201?q=%0d%0a`, { name: 'encoded-crlf' });
    await svc.api('POST', `/v1/repos/${hook.repoId}/events`, pushEvent());
    await target.waitFor(1);
    assert.equal(target.requests[0].path, '/hook%0d%0aX-Evil:%201?q=%0d%0a');
    assert.equal(target.requests[0].headers['x-evil'], undefined);
    await target.close();
  });

  test('service answers after the hostile receivers', async () => {
    assert.equal((await svc.api('GET', '/healthz')).status, 200);
  });
});
