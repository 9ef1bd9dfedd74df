import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { sendWebhookRequest, type SendRequest } from '../../src/delivery/sender.js';
import { DeadlineQueue } from '../../src/delivery/deadlines.js';
import { basicAuthorization } from '../../src/delivery/worker.js';
import { Receiver } from '../support/receiver.js';

const BODY = Buffer.from('{"event":"push"}');

describe('sendWebhookRequest', () => {
  let receiver: Receiver;
  let agent: Agent;

  before(async () => {
    receiver = await Receiver.start();
    agent = new Agent({ connections: 1, pipelining: 1 });
  });
  after(async () => {
    await agent.close();
    await receiver.close();
  });

  function request(overrides: Partial<SendRequest> = {}): SendRequest {
    return { url: new URL(receiver.url), headers: { 'content-type': 'application/json' }, body: BODY, timeoutMs: 2000, bodyLimitBytes: 1024, dispatcher: agent, ...overrides };
  }

  test('exact body out, full response in', async () => {
    receiver.respondStatus(201, { 'x-reply': 'yes' }, 'stored');
    const before = receiver.requests.length;
    const result = await sendWebhookRequest(request());
    assert.equal(result.error, null);
    assert.equal(result.statusCode, 201);
    assert.equal(result.headers?.['x-reply'], 'yes');
    assert.equal(result.body?.toString(), 'stored');
    assert.equal(result.bodyTruncated, false);
    assert.ok(result.durationMs >= 0);
    assert.deepEqual(receiver.requests[before].body, BODY);
    assert.equal(receiver.requests[before].method, 'POST');
  });

  test('103 response skipped for the final one', async () => {
    receiver.respondWith((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      res.writeHead(202, { 'x-final': '1' });
      res.end('later');
    });
    const result = await sendWebhookRequest(request());
    assert.equal(result.statusCode, 202);
    assert.equal(result.headers?.['x-final'], '1');
    assert.equal(result.headers?.link, undefined);
    assert.equal(result.body?.toString(), 'later');
  });

  test('repeated headers joined, names lower-case', async () => {
    receiver.respondWith((_req, res) => {
      res.setHeader('X-Multi', ['a', 'b']);
      res.writeHead(200);
      res.end();
    });
    const result = await sendWebhookRequest(request());
    assert.equal(result.headers?.['x-multi'], 'a, b');
  });

  test('repeated single-value headers keep the first value', async () => {
    receiver.respondWith((_req, res) => {
      res.setHeader('Retry-After', ['3600', '3600']);
      res.setHeader('__proto__', 'kept');
      res.writeHead(429);
      res.end();
    });
    const result = await sendWebhookRequest(request());
    assert.equal(result.headers?.['retry-after'], '3600');
    assert.equal(Object.hasOwn(result.headers ?? {}, '__proto__'), true);
    assert.equal(result.headers?.['__proto__'], 'kept');
    assert.equal(JSON.parse(JSON.stringify(result.headers))['__proto__'], 'kept');
  });

  test('body cut off by the receiver is flagged', async () => {
    receiver.respondWith((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('part');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const result = await sendWebhookRequest(request());
    assert.equal(result.error, null);
    assert.equal(result.statusCode, 200);
    assert.equal(result.body?.toString(), 'part');
    assert.equal(result.bodyTruncated, true);
  });

  test('larger body cut at the limit', async () => {
    receiver.respondWith((_req, res) => {
      res.writeHead(200);
      res.write(Buffer.alloc(700, 0x61));
      res.end(Buffer.alloc(700, 0x62));
    });
    const result = await sendWebhookRequest(request());
    assert.equal(result.statusCode, 200);
    assert.equal(result.body?.length, 1024);
    assert.equal(result.bodyTruncated, true);
    assert.equal(result.body?.subarray(0, 700).toString(), 'a'.repeat(700));
    assert.equal(result.body?.subarray(700).toString(), 'b'.repeat(324));
  });

  test('no response headers gives timeout', async () => {
    let release: () => void = () => {};
    receiver.respondWith((_req, res) => new Promise<void>((resolve) => {
      release = () => {
        res.destroy();
        resolve();
      };
    }));
    const started = performance.now();
    const result = await sendWebhookRequest(request({ timeoutMs: 200 }));
    const elapsed = performance.now() - started;
    release();
    assert.equal(result.statusCode, null);
    assert.equal(result.error?.kind, 'timeout');
    assert.match(result.error?.message ?? '', /200 ms/);
    assert.ok(elapsed >= 190, `took ${elapsed} ms`);
    assert.ok(elapsed < 2000, `took ${elapsed} ms`);
  });

  test('request timed out in queue is never sent', async () => {
    // A fresh agent with one connection: the first request occupies it until released.
    const single = new Agent({ connections: 1, pipelining: 1 });
    let release: () => void = () => {};
    receiver.respondWith((req, res) => {
      if (req.path !== '/slow') {
        res.writeHead(200);
        res.end();
        return;
      }
      return new Promise<void>((resolve) => {
        release = () => {
          res.writeHead(200);
          res.end();
          resolve();
        };
      });
    });

    const slowUrl = new URL(receiver.url);
    slowUrl.pathname = '/slow';
    const arrived = receiver.requests.length;
    const first = sendWebhookRequest(request({ url: slowUrl, timeoutMs: 5000, dispatcher: single }));
    await receiver.waitFor(arrived + 1);
    const queuedUrl = new URL(receiver.url);
    queuedUrl.pathname = '/queued';
    const queued = await sendWebhookRequest(request({ url: queuedUrl, timeoutMs: 150, dispatcher: single }));
    assert.equal(queued.error?.kind, 'timeout');

    release();
    assert.equal((await first).statusCode, 200);
    // Requests on one connection run in order, so this one finishes after anything queued before it.
    const followUp = await sendWebhookRequest(request({ dispatcher: single }));
    assert.equal(followUp.statusCode, 200);
    await single.close();
    assert.equal(receiver.requests.filter((r) => r.path === '/queued').length, 0, 'the timed-out request reached the receiver');
  });

  test('rejected 1xx and 0xx responses named', async () => {
    const replies = [
      ['HTTP/1.1 101 Switching Protocols\r\n\r\n', /101 Switching Protocols/],
      ['HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n', /101 Switching Protocols/],
      ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', /unprompted 100 Continue/],
      ['HTTP/1.1 099 Weird\r\ncontent-length: 0\r\n\r\n', /^the receiver sent a status code below 100, outside the range of HTTP status codes$/],
    ] as const;
    for (const [reply, message] of replies) {
      const server = createServer((socket) => {
        socket.on('error', () => {});
        socket.once('data', () => socket.write(reply));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const own = new Agent();
      try {
        const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
        const result = await sendWebhookRequest(request({ url, dispatcher: own }));
        assert.equal(result.statusCode, null);
        assert.equal(result.error?.kind, 'network', reply);
        assert.match(result.error?.message ?? '', message);
      } finally {
        await own.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
  });

  test('reports a refused connection', async () => {
    const closed = await Receiver.start();
    const url = new URL(closed.url);
    await closed.close();
    const result = await sendWebhookRequest(request({ url }));
    assert.equal(result.statusCode, null);
    assert.equal(result.error?.kind, 'refused');
  });
});

describe('DeadlineQueue', () => {
  test('fires in order, skips cancelled', async () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    queue.add(60, () => fired.push('60'));
    queue.add(20, () => fired.push('20'));
    const cancelled = queue.add(40, () => fired.push('40'));
    queue.add(40, () => fired.push('40b'));
    cancelled.cancel();
    cancelled.cancel();
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(fired, ['20', '40b', '60']);
  });

  test('earlier entry added later fires first', async () => {
    const queue = new DeadlineQueue();
    const fired: number[] = [];
    queue.add(200, () => fired.push(performance.now()));
    const start = performance.now();
    queue.add(10, () => fired.push(performance.now()));
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(fired.length, 1);
    assert.ok(fired[0] - start < 80);
  });
});

describe('basicAuthorization', () => {
  test('encodes user name and password', () => {
    assert.equal(basicAuthorization(new URL('http://alice:s3cret@127.0.0.1/hook')), `Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
  });

  test('percent-escapes decoded, malformed kept', () => {
    assert.equal(basicAuthorization(new URL('http://a%40b:p%3Aw@127.0.0.1/')), `Basic ${Buffer.from('a@b:p:w').toString('base64')}`);
    assert.equal(basicAuthorization(new URL('http://u:%zz@127.0.0.1/')), `Basic ${Buffer.from('u:%zz').toString('base64')}`);
  });

  test('password alone, and no credentials', () => {
    assert.equal(basicAuthorization(new URL('http://:only@127.0.0.1/')), `Basic ${Buffer.from(':only').toString('base64')}`);
    assert.equal(basicAuthorization(new URL('http://127.0.0.1/hook')), null);
  });
});
