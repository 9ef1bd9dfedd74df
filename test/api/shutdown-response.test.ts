import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
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
