import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../support/service.js';
import { Receiver } from '../support/receiver.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { request } from 'undici';
import { exampleEventFields } from '../../src/events/catalog.js';


/** A valid ingestion body of an event that clients may send, for the cases whose fault lies elsewhere. */
const MEMBER_EVENT = { event: 'member.added', ...exampleEventFields('member.added') };

let svc: TestService;
let receiver: Receiver;
let repoId: number;
let base: string;
let deliveryId: string;

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService({ overrides: { maxEventBodyBytes: 256 * 1024 } });
  ({ repoId, base } = await createHook(svc, receiver.url, { name: 'bad-input' }));
  const ingested = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent());
  assert.equal(ingested.status, 202);
  const list = await svc.api('GET', `${base}/deliveries`);
  deliveryId = list.json.data[0].id;
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

/** Validation fails before any request, so nothing is ever sent to this address. */
const HOOK_URL = 'http://127.0.0.1:9/hook';

interface Case {
  name: string;
  method: string;
  path: () => string;
  body?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  code: string;
  /** A field name that the error must mention, in the message or the details. */
  field?: string;
}

const cases: Case[] = [
  { name: 'repo without owner', method: 'POST', path: () => '/v1/repos', body: { name: 'x' }, status: 400, code: 'invalid_request', field: 'owner' },
  { name: 'repo name with slash', method: 'POST', path: () => '/v1/repos', body: { owner: 'u', name: 'a/b' }, status: 400, code: 'invalid_request', field: 'name' },
  { name: 'repo private as string', method: 'POST', path: () => '/v1/repos', body: { owner: 'u', name: 'n', private: 'yes' }, status: 400, code: 'invalid_request', field: 'private' },
  { name: 'repo unknown field', method: 'POST', path: () => '/v1/repos', body: { owner: 'u', name: 'n', colour: 'red' }, status: 400, code: 'invalid_request', field: 'colour' },
  { name: 'repo body is array', method: 'POST', path: () => '/v1/repos', body: [1, 2], status: 400, code: 'invalid_request', field: 'body' },
  { name: 'repo body not json', method: 'POST', path: () => '/v1/repos', raw: '{"owner":', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'repo body empty', method: 'POST', path: () => '/v1/repos', raw: '', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_request', field: 'body' },
  { name: 'repo body as text', method: 'POST', path: () => '/v1/repos', raw: 'owner=u', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'repo duplicate', method: 'POST', path: () => '/v1/repos', body: { owner: 'user', name: 'bad-input' }, status: 409, code: 'repo_exists', field: 'name' },
  { name: 'repo id not a number', method: 'GET', path: () => '/v1/repos/abc', status: 400, code: 'invalid_request', field: 'repo_id' },
  { name: 'repo id huge', method: 'GET', path: () => '/v1/repos/99999999999999999999', status: 400, code: 'invalid_request', field: 'repo_id' },
  { name: 'repo missing', method: 'GET', path: () => '/v1/repos/999999', status: 404, code: 'repo_not_found' },
  { name: 'repo patch empty', method: 'PATCH', path: () => `/v1/repos/${repoId}`, body: {}, status: 400, code: 'invalid_request' },
  { name: 'repo patch owner', method: 'PATCH', path: () => `/v1/repos/${repoId}`, body: { owner: 'x' }, status: 400, code: 'invalid_request', field: 'owner' },
  { name: 'repo list bad limit', method: 'GET', path: () => '/v1/repos?limit=1000', status: 400, code: 'invalid_request', field: 'limit' },
  { name: 'repo list with unknown query', method: 'GET', path: () => '/v1/repos?limt=5', status: 400, code: 'invalid_request', field: 'query.limt' },
  { name: 'repo list cursor with full_name', method: 'GET', path: () => '/v1/repos?full_name=user/bad-input&cursor=abc', status: 400, code: 'invalid_request', field: 'query.cursor' },
  { name: 'error catalog with unknown query', method: 'GET', path: () => '/v1/errors?x=1', status: 400, code: 'invalid_request', field: 'query.x' },
  { name: 'delivery list with unknown query', method: 'GET', path: () => `${base}/deliveries?stat=failed`, status: 400, code: 'invalid_request', field: 'query.stat' },
  { name: 'repo default branch with C1 control', method: 'POST', path: () => '/v1/repos', body: { owner: 'u', name: 'c1', default_branch: 'ma\u0085in' }, status: 400, code: 'invalid_request', field: 'default_branch' },
  { name: 'repo default branch dot-dot part', method: 'POST', path: () => '/v1/repos', body: { owner: 'u', name: 'dots', default_branch: 'release/../main' }, status: 400, code: 'invalid_request', field: 'default_branch' },
  { name: 'repo patch default branch dot', method: 'PATCH', path: () => `/v1/repos/${repoId}`, body: { default_branch: '.' }, status: 400, code: 'invalid_request', field: 'default_branch' },
  { name: 'repo patch default branch full ref', method: 'PATCH', path: () => `/v1/repos/${repoId}`, body: { default_branch: 'refs/heads/x' }, status: 400, code: 'invalid_request', field: 'default_branch' },
  { name: 'ping with a body', method: 'POST', path: () => `${base}/pings`, body: { x: 1 }, status: 400, code: 'invalid_request', field: 'x' },
  { name: 'ping with an array body', method: 'POST', path: () => `${base}/pings`, body: [1], status: 400, code: 'invalid_request', field: 'body' },
  { name: 'redeliver with a body', method: 'POST', path: () => `${base}/deliveries/${deliveryId}/redeliver`, body: { now: true }, status: 400, code: 'invalid_request', field: 'now' },
  { name: 'webhook delete with a body', method: 'DELETE', path: () => base, body: { confirm: 'yes' }, status: 400, code: 'invalid_request', field: 'confirm' },
  { name: 'repository delete with a body', method: 'DELETE', path: () => `/v1/repos/${repoId}`, body: { confirm: 'yes' }, status: 400, code: 'invalid_request', field: 'confirm' },
  { name: 'token revoke with a body', method: 'DELETE', path: () => '/v1/tokens/1', body: { confirm: 'yes' }, status: 400, code: 'invalid_request', field: 'confirm' },
  { name: 'token name with a control character', method: 'POST', path: () => '/v1/tokens', body: { name: 'x\u001b[31m', scopes: ['read'] }, status: 400, code: 'invalid_request', field: 'name' },
  { name: 'token name of spaces', method: 'POST', path: () => '/v1/tokens', body: { name: '   ', scopes: ['read'] }, status: 400, code: 'invalid_request', field: 'name' },
  { name: 'token name with a bidi control', method: 'POST', path: () => '/v1/tokens', body: { name: 'ci bot \u202eexe.txt', scopes: ['read'] }, status: 400, code: 'invalid_request', field: 'name' },
  { name: 'token name with an Arabic letter mark', method: 'POST', path: () => '/v1/tokens', body: { name: 'ok\u061cname', scopes: ['read'] }, status: 400, code: 'invalid_request', field: 'name' },
  { name: 'token name with a line separator', method: 'POST', path: () => '/v1/tokens', body: { name: 'two\u2028lines', scopes: ['read'] }, status: 400, code: 'invalid_request', field: 'name' },
  { name: 'sender login with a bidi control', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: { ...MEMBER_EVENT, sender: { login: 'mal\u202elory' } }, status: 400, code: 'invalid_request', field: 'sender.login' },
  { name: 'repo body gzip encoded', method: 'POST', path: () => '/v1/repos', raw: '{"owner":"u","name":"gz"}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, status: 415, code: 'unsupported_media_type', field: 'Content-Encoding' },
  { name: 'repo get with unknown query', method: 'GET', path: () => `/v1/repos/${repoId}?limt=5`, status: 400, code: 'invalid_request', field: 'query.limt' },
  { name: 'webhook list with unknown query', method: 'GET', path: () => `/v1/repos/${repoId}/webhooks?active=true`, status: 400, code: 'invalid_request', field: 'query.active' },
  { name: 'ping with unknown query', method: 'POST', path: () => `${base}/pings?event=push`, status: 400, code: 'invalid_request', field: 'query.event' },
  { name: 'event ingest with unknown query', method: 'POST', path: () => `/v1/repos/${repoId}/events?dry_run=1`, body: { event: 'ping', sender: { login: 'u' } }, status: 400, code: 'invalid_request', field: 'query.dry_run' },
  { name: 'repo list bad cursor', method: 'GET', path: () => '/v1/repos?cursor=nope', status: 400, code: 'invalid_request', field: 'query.cursor' },
  { name: 'webhook without url', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { events: ['push'] }, status: 400, code: 'invalid_request', field: 'url' },
  { name: 'webhook ftp url', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: 'ftp://example.com/x', events: ['push'] }, status: 400, code: 'invalid_target_url', field: 'url' },
  { name: 'webhook url with space', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: 'http://127.0.0.1/a b', events: ['push'] }, status: 400, code: 'invalid_target_url', field: 'url' },
  { name: 'webhook url with newline', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: 'http://127.0.0.1/\r\nX-Evil: 1', events: ['push'] }, status: 400, code: 'invalid_target_url', field: 'url' },
  { name: 'webhook unknown event', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: HOOK_URL, events: ['pushh'] }, status: 400, code: 'invalid_event_pattern', field: 'events[0]' },
  { name: 'webhook inner wildcard', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: HOOK_URL, events: ['lo*k'] }, status: 400, code: 'invalid_event_pattern', field: 'events[0]' },
  { name: 'webhook events not array', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: HOOK_URL, events: 'push' }, status: 400, code: 'invalid_request', field: 'events' },
  { name: 'webhook whsec_ not base64', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: HOOK_URL, events: ['push'], secret: 'whsec_!!!!!!!!!!!!!!!!!!!!' }, status: 400, code: 'invalid_request', field: 'secret' },
  { name: 'webhook blank secret', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: HOOK_URL, events: ['push'], secret: ' '.repeat(20) }, status: 400, code: 'invalid_request', field: 'secret' },
  { name: 'webhook short secret', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: HOOK_URL, events: ['push'], secret: 'short' }, status: 400, code: 'invalid_request', field: 'secret' },
  { name: 'webhook active as string', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: HOOK_URL, events: ['push'], active: 'true' }, status: 400, code: 'invalid_request', field: 'active' },
  { name: 'webhook bad filter', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks`, body: { url: HOOK_URL, events: ['push'], filters: { branches: [42] } }, status: 400, code: 'invalid_request', field: 'filters.branches[0]' },
  { name: 'webhook on missing repo', method: 'POST', path: () => '/v1/repos/999999/webhooks', body: { url: HOOK_URL, events: ['push'] }, status: 404, code: 'repo_not_found' },
  { name: 'webhook missing', method: 'GET', path: () => `/v1/repos/${repoId}/webhooks/999999`, status: 404, code: 'webhook_not_found' },
  { name: 'webhook id bad', method: 'GET', path: () => `/v1/repos/${repoId}/webhooks/-1`, status: 400, code: 'invalid_request', field: 'hook_id' },
  { name: 'webhook patch bad events', method: 'PATCH', path: () => base, body: { events: [] }, status: 400, code: 'invalid_event_pattern', field: 'events' },
  { name: 'owner webhook bad owner', method: 'GET', path: () => '/v1/owners/bad%20owner/webhooks', status: 400, code: 'invalid_request', field: 'owner' },
  { name: 'ping missing webhook', method: 'POST', path: () => `/v1/repos/${repoId}/webhooks/999999/pings`, status: 404, code: 'webhook_not_found' },
  { name: 'deliveries bad status', method: 'GET', path: () => `${base}/deliveries?status=done`, status: 400, code: 'invalid_request', field: 'status' },
  { name: 'deliveries unknown event', method: 'GET', path: () => `${base}/deliveries?event=bogus`, status: 400, code: 'invalid_request', field: 'event' },
  { name: 'deliveries event pattern', method: 'GET', path: () => `${base}/deliveries?event=lock.*`, status: 400, code: 'invalid_request', field: 'event' },
  { name: 'deliveries unknown query', method: 'GET', path: () => `${base}/deliveries?sort=asc`, status: 400, code: 'invalid_request', field: 'sort' },
  { name: 'delivery missing', method: 'GET', path: () => `${base}/deliveries/00000000-0000-4000-8000-000000000000`, status: 404, code: 'delivery_not_found' },
  { name: 'delivery id garbage', method: 'GET', path: () => `${base}/deliveries/../../etc`, status: 400, code: 'invalid_request', field: 'hook_id' },
  { name: 'delivery id not uuid', method: 'GET', path: () => `${base}/deliveries/abc`, status: 404, code: 'delivery_not_found' },
  { name: 'redeliver missing', method: 'POST', path: () => `${base}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`, status: 404, code: 'delivery_not_found' },
  { name: 'event unknown name', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: { event: 'pushed', sender: { login: 'a' } }, status: 400, code: 'invalid_request', field: 'event' },
  { name: 'event ping refused', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: { event: 'ping', sender: { login: 'a' } }, status: 400, code: 'invalid_request', field: 'event' },
  { name: 'event repo.deleted refused', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: { event: 'repo.deleted', sender: { login: 'a' } }, status: 400, code: 'invalid_request', field: 'event' },
  { name: 'event without sender', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: { ...MEMBER_EVENT, sender: undefined }, status: 400, code: 'invalid_request', field: 'sender' },
  { name: 'push without ref', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: { ...pushEvent(), ref: undefined }, status: 400, code: 'invalid_request', field: 'ref' },
  { name: 'push commit without author', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: pushEvent('x', { commits: [{ id: 'c', message: 'm' }] }), status: 400, code: 'invalid_request', field: 'commits[0].author' },
  { name: 'event sets repository', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: pushEvent('x', { repository: { id: 1 } }), status: 400, code: 'invalid_request', field: 'repository' },
  { name: 'event huge integer', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a","id":9007199254740993}}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_number' },
  { name: 'event number overflow', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a"},"x":1e999}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_number' },
  { name: 'event invalid utf8', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'event deep nesting', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a"},"x":' + '['.repeat(5000) + ']'.repeat(5000) + '}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'event proto key', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a"},"__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'event escaped proto key', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a"},"\\u005f_proto__":{"x":1}}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'event huge integer with fraction', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a"},"n":9007199254740993.0}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_number' },
  { name: 'event huge integer with exponent', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a"},"n":12345678901234567890e0}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_number' },
  { name: 'event huge integer scaled', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a"},"n":9007199254740993E0}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_number' },
  { name: 'repo repeated key', method: 'POST', path: () => '/v1/repos', raw: '{"owner":"a","owner":"q","name":"dupe"}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json', field: 'owner' },
  { name: 'event repeated escaped key', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: '{"event":"repo.created","sender":{"login":"a","l\\u006fgin":"b"}}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json', field: 'login' },
  { name: 'event lone surrogate', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: JSON.stringify(MEMBER_EVENT).slice(0, -1) + ',"note":"x\\ud83d"}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_request', field: 'note' },
  { name: 'event too large', method: 'POST', path: () => `/v1/repos/${repoId}/events`, raw: JSON.stringify({ event: 'repo.created', sender: { login: 'a' }, pad: 'x'.repeat(300 * 1024) }), headers: { 'content-type': 'application/json' }, status: 413, code: 'payload_too_large' },
  { name: 'event on missing repo', method: 'POST', path: () => '/v1/repos/999999/events', body: MEMBER_EVENT, status: 404, code: 'repo_not_found' },
  { name: 'event bad idempotency key', method: 'POST', path: () => `/v1/repos/${repoId}/events`, body: MEMBER_EVENT, headers: { 'idempotency-key': 'has space' }, status: 400, code: 'invalid_request', field: 'Idempotency-Key' },
  { name: 'event type missing', method: 'GET', path: () => '/v1/event-types/nope', status: 404, code: 'event_type_not_found' },
  { name: 'token without scopes', method: 'POST', path: () => '/v1/tokens', body: { name: 'ci' }, status: 400, code: 'invalid_request', field: 'scopes' },
  { name: 'token repeated scope', method: 'POST', path: () => '/v1/tokens', body: { name: 'ci', scopes: ['read', 'read'] }, status: 400, code: 'invalid_request', field: 'scopes' },
  { name: 'token bad scope', method: 'POST', path: () => '/v1/tokens', body: { name: 'ci', scopes: ['root'] }, status: 400, code: 'invalid_request', field: 'scopes[0]' },
  { name: 'token revoke missing', method: 'DELETE', path: () => '/v1/tokens/999999', status: 404, code: 'token_not_found' },
  { name: 'unknown route', method: 'GET', path: () => '/v1/nothing', status: 404, code: 'route_not_found' },
];

for (const c of cases) {
  test(`bad input: ${c.name}`, async () => {
    const res = await svc.api(c.method, c.path(), c.body, { raw: c.raw, headers: c.headers });
    assert.equal(res.status, c.status, `${c.method} ${c.path()} answered ${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.json?.error?.code, c.code, res.text.slice(0, 300));
    assert.equal(typeof res.json.error.message, 'string');
    assert.ok(Array.isArray(res.json.error.details));
    if (c.field) {
      const named = res.json.error.message.includes(c.field) || res.json.error.details.some((d: { field: string }) => d.field === c.field || d.field.startsWith(c.field));
      assert.ok(named, `error names ${c.field}: ${res.text.slice(0, 300)}`);
    }
  });
}

test('missing token is 401', async () => {
  const res = await svc.api('GET', '/v1/repos', undefined, { token: '' });
  assert.equal(res.status, 401);
  assert.equal(res.json.error.code, 'unauthorized');
  const bad = await svc.api('GET', '/v1/repos', undefined, { token: 'dwt_wrong' });
  assert.equal(bad.status, 401);
});

test('redelivery while in flight is 409', async () => {
  const slow = await Receiver.start();
  let release: () => void = () => {};
  slow.respondWith(async (_req, res) => {
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    res.end('ok');
  });
  const hook = await createHook(svc, slow.url, { name: 'in-flight' });
  await svc.api('POST', `/v1/repos/${hook.repoId}/events`, pushEvent());
  await slow.waitFor(1);
  const list = await svc.api('GET', `${hook.base}/deliveries`);
  const res = await svc.api('POST', `${hook.base}/deliveries/${list.json.data[0].id}/redeliver`);
  assert.equal(res.status, 409);
  assert.equal(res.json.error.code, 'delivery_in_progress');
  release();
  await slow.close();
});

test('secret messages fit create and update', async () => {
  const created = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url: HOOK_URL, events: ['push'], secret: 'short', active: false });
  assert.match(created.json.error.details[0].message, /omit secret to have one generated/);
  const patched = await svc.api('PATCH', base, { secret: 'short' });
  assert.equal(patched.status, 400, patched.text);
  assert.match(patched.json.error.details[0].message, /omit secret to keep the current one/);
});

test('error messages escape bidi controls', async () => {
  const res = await svc.api('POST', '/v1/tokens', { name: 'bad\u202ename', scopes: ['read'] });
  assert.equal(res.status, 400);
  assert.ok(!res.text.includes('\u202e'), `no raw override in the response: ${res.text}`);
  assert.match(res.json.error.message, /got the string "bad\\u202ename"/);
  assert.match(res.json.error.details[0].message, /"bad\\u202ename"/);
});

test('repeated idempotency key header is 400', async () => {
  const res = await request(`${svc.url}/v1/repos/${repoId}/events`, {
    method: 'POST',
    headers: ['authorization', `Bearer ${svc.adminToken}`, 'content-type', 'application/json', 'idempotency-key', 'k-1', 'idempotency-key', 'k-2'],
    body: JSON.stringify(MEMBER_EVENT),
  });
  const json = (await res.body.json()) as { error: { code: string; message: string } };
  assert.equal(res.statusCode, 400);
  assert.match(json.error.message, /Idempotency-Key was sent more than once/);
});

test('existing delivery detail loads', async () => {
  const res = await svc.api('GET', `${base}/deliveries/${deliveryId}`);
  assert.equal(res.status, 200);
});

test('unstorable text is rejected by field', async () => {
  const cases: [string, string, unknown, string][] = [
    ['POST', '/v1/repos', { owner: 'u', name: 'sur', description: 'x\ud800y' }, 'description'],
    ['POST', '/v1/repos', { owner: 'u', name: 'nul', description: 'a\u0000b' }, 'description'],
    ['POST', '/v1/repos', { owner: 'u', name: 'bel', description: 'ring\u0007' }, 'description'],
    ['POST', '/v1/repos', { owner: 'u', name: 'bidi', default_branch: 'ma\u202ein' }, 'default_branch'],
    ['POST', '/v1/tokens', { name: 'x\u0000', scopes: ['read'] }, 'name'],
    ['POST', `/v1/repos/${repoId}/webhooks`, { url: HOOK_URL, events: ['push'], secret: 'secret-with-\udc00-lone-low', active: false }, 'secret'],
  ];
  for (const [method, path, body, field] of cases) {
    const res = await svc.api(method, path, body);
    assert.equal(res.status, 400, `${path} ${res.text}`);
    assert.ok(res.json.error.details.some((d: { field: string }) => d.field === field), res.text);
  }
  const fine = await svc.api('POST', '/v1/repos', { owner: 'u', name: 'emoji', description: 'Film 🎬 with a pair' });
  assert.equal(fine.status, 201);
  const lines = await svc.api('POST', '/v1/repos', { owner: 'u', name: 'lines', description: 'Line one\n\tLine two\r\n' });
  assert.equal(lines.status, 201, 'tabs and line breaks stay allowed');
});

test('invisible characters are echoed escaped', async () => {
  const res = await svc.api('POST', '/v1/repos', { owner: 'u\u200b', name: 'n' });
  assert.equal(res.status, 400);
  const detail = res.json.error.details.find((d: { field: string }) => d.field === 'owner');
  assert.match(detail.message, /got the string "u\\u200b"/, 'the zero-width space shows as its escape');
});

test('malformed header gets catalog error shape', async () => {
  const { connect } = await import('node:net');
  const port = Number(new URL(svc.url).port);
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\u0001b\r\n\r\n', 'latin1');
    });
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(5000, () => reject(new Error('no response')));
  });
  assert.match(raw, /^HTTP\/1\.1 400 /);
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
  assert.equal(body.error.code, 'invalid_request');
  assert.deepEqual(body.error.details, []);
});

test('wrong method is 405 with Allow', async () => {
  const cases: { method: string; path: string; allow: string; token?: string }[] = [
    { method: 'PUT', path: `/v1/repos/${repoId}`, allow: 'DELETE, GET, HEAD, PATCH' },
    { method: 'PUT', path: `/v1/repos/${repoId}?expand=all`, allow: 'DELETE, GET, HEAD, PATCH' },
    { method: 'PUT', path: `/v1/repos/${repoId}`, allow: 'DELETE, GET, HEAD, PATCH', token: '' },
    { method: 'OPTIONS', path: `/v1/repos/${repoId}`, allow: 'DELETE, GET, HEAD, PATCH' },
    { method: 'GET', path: `${base}/pings`, allow: 'POST' },
    { method: 'DELETE', path: `${base}/deliveries/${deliveryId}/redeliver`, allow: 'POST' },
    { method: 'GET', path: '/v1/tokens/1', allow: 'DELETE' },
    { method: 'PUT', path: '/v1/tokens', allow: 'GET, HEAD, POST' },
    { method: 'POST', path: '/healthz', allow: 'GET, HEAD' },
  ];
  for (const c of cases) {
    const label = `${c.method} ${c.path}${c.token === '' ? ' without a token' : ''}`;
    const res = await svc.api(c.method, c.path, undefined, { token: c.token });
    assert.equal(res.status, 405, `${label} answered ${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.headers.allow, c.allow, `${label} Allow header`);
    assert.equal(res.json.error.code, 'method_not_allowed', label);
    assert.ok(res.json.error.message.includes(`${c.method} is not allowed`), `${label} message names the method: ${res.json.error.message}`);
    assert.ok(res.json.error.message.includes(c.allow), `${label} message lists the allowed methods: ${res.json.error.message}`);
  }
});

test('HEAD on POST-only route is 405', async () => {
  const res = await svc.api('HEAD', `${base}/pings`);
  assert.equal(res.status, 405);
  assert.equal(res.headers.allow, 'POST');
  assert.equal(res.text, '');
  const served = await svc.api('HEAD', `/v1/repos/${repoId}`);
  assert.equal(served.status, 200, 'HEAD of a GET route is still served');
});

test('unmatched path stays 404', async () => {
  for (const [method, path] of [
    ['PUT', '/v1/nothing'],
    ['GET', '/v1/repos//webhooks'],
    ['PUT', `/v1/repos/${'x'.repeat(150)}`],
    ['OPTIONS', `/v1/repos/*.deleted/webhooks/${'x'.repeat(101)}`],
    ['DELETE', '/healthz*'],
  ]) {
    const res = await svc.api(method, path);
    assert.equal(res.status, 404, `${method} ${path} answered ${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.json.error.code, 'route_not_found', `${method} ${path}`);
    assert.equal(res.headers.allow, undefined, `${method} ${path} has no Allow header`);
  }
});

test('trailing slash is route_not_found', async () => {
  const cases: { method: string; path: string; token?: string }[] = [
    { method: 'GET', path: '/v1/repos/' },
    { method: 'GET', path: '/v1/repos/', token: '' },
    { method: 'GET', path: '/v1/repos/?limit=5' },
    { method: 'GET', path: `/v1/repos/${repoId}/` },
    { method: 'GET', path: `/v1/repos/${repoId}/webhooks/` },
    { method: 'POST', path: `${base}/pings/` },
    { method: 'GET', path: '/v1/event-types/' },
    { method: 'DELETE', path: '/v1/tokens/' },
    { method: 'GET', path: '/healthz/' },
  ];
  for (const c of cases) {
    const label = `${c.method} ${c.path}${c.token === '' ? ' without a token' : ''}`;
    const withoutSlash = c.path.split('?')[0].slice(0, -1);
    const res = await svc.api(c.method, c.path, undefined, { token: c.token });
    assert.equal(res.status, 404, `${label} answered ${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.json.error.code, 'route_not_found', label);
    assert.ok(res.json.error.message.endsWith(`without the trailing slash: ${withoutSlash}.`), `${label} message: ${res.json.error.message}`);
  }
});

test('router errors use the error shape', async () => {
  for (const path of [`/v1/repos/${'x'.repeat(150)}`, '/v1/repos/%E0']) {
    const res = await svc.api('GET', path);
    assert.equal(res.status, 400, `${path} answered ${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.json.error.code, 'invalid_request', path);
    assert.match(res.json.error.message, /check the path/);
  }
});

test('charset other than UTF-8 is 415', async () => {
  const body = { owner: 'u', name: 'latin' };
  const latin = await svc.api('POST', '/v1/repos', body, { headers: { 'content-type': 'application/json; charset=latin1' } });
  assert.equal(latin.status, 415, latin.text);
  assert.equal(latin.json.error.code, 'unsupported_media_type');
  assert.match(latin.json.error.message, /"latin1".*UTF-8/);
  const utf8 = await svc.api('POST', '/v1/repos', body, { headers: { 'content-type': 'application/json; charset="UTF-8"' } });
  assert.equal(utf8.status, 201, utf8.text);
});

test('repeated Authorization header is 400', async () => {
  const res = await request(`${svc.url}/v1/repos`, {
    headers: ['authorization', `Bearer ${svc.adminToken}`, 'authorization', 'Bearer dwt_other'],
  });
  const json = (await res.body.json()) as { error: { code: string; message: string } };
  assert.equal(res.statusCode, 400);
  assert.equal(json.error.code, 'invalid_request');
  assert.match(json.error.message, /Authorization was sent more than once/);
});
