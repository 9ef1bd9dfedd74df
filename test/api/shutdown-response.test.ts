import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Pool } from 'undici';
import { pushEvent } from '../support/fixtures.js';
import { startTestService } from '../support/service.js';

test('request during shutdown gets 503 error shape', async () => {
  const svc = await startTestService();
  const port = Number(new URL(svc.url).port);
  const body = JSON.stringify({ owner: 'u', name: 'closing' });
  const socket = connect(port, '127.0.0.1');
  let received = '';
  const ended = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk) => (received += chunk.toString('utf8')));
    socket.on('end', () => resolve());
    socket.on('error', reject);
    socket.setTimeout(10_000, () => reject(new Error(`no end of response within 10 s; got ${received.slice(0, 300)}`)));
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  // The first request's headers arrive before the shutdown and its body after, so the connection is
  // busy when the service starts closing, and a second request follows on it.
  socket.write(
    `POST /v1/repos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${svc.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
      body.slice(0, 5),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const closed = svc.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.write(body.slice(5) + 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await ended;
  await closed;
  await svc.stop();

  const second = received.slice(received.indexOf('HTTP/1.1', 1));
  assert.match(received, /^HTTP\/1\.1 201 /, received.slice(0, 300));
  assert.match(second, /^HTTP\/1\.1 503 /, second.slice(0, 300));
  assert.match(second, /connection: close/i);
  const json = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
  assert.equal(json.error.code, 'service_unavailable');
  assert.match(json.error.message, /shutting down/);
});

test('shutdown under load resets no request', async () => {
  // The default rate limit of 6,000 requests a minute per token would return 429 before the shutdown.
  const svc = await startTestService({ overrides: { rateLimitPerMinute: 1_000_000 } });
  const repo = await svc.api('POST', '/v1/repos', { owner: 'u', name: 'busy' });
  assert.equal(repo.status, 201, repo.text);
  const pool = new Pool(svc.url, { connections: 8 });
  const body = JSON.stringify(pushEvent());
  const outcomes = new Map<string, number>();
  const count = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  let accepted = 0;
  let closing: Promise<void> | null = null;
  const deadline = Date.now() + 20_000;
  // Eight clients send over kept-alive connections without a pause, and the shutdown starts after 300 acceptances.
  const client = async () => {
    for (let sent = 0; sent < 1000 && Date.now() < deadline; sent++) {
      try {
        const res = await pool.request({ method: 'POST', path: `/v1/repos/${repo.json.id}/events`, headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': 'application/json' }, body });
        await res.body.text();
        count(String(res.statusCode));
        if (res.statusCode === 202 && ++accepted === 300) closing = svc.close();
        if (res.statusCode !== 202) return;
      } catch (error) {
        count((error as { code?: string }).code ?? 'error');
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, client));
  await closing;
  await pool.close();
  await svc.stop();
  const summary = JSON.stringify(Object.fromEntries(outcomes));
  assert.ok((outcomes.get('202') ?? 0) >= 300, summary);
  assert.ok((outcomes.get('503') ?? 0) > 0, `clients were told to go away: ${summary}`);
  // After a refused connection the client knows that nothing was sent; after a reset it cannot know whether the event was stored.
  const reset = [...outcomes.keys()].filter((outcome) => !['202', '503', 'ECONNREFUSED'].includes(outcome));
  assert.deepEqual(reset, [], `outcomes: ${summary}`);
});
