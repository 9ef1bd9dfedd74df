/**
 * Graceful shutdown: close() stops the worker at once, even while an HTTP
 * request is still arriving, and ends within the grace period although that
 * request's client keeps its connection open. Deliveries not sent by then go
 * out after the next start.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { Receiver } from '../support/receiver.js';
import { startTestService } from '../support/service.js';
import { createHook } from '../support/fixtures.js';

const GRACE_MS = 400;
const RESPONSE_DELAY_MS = 300;
const EVENTS = 5;

/** Opens a raw connection and sends a request head with the first bytes of its body; `finish` sends the rest. */
async function slowRequest(url: string, path: string, token: string, body: Buffer): Promise<{ socket: Socket; finish: () => void; head: Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  let received = '';
  const head = new Promise<string>((resolve) => {
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n\r\n')) resolve(received);
    });
    socket.on('close', () => resolve(received));
  });
  socket.write(`POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  socket.write(body.subarray(0, 10));
  return { socket, finish: () => socket.write(body.subarray(10)), head };
}

test('close stops the worker during a slow request', async (t) => {
  const receiver = await Receiver.start();
  t.after(() => receiver.close());
  receiver.respondWith(async (_request, res) => {
    await new Promise((resolve) => setTimeout(resolve, RESPONSE_DELAY_MS));
    res.writeHead(200).end('ok');
  });
  const svc = await startTestService({ keepData: true, overrides: { shutdownGraceMs: GRACE_MS, maxInFlightPerWebhook: 1 } });
  t.after(() => rmSync(svc.dataDir, { recursive: true, force: true }));
  // The helper creates the webhook inactive and then switches it on, so no ping is sent.
  const { repoId } = await createHook(svc, receiver.url, { events: ['push'] });
  const event = (after: string) => ({ event: 'push', sender: { login: 'ada' }, ref: 'refs/heads/main', before: '0'.repeat(40), after, commits: [] });
  for (let i = 0; i < EVENTS; i++) {
    const ingested = await svc.api('POST', `/v1/repos/${repoId}/events`, event(String(i + 1).repeat(40)));
    assert.equal(ingested.status, 202, ingested.text);
  }
  await receiver.waitFor(1);

  // A request that started before the shutdown and completes during it keeps its keep-alive connection open afterwards.
  const slow = await slowRequest(svc.url, `/v1/repos/${repoId}/events`, svc.adminToken, Buffer.from(JSON.stringify(event('f'.repeat(40)))));
  t.after(() => slow.socket.destroy());
  // The service runs in this process: the wait lets it read the request head before the shutdown begins.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const startedAt = performance.now();
  const closing = svc.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  slow.finish();
  assert.match(await slow.head, /^HTTP\/1\.1 202 /, 'the request in progress was accepted');
  await closing;
  const closedAfter = performance.now() - startedAt;
  assert.ok(closedAfter < GRACE_MS + 1000, `close took ${Math.round(closedAfter)} ms with a grace of ${GRACE_MS} ms`);
  const sentBeforeClose = receiver.requests.length;
  assert.ok(sentBeforeClose <= 2, `${sentBeforeClose} deliveries went out after close() began; at most the one in flight and one started just before`);

  await new Promise((resolve) => setTimeout(resolve, 2 * RESPONSE_DELAY_MS));
  assert.equal(receiver.requests.length, sentBeforeClose, 'nothing was sent after close() returned');

  const restarted = await startTestService({ dataDir: svc.dataDir, adminToken: svc.adminToken, keepData: true });
  t.after(() => restarted.stop());
  await receiver.waitFor(EVENTS + 1, 10_000);
  const after = new Set(receiver.requests.map((request) => JSON.parse(request.body.toString('utf8')).after as string));
  assert.equal(after.size, EVENTS + 1, 'every accepted event reached the receiver after the restart');
});
