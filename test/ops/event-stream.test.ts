import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createParser } from 'eventsource-parser';
import { ConfigError, loadConfig } from '../../src/config.js';
import { exampleEventFields } from '../../src/events/catalog.js';
import { formatEventMessage, parseLastEventId } from '../../src/api/event-stream.js';
import { pushEvent } from '../support/fixtures.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';
import { openRawStream, StreamClient } from './sse-client.js';

const HEARTBEAT_MS = 100;
let svc: TestService;

before(async () => {
  svc = await startTestService({ overrides: { eventStreamHeartbeatMs: HEARTBEAT_MS } });
});

after(async () => {
  await svc.stop();
});

async function createRepo(name: string): Promise<number> {
  const res = await svc.api('POST', '/v1/repos', { owner: 'stream', name });
  assert.equal(res.status, 201, res.text);
  return res.json.id;
}

/** Ingests one event and returns its id. */
async function ingest(repoId: number, body: Record<string, unknown>): Promise<string> {
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, body);
  assert.equal(res.status, 202, res.text);
  return res.json.id;
}

const lockEvent = () => ({ event: 'lock.acquired', ...exampleEventFields('lock.acquired') });
const streamUrl = (repoId: number) => `${svc.url}/v1/repos/${repoId}/events`;

async function openStreams(): Promise<number> {
  const res = await svc.api('GET', '/metrics', undefined, { token: '' });
  return sampleValue(parsePrometheusText(res.text), 'dits_webhook_event_streams_open');
}

test('parseLastEventId accepts sequence numbers', () => {
  const cases: [unknown, number | null][] = [
    ['42', 42],
    [' 7 ', 7],
    ['0', 0],
    ['999999999999999', 999_999_999_999_999],
    ['1000000000000000', null],
    ['-1', null],
    ['4.5', null],
    ['abc', null],
    ['', null],
    [undefined, null],
    [['1', '2'], null],
  ];
  for (const [header, expected] of cases) assert.equal(parseLastEventId(header), expected, JSON.stringify(header));
});

test('formatEventMessage writes one SSE message', () => {
  const text = formatEventMessage(12, 'lock.acquired', { note: 'line one\nline two' });
  assert.equal(text, 'id: 12\nevent: lock.acquired\ndata: {"note":"line one\\nline two"}\n\n');
  assert.equal(text.split('\n').length, 5, 'a newline inside the data stays escaped');
});

test('heartbeat setting is validated', () => {
  assert.equal(loadConfig({}).eventStreamHeartbeatMs, 15_000);
  assert.equal(loadConfig({ env: { DITS_WEBHOOKS_EVENT_STREAM_HEARTBEAT_MS: '2500' } }).eventStreamHeartbeatMs, 2500);
  const cases: [unknown, RegExp][] = [
    [5, /must be at least 10, got 5/],
    [1.5, /expected an integer/],
    ['soon', /expected an integer/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => loadConfig({ overrides: { eventStreamHeartbeatMs: value } }),
      (err: unknown) => err instanceof ConfigError && err.errors.some((e) => e.field === 'eventStreamHeartbeatMs' && message.test(e.message)),
      `eventStreamHeartbeatMs ${JSON.stringify(value)}`,
    );
  }
});

test('live events arrive with id, event and data', async () => {
  const repoId = await createRepo('live');
  const client = new StreamClient(streamUrl(repoId), { token: svc.adminToken });
  try {
    await client.opened();
    const pushId = await ingest(repoId, pushEvent('Add the title sequence'));
    const lockId = await ingest(repoId, lockEvent());
    await client.received(2);

    const [push, lock] = client.messages;
    assert.equal(push.type, 'push');
    assert.equal(push.data.id, pushId);
    assert.equal(push.data.event, 'push');
    assert.equal(push.data.repository_id, repoId);
    assert.equal(push.data.payload.commits[0].message, 'Add the title sequence');
    assert.equal(push.data.payload.sender.login, 'octocat');
    assert.equal(lock.type, 'lock.acquired');
    assert.equal(lock.data.id, lockId);
    assert.match(push.id, /^\d+$/);
    assert.ok(Number(lock.id) > Number(push.id), 'ids increase with the event sequence');
    assert.equal(client.connections.length, 1);
    assert.equal(client.connections[0].Accept, 'text/event-stream');
  } finally {
    client.close();
  }
});

test('heartbeats keep an idle stream open', async () => {
  const repoId = await createRepo('idle');
  const stream = await openRawStream(streamUrl(repoId), { authorization: `Bearer ${svc.adminToken}` });
  try {
    assert.equal(stream.status, 200);
    assert.match(String(stream.headers.get('content-type')), /^text\/event-stream/);
    assert.equal(stream.headers.get('cache-control'), 'no-cache');
    await waitUntil(() => stream.comments.filter((c) => c === 'heartbeat').length >= 3, 5000, 'three heartbeats');
    assert.equal(stream.comments[0], 'connected');
    assert.equal(stream.retry, 2000);
    assert.equal(stream.messages.length, 0, 'an idle stream carries no events');
  } finally {
    stream.abort();
    await stream.done;
  }
});

test('reconnect resumes from Last-Event-ID', async () => {
  const repoId = await createRepo('resume');
  const client = new StreamClient(streamUrl(repoId), { token: svc.adminToken });
  try {
    await client.opened();
    const first = [await ingest(repoId, pushEvent('one')), await ingest(repoId, pushEvent('two'))];
    await client.received(2);
    const lastSeen = client.messages[1].id;

    const release = client.holdReconnect();
    client.dropConnection();
    await waitUntil(() => client.connections.length === 2, 10_000, 'the client to reconnect');
    const missed = [await ingest(repoId, pushEvent('three')), await ingest(repoId, lockEvent())];
    release();
    await client.received(4);
    assert.equal(client.connections[1]['Last-Event-ID'], lastSeen, 'the reconnect sends the last id it saw');

    const later = await ingest(repoId, pushEvent('five'));
    await client.received(5);
    assert.deepEqual(client.messages.map((m) => m.data.id), [...first, ...missed, later], 'every event exactly once, in order');
    assert.deepEqual(client.messages.map((m) => m.type), ['push', 'push', 'push', 'lock.acquired', 'push']);
    assert.equal(new Set(client.messages.map((m) => m.id)).size, 5);
  } finally {
    client.close();
  }
});

test('stored Last-Event-ID replays what followed it', async () => {
  const repoId = await createRepo('replay');
  const before = await ingest(repoId, pushEvent('before'));
  const listed = await svc.api('GET', `/v1/repos/${repoId}/events`);
  const anchor = listed.json.data.find((e: any) => e.id === before);
  assert.ok(anchor, 'the event is listed');
  const afterIds = [await ingest(repoId, pushEvent('after one')), await ingest(repoId, pushEvent('after two'))];

  // The list response has no sequence numbers, so a first stream supplies the id of the event before the two.
  const probe = new StreamClient(streamUrl(repoId), { token: svc.adminToken, lastEventId: '0' });
  try {
    await waitUntil(() => probe.messages.some((m) => m.data.id === afterIds[1]), 10_000, 'the probe to replay the repository');
  } finally {
    probe.close();
  }
  const anchorSeq = probe.messages.find((m) => m.data.id === before)?.id as string;

  const client = new StreamClient(streamUrl(repoId), { token: svc.adminToken, lastEventId: anchorSeq });
  try {
    await client.received(2);
    // A live event after the replay shows that nothing else was sent in between.
    const live = await ingest(repoId, lockEvent());
    await client.received(3);
    assert.deepEqual(client.messages.map((m) => m.data.id), [...afterIds, live], 'only the events after the id, each once');
  } finally {
    client.close();
  }
});

test('slow reader gets every event once', async () => {
  const repoId = await createRepo('slow-reader');
  // Twelve events of about 600 KB: more than one read of the stream carries, and more than a socket buffer takes.
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const fields = exampleEventFields('comment.created');
    (fields.comment as { body: string }).body = `${i} ${'x'.repeat(600_000)}`;
    ids.push(await ingest(repoId, { event: 'comment.created', ...fields }));
  }
  const socket = connect(Number(new URL(svc.url).port), '127.0.0.1');
  socket.pause();
  socket.write(`GET /v1/repos/${repoId}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.adminToken}\r\nAccept: text/event-stream\r\nLast-Event-ID: 0\r\n\r\n`);
  try {
    // The client takes nothing for a while, so the server meets a full socket buffer in the middle of a page.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const received: string[] = [];
    // The repository's own repo.created comes first and is left out.
    const parser = createParser({ onEvent: (message) => message.event === 'comment.created' && received.push(JSON.parse(message.data).id) });
    let head = true;
    socket.on('data', (chunk: Buffer) => {
      let text = chunk.toString('latin1');
      if (head) {
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) return;
        text = text.slice(end + 4);
        head = false;
      }
      parser.feed(Buffer.from(text, 'latin1').toString('utf8'));
    });
    socket.resume();
    await waitUntil(() => received.length >= ids.length, 20_000, 'every event');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(received, ids, 'each event once, in order');
  } finally {
    socket.destroy();
  }
});

test('stream shows only its repository', async () => {
  const mine = await createRepo('mine');
  const other = await createRepo('other');
  const client = new StreamClient(streamUrl(mine), { token: svc.adminToken });
  const replay = new StreamClient(streamUrl(mine), { token: svc.adminToken, lastEventId: '0' });
  try {
    await client.opened();
    await ingest(other, pushEvent('other one'));
    const first = await ingest(mine, pushEvent('mine one'));
    await ingest(other, lockEvent());
    await ingest(other, pushEvent('other two'));
    const second = await ingest(mine, lockEvent());
    await client.received(2);
    await waitUntil(() => replay.messages.some((m) => m.data.id === second), 10_000, 'the replaying client to catch up');

    assert.deepEqual(client.messages.map((m) => m.data.id), [first, second]);
    const stored = await svc.api('GET', `/v1/repos/${mine}/events`);
    const storedIds = stored.json.data.map((e: any) => e.id).reverse();
    assert.deepEqual(replay.messages.map((m) => m.data.id), storedIds, 'a replay from 0 carries exactly the repository\'s events');
    for (const message of [...client.messages, ...replay.messages]) assert.equal(message.data.repository_id, mine);
  } finally {
    client.close();
    replay.close();
  }
});

test('stream requires a token with read scope', async () => {
  const repoId = await createRepo('guarded');
  const anonymous = new StreamClient(streamUrl(repoId));
  try {
    await waitUntil(() => anonymous.source.readyState === anonymous.source.CLOSED, 5000, 'the client to give up');
    assert.equal(anonymous.errors[0]?.code, 401);
    assert.equal(anonymous.messages.length, 0);
  } finally {
    anonymous.close();
  }

  const raw = await fetch(streamUrl(repoId), { headers: { accept: 'text/event-stream' } });
  assert.equal(raw.status, 401);
  assert.equal(((await raw.json()) as any).error.code, 'unauthorized');

  const ingestOnly = await svc.api('POST', '/v1/tokens', { name: 'watcher', scopes: ['events:write'] });
  const forbidden = await fetch(streamUrl(repoId), { headers: { accept: 'text/event-stream', authorization: `Bearer ${ingestOnly.json.token}` } });
  assert.equal(forbidden.status, 403);
  assert.equal(((await forbidden.json()) as any).error.code, 'insufficient_scope');

  const missing = await fetch(streamUrl(987654), { headers: { accept: 'text/event-stream', authorization: `Bearer ${svc.adminToken}` } });
  assert.equal(missing.status, 404);
});

test('client disconnect ends the stream', async () => {
  const repoId = await createRepo('leaving');
  await waitUntil(async () => (await openStreams()) === 0, 5000, 'streams of earlier tests to end');
  const client = new StreamClient(streamUrl(repoId), { token: svc.adminToken });
  await client.opened();
  assert.equal(await openStreams(), 1);
  client.close();
  await waitUntil(async () => (await openStreams()) === 0, 5000, 'the server to drop the stream');
});

test('service close ends open streams promptly', async () => {
  const own = await startTestService({ overrides: { eventStreamHeartbeatMs: HEARTBEAT_MS } });
  const repo = await own.api('POST', '/v1/repos', { owner: 'stream', name: 'closing' });
  const streams = await Promise.all([1, 2].map(() => openRawStream(`${own.url}/v1/repos/${repo.json.id}/events`, { authorization: `Bearer ${own.adminToken}` })));
  try {
    await waitUntil(() => streams.every((s) => s.comments.includes('connected')), 5000, 'both streams to open');
    const started = Date.now();
    await Promise.race([own.stop(), new Promise((_, reject) => setTimeout(() => reject(new Error('close() took over 3 s with streams open')), 3000))]);
    assert.ok(Date.now() - started < 3000);
    await Promise.all(streams.map((s) => s.done));
    assert.ok(streams.every((s) => s.ended), 'each client saw its stream end');
  } finally {
    for (const stream of streams) stream.abort();
  }
});

test('invalid Last-Event-ID rejected', async () => {
  const repoId = await createRepo('bad-resume');
  for (const value of ['abc', '-1', '4.5']) {
    const res = await fetch(streamUrl(repoId), {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${svc.adminToken}`, 'last-event-id': value },
    });
    assert.equal(res.status, 400, value);
    const body = (await res.json()) as { error: { code: string; details: { field: string; message: string }[] } };
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.details[0].field, 'Last-Event-ID');
    assert.match(body.error.details[0].message, /leave the header out to start after the newest event/);
  }
  const future = await fetch(streamUrl(repoId), {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${svc.adminToken}`, 'last-event-id': '999999999999' },
  });
  assert.equal(future.status, 400, 'an id past every stored event');
  const futureBody = (await future.json()) as { error: { details: { field: string; message: string }[] } };
  assert.equal(futureBody.error.details[0].field, 'Last-Event-ID');
  assert.match(futureBody.error.details[0].message, /^999999999999 is newer than every stored event \(the newest is \d+\)/);
  const empty = await openRawStream(streamUrl(repoId), { authorization: `Bearer ${svc.adminToken}`, 'last-event-id': '' });
  try {
    assert.equal(empty.status, 200, 'an empty header counts as none');
  } finally {
    empty.abort();
    await empty.done;
  }
});

test('stream rejects paging parameters', async () => {
  const repoId = await createRepo('stream-query');
  const res = await fetch(`${streamUrl(repoId)}?limit=abc`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${svc.adminToken}` } });
  assert.equal(res.status, 400);
  const body = (await res.json()) as { error: { code: string; details: { field: string; message: string }[] } };
  assert.equal(body.error.code, 'invalid_request');
  assert.equal(body.error.details[0].field, 'query.limit');
  assert.match(body.error.details[0].message, /is not used by the event stream/);
});

test('HEAD of the stream answers at once', async () => {
  const repoId = await createRepo('stream-head');
  const streamsBefore = await openStreams();
  const res = await fetch(streamUrl(repoId), {
    method: 'HEAD',
    headers: { accept: 'text/event-stream', authorization: `Bearer ${svc.adminToken}` },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(res.status, 200);
  assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
  assert.equal(await res.text(), '');
  assert.equal(await openStreams(), streamsBefore, 'a HEAD holds no stream slot');
});

test('event stream rejected with q=0 gets JSON', async () => {
  const repoId = await createRepo('accept-q0');
  const eventId = await ingest(repoId, lockEvent());
  const res = await svc.api('GET', `/v1/repos/${repoId}/events`, undefined, { headers: { accept: 'application/json, text/event-stream;q=0' } });
  assert.equal(res.status, 200, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.ok(res.json.data.some((event: { id: string }) => event.id === eventId), res.text);
});
