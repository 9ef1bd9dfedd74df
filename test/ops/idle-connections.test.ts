// Connections that neither read nor write for the idle limit are closed by
// the server, so that a client that stops reading cannot keep its response
// in memory for good. Heartbeats keep a reading event stream open.
//
// Network safety: every connection goes to the test service on 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { exampleEventFields } from '../../src/events/catalog.js';
import { IDLE_CONNECTION_TIMEOUT_MS, idleConnectionTimeoutMs } from '../../src/api/server.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';
import { openRawStream } from './sse-client.js';

const IDLE_MS = 1500;
let svc: TestService;
let repoId: number;

before(async () => {
  svc = await startTestService({ overrides: { eventStreamHeartbeatMs: 100 }, idleConnectionTimeoutMs: IDLE_MS });
  const repo = await svc.api('POST', '/v1/repos', { owner: 'idle', name: 'big-events' });
  assert.equal(repo.status, 201, repo.text);
  repoId = repo.json.id;
  // Twenty events of about 600 KB: 12 MB, more than the socket buffers of one loopback connection take.
  for (let i = 0; i < 20; i++) {
    const fields = exampleEventFields('comment.created');
    (fields.comment as { body: string }).body = `${i} ${'x'.repeat(600_000)}`;
    const res = await svc.api('POST', `/v1/repos/${repoId}/events`, { event: 'comment.created', ...fields });
    assert.equal(res.status, 202, res.text);
  }
});

after(async () => {
  await svc.stop();
});

/** Sends GET requests, pipelined, on a raw socket that never reads, and resolves with the socket once connected. */
async function stalledRequests(paths: string[], headers = ''): Promise<Socket> {
  const socket = connect(Number(new URL(svc.url).port), '127.0.0.1');
  socket.pause();
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.adminToken}\r\n${headers}\r\n`).join(''));
  return socket;
}

/** Counts the connections open on the service's HTTP server. */
function serverConnections(): Promise<number> {
  return new Promise((resolve, reject) => svc.server!.server.getConnections((err, count) => (err ? reject(err) : resolve(count))));
}

/**
 * Resolves with the time from now until the server has closed the stalled
 * connection. A paused client socket would not report the close itself
 * while unread data waits in front of it, so the server's count is checked.
 */
async function closedByServer(before: number, limitMs: number): Promise<number> {
  const started = performance.now();
  await waitUntil(async () => (await serverConnections()) === before, limitMs, 'the server to close the stalled connection');
  return performance.now() - started;
}

test('idle limit follows the heartbeat', () => {
  assert.equal(idleConnectionTimeoutMs({ eventStreamHeartbeatMs: 15_000 }), IDLE_CONNECTION_TIMEOUT_MS);
  assert.equal(idleConnectionTimeoutMs({ eventStreamHeartbeatMs: 300_000 }), 600_000);
});

test('stalled event stream is closed', async () => {
  const before = await serverConnections();
  const socket = await stalledRequests([`/v1/repos/${repoId}/events`], 'Accept: text/event-stream\r\nLast-Event-ID: 0\r\n');
  try {
    await waitUntil(async () => (await openStreams()) === 1, 5000, 'the stream to open');
    const elapsed = await closedByServer(before, IDLE_MS + 8000);
    assert.ok(elapsed >= IDLE_MS - 200, `closed after ${Math.round(elapsed)} ms, not before the idle limit`);
    await waitUntil(async () => (await openStreams()) === 0, 5000, 'the stream to end on the server');
  } finally {
    socket.destroy();
  }
});

test('stalled page responses are closed', async () => {
  const before = await serverConnections();
  // Four pipelined requests for pages of about 3.6 MB: more than the socket buffers take, so the responses stall in
  // the server's memory. A single page could fit in those buffers, and the connection would then wait as an idle
  // keep-alive connection instead, which keepAliveTimeout closes.
  const socket = await stalledRequests(Array.from({ length: 4 }, () => `/v1/repos/${repoId}/events?limit=100`));
  try {
    await waitUntil(async () => (await serverConnections()) === before + 1, 5000, 'the connection to open');
    const elapsed = await closedByServer(before, IDLE_MS + 8000);
    assert.ok(elapsed >= IDLE_MS - 200, `closed after ${Math.round(elapsed)} ms, not before the idle limit`);
  } finally {
    socket.destroy();
  }
});

test('reading stream outlives the idle limit', async () => {
  const quiet = await svc.api('POST', '/v1/repos', { owner: 'idle', name: 'quiet' });
  const stream = await openRawStream(`${svc.url}/v1/repos/${quiet.json.id}/events`, { authorization: `Bearer ${svc.adminToken}` });
  try {
    await new Promise((resolve) => setTimeout(resolve, 2 * IDLE_MS));
    assert.equal(stream.ended, false, 'heartbeats kept the connection open');
    const ingested = await svc.api('POST', `/v1/repos/${quiet.json.id}/events`, { event: 'lock.acquired', ...exampleEventFields('lock.acquired') });
    assert.equal(ingested.status, 202, ingested.text);
    await waitUntil(() => stream.messages.some((message) => message.event === 'lock.acquired'), 5000, 'the event on the open stream');
  } finally {
    stream.abort();
    await stream.done;
  }
});

async function openStreams(): Promise<number> {
  const res = await svc.api('GET', '/metrics', undefined, { token: '' });
  return sampleValue(parsePrometheusText(res.text), 'dits_webhook_event_streams_open');
}
