import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';

let svc: TestService;
let receiver: Receiver;

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService();
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

const eventsOf = (r: Receiver, name: string) => r.requests.filter((q) => q.headers['x-dits-event'] === name);

test('brief curl example creates webhook', async () => {
  const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'my-project' });
  assert.equal(repo.status, 201);
  assert.equal(repo.json.full_name, 'user/my-project');
  const hook = await svc.api('POST', `/v1/repos/${repo.json.id}/webhooks`, {
    url: receiver.url,
    events: ['push', 'repo.created'],
    secret: 'your_webhook_secret',
    active: true,
  });
  assert.equal(hook.status, 201);
  for (const key of ['id', 'url', 'events', 'active', 'filters', 'created_at', 'updated_at', 'last_delivery', 'status']) {
    assert.ok(key in hook.json, `response has ${key}`);
  }
  assert.equal('secret' in hook.json, false, 'a given secret is never returned');
  assert.deepEqual(hook.json.events, ['push', 'repo.created']);
  await waitUntil(() => eventsOf(receiver, 'ping').length === 1, 5000, 'ping at creation');
  const ping = JSON.parse(eventsOf(receiver, 'ping')[0].body.toString());
  assert.equal(ping.hook_id, hook.json.id);
  assert.equal(ping.repository.full_name, 'user/my-project');
  const shown = await svc.api('GET', `/v1/repos/${repo.json.id}/webhooks/${hook.json.id}`);
  assert.equal(shown.json.last_delivery.event, 'ping');
  assert.equal(shown.json.last_delivery.status, 'delivered');
});

test('generated secret is returned once', async () => {
  const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'generated' });
  const hook = await svc.api('POST', `/v1/repos/${repo.json.id}/webhooks`, { url: receiver.url, events: ['push'], active: false });
  assert.equal(hook.status, 201);
  assert.match(hook.json.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const again = await svc.api('GET', `/v1/repos/${repo.json.id}/webhooks/${hook.json.id}`);
  assert.equal('secret' in again.json, false);
  const list = await svc.api('GET', `/v1/repos/${repo.json.id}/webhooks`);
  assert.equal(JSON.stringify(list.json).includes(hook.json.secret), false);
});

test('idempotent ingestion returns first result', async () => {
  const local = await Receiver.start();
  const { repoId, hookId } = await createHook(svc, local.url, { events: ['push'] });
  const headers = { 'idempotency-key': 'push-0001' };
  const first = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(), { headers });
  const second = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(), { headers });
  assert.equal(first.status, 202);
  assert.equal(second.status, 202);
  assert.equal(second.json.id, first.json.id);
  assert.equal(second.headers['idempotent-replayed'], 'true');
  const other = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('different'), { headers });
  assert.equal(other.status, 409);
  assert.equal(other.json.error.code, 'idempotency_key_reused');
  const bodyKey = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('keyed', { id: 'body-key-1' }));
  const bodyKeyAgain = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('keyed', { id: 'body-key-1' }));
  assert.equal(bodyKeyAgain.json.id, bodyKey.json.id);
  await local.waitFor(2);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const page = await svc.store.listDeliveries({ webhookId: hookId, limit: 100 });
  assert.equal(page.items.length, 2, 'one delivery per distinct event');
  await local.close();
});

test('taken name names the stored repository', async () => {
  const first = await svc.api('POST', '/v1/repos', { owner: 'casefold', name: 'film' });
  assert.equal(first.status, 201, first.text);
  const clash = await svc.api('POST', '/v1/repos', { owner: 'CaseFold', name: 'FILM' });
  assert.equal(clash.status, 409);
  assert.equal(clash.json.error.code, 'repo_exists');
  assert.match(clash.json.error.message, new RegExp(`^Repository casefold/film \\(id ${first.json.id}\\) already exists, and names compare without regard to case`));
  assert.deepEqual(clash.json.error.details, [{ field: 'name', message: `CaseFold/FILM is taken by casefold/film (id ${first.json.id})` }]);
  const other = await svc.api('POST', '/v1/repos', { owner: 'casefold', name: 'other' });
  const renamed = await svc.api('PATCH', `/v1/repos/${other.json.id}`, { name: 'Film' });
  assert.equal(renamed.status, 409);
  assert.match(renamed.json.error.message, /^Repository casefold\/film \(id \d+\) already exists/);
});

test('repository filters combine', async () => {
  const created = await svc.api('POST', '/v1/repos', { owner: 'filters', name: 'combined' });
  assert.equal(created.status, 201, created.text);
  const both = await svc.api('GET', '/v1/repos?owner=Filters&full_name=filters/combined');
  assert.deepEqual(both.json.data.map((repo: { full_name: string }) => repo.full_name), ['filters/combined']);
  const other = await svc.api('GET', '/v1/repos?owner=someone-else&full_name=filters/combined');
  assert.deepEqual(other.json.data, []);
});

test('overlapping patterns deliver once', async () => {
  const local = await Receiver.start();
  const { repoId } = await createHook(svc, local.url, { events: ['lock.*', 'lock.acquired', '*'] });
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, {
    event: 'lock.acquired',
    sender: { login: 'octocat' },
    lock: { id: 'l1', path: 'edit.prproj', owner: { login: 'octocat' }, locked_at: '2026-01-02T03:04:05Z', expires_at: '2026-01-02T11:04:05Z', reason: null },
  });
  assert.equal(res.status, 202);
  assert.equal(res.json.deliveries, 1);
  await local.waitFor(1);
  const body = JSON.parse(local.requests[0].body.toString());
  assert.equal(body.event, 'lock.acquired');
  assert.equal(body.lock.path, 'edit.prproj');
  await local.close();
});

test('pattern filters unmatched events', async () => {
  const local = await Receiver.start();
  const { repoId } = await createHook(svc, local.url, { events: ['*.deleted'] });
  const push = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent());
  assert.equal(push.json.deliveries, 0);
  const deleted = await svc.api('POST', `/v1/repos/${repoId}/events`, {
    event: 'branch.deleted',
    sender: { login: 'octocat' },
    ref: 'refs/heads/feature/x',
    branch: 'feature/x',
    sha: 'c'.repeat(64),
  });
  assert.equal(deleted.json.deliveries, 1);
  await local.close();
});

test('repository changes emit events', async () => {
  const local = await Receiver.start();
  const { repoId } = await createHook(svc, local.url, { events: ['repo.*'], name: 'lifecycle' });
  const renamed = await svc.api('PATCH', `/v1/repos/${repoId}`, { name: 'lifecycle-2', private: true, archived: true });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.json.full_name, 'user/lifecycle-2');
  const deleted = await svc.api('DELETE', `/v1/repos/${repoId}`);
  assert.equal(deleted.status, 204);
  await local.waitFor(4);
  const events = local.requests.map((r) => JSON.parse(r.body.toString()));
  assert.deepEqual(events.map((e) => e.event).sort(), ['repo.archived', 'repo.deleted', 'repo.renamed', 'repo.visibility_changed']);
  assert.deepEqual(events.find((e) => e.event === 'repo.renamed').changes, { name: { from: 'lifecycle' } });
  assert.deepEqual(events.find((e) => e.event === 'repo.visibility_changed').changes, { private: { from: false } });
  assert.equal((await svc.api('GET', `/v1/repos/${repoId}`)).status, 404);
  await local.close();
});

test('repo.* events come only from repository changes, not from ingestion', async () => {
  const local = await Receiver.start();
  try {
    const { repoId } = await createHook(svc, local.url, { events: ['repo.*'], name: 'not-deleted' });
    const forged = await svc.api('POST', `/v1/repos/${repoId}/events`, { event: 'repo.deleted', sender: { login: 'mallory' } });
    assert.equal(forged.status, 400, forged.text);
    assert.match(forged.json.error.message, /repo\.deleted is sent by the server only, when the repository changes through \/v1\/repos/);
    assert.doesNotMatch(forged.json.error.message, /valid names: .*repo\./, 'the valid names leave out the server-only events');
    // A real change after the refused one: once its delivery arrives, a delivery of the refused event would have too.
    assert.equal((await svc.api('PATCH', `/v1/repos/${repoId}`, { archived: true })).status, 200);
    await local.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(local.requests.map((r) => r.headers['x-dits-event']), ['repo.archived']);
    const events = await svc.api('GET', `/v1/repos/${repoId}/events`);
    assert.deepEqual(events.json.data.map((e: { event: string }) => e.event).sort(), ['repo.archived', 'repo.created']);
  } finally {
    await local.close();
  }
});

test('owner webhook receives new repositories', async () => {
  const local = await Receiver.start();
  const hook = await svc.api('POST', '/v1/owners/studio/webhooks', { url: local.url, events: ['repo.created', 'push'], secret: 'owner-level-secret-123', active: true });
  assert.equal(hook.status, 201);
  assert.equal(hook.json.type, 'owner');
  const repo = await svc.api('POST', '/v1/repos', { owner: 'studio', name: 'feature-film' });
  const push = await svc.api('POST', `/v1/repos/${repo.json.id}/events`, pushEvent());
  assert.equal(push.json.deliveries, 1);
  const elsewhere = await svc.api('POST', '/v1/repos', { owner: 'someone-else', name: 'feature-film' });
  assert.equal(elsewhere.status, 201);
  await waitUntil(() => local.requests.length >= 3, 5000, 'owner deliveries');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const names = local.requests.map((r) => r.headers['x-dits-event']);
  assert.deepEqual(names.filter((n) => n !== 'ping').sort(), ['push', 'repo.created']);
  const created = JSON.parse(local.requests.find((r) => r.headers['x-dits-event'] === 'repo.created')!.body.toString());
  assert.equal(created.repository.full_name, 'studio/feature-film');
  const deliveries = await svc.api('GET', `/v1/owners/studio/webhooks/${hook.json.id}/deliveries`);
  assert.equal(deliveries.status, 200);
  assert.equal(deliveries.json.data.length, 3);
  await local.close();
});

test('push keeps at most 2048 commits', async () => {
  const local = await Receiver.start();
  const { repoId } = await createHook(svc, local.url, { events: ['push'] });
  const commits = Array.from({ length: 2100 }, (_, i) => ({ id: i.toString(16).padStart(64, '0'), message: `c${i}`, author: { name: 'A', email: 'a@example.com' } }));
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('x', { commits }));
  assert.equal(res.status, 202);
  await local.waitFor(1);
  const body = JSON.parse(local.requests[0].body.toString());
  assert.equal(body.commits.length, 2048);
  assert.equal(body.total_commits_count, 2100);
  await local.close();
});

test('body survives JSON round trip', async () => {
  const local = await Receiver.start();
  const { repoId } = await createHook(svc, local.url, { events: ['push'] });
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('Añadir metraje 🎬 "quoted" \\ \u2028', { '10': 'index key', extra: { b: 1, a: [1.5, -0, 1e21] } }));
  assert.equal(res.status, 202);
  await local.waitFor(1);
  const raw = local.requests[0].body.toString('utf8');
  assert.equal(JSON.stringify(JSON.parse(raw)), raw, 'receivers that re-serialise get the signed bytes back');
  await local.close();
});

test('event types list every schema', async () => {
  const res = await svc.api('GET', '/v1/event-types');
  assert.equal(res.status, 200);
  assert.equal(res.json.data.length, 23);
  for (const type of res.json.data) assert.equal(typeof type.schema, 'object', `${type.name} has a schema`);
  const one = await svc.api('GET', '/v1/event-types/lock.broken');
  assert.equal(one.status, 200);
  assert.ok(one.json.ingest_schema);
});

test('token scopes are enforced', async () => {
  const read = await svc.api('POST', '/v1/tokens', { name: 'reader', scopes: ['read'] });
  assert.equal(read.status, 201);
  assert.match(read.json.token, /^dwt_/);
  const ingest = await svc.api('POST', '/v1/tokens', { name: 'watcher', scopes: ['events:write'] });
  const repo = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'scoped' });
  const listed = await svc.api('GET', '/v1/repos', undefined, { token: read.json.token });
  assert.equal(listed.status, 200);
  const denied = await svc.api('POST', '/v1/repos', { owner: 'user', name: 'nope' }, { token: read.json.token });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.error.code, 'insufficient_scope');
  const ingested = await svc.api('POST', `/v1/repos/${repo.json.id}/events`, pushEvent(), { token: ingest.json.token });
  assert.equal(ingested.status, 202);
  const cannotRead = await svc.api('GET', '/v1/repos', undefined, { token: ingest.json.token });
  assert.equal(cannotRead.status, 403);
  const tokens = await svc.api('GET', '/v1/tokens');
  assert.equal(JSON.stringify(tokens.json).includes(read.json.token), false, 'tokens are never shown again');
  const revoked = await svc.api('DELETE', `/v1/tokens/${read.json.id}`);
  assert.equal(revoked.status, 204);
  const after = await svc.api('GET', '/v1/repos', undefined, { token: read.json.token });
  assert.equal(after.status, 401);
});

test('GET /v1/token shows the caller', async () => {
  const ingest = await svc.api('POST', '/v1/tokens', { name: 'self-ingest', scopes: ['events:write'] });
  const reader = await svc.api('POST', '/v1/tokens', { name: 'self-reader', scopes: ['read'] });
  for (const created of [ingest, reader]) {
    const own = await svc.api('GET', '/v1/token', undefined, { token: created.json.token });
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(
      { id: own.json.id, name: own.json.name, scopes: own.json.scopes, prefix: own.json.prefix, revoked_at: own.json.revoked_at },
      { id: created.json.id, name: created.json.name, scopes: created.json.scopes, prefix: created.json.prefix, revoked_at: null },
    );
    assert.equal('token' in own.json, false, 'the token itself is never shown again');
    assert.equal(own.text.includes(created.json.token), false);
  }
  assert.deepEqual((await svc.api('GET', '/v1/token')).json.scopes, ['admin']);
  assert.equal((await svc.api('DELETE', `/v1/tokens/${reader.json.id}`)).status, 204);
  const revoked = await svc.api('GET', '/v1/token', undefined, { token: reader.json.token });
  assert.equal(revoked.status, 401);
  assert.equal(revoked.json.error.code, 'unauthorized');
  const anonymous = await svc.api('GET', '/v1/token', undefined, { token: '' });
  assert.equal(anonymous.status, 401);
  assert.equal((await svc.api('GET', '/v1/token?verbose=1')).status, 400, 'the route takes no query parameters');
});

/** Sends a request whose body arrives in two parts, with `between` run in between, and resolves with the raw response. */
async function slowBodyRequest(url: string, method: string, path: string, token: string, body: string, between: () => Promise<void>): Promise<string> {
  const { port, hostname } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 1)}`);
  await between();
  socket.end(body.slice(1));
  await ended;
  return received;
}

test('token list pages', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await svc.api('POST', '/v1/tokens', { name: `paged-${i}`, scopes: ['read'] })).status, 201);
  const all = await svc.api('GET', '/v1/tokens?limit=100');
  assert.equal(all.json.next_cursor, null);
  const seen: number[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; json: { data: { id: number }[]; next_cursor: string | null } } = await svc.api('GET', `/v1/tokens?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200);
    assert.ok(page.json.data.length <= 2);
    seen.push(...page.json.data.map((token) => token.id));
    cursor = page.json.next_cursor;
  } while (cursor !== null);
  assert.deepEqual(seen, all.json.data.map((token: { id: number }) => token.id), 'the pages together list every token once, in order');
  for (const name of ['cursor-a', 'cursor-b']) await svc.api('POST', '/v1/repos', { owner: 'paging', name });
  const repos = await svc.api('GET', '/v1/repos?owner=paging&limit=1');
  assert.ok(repos.json.next_cursor, 'the repository list has a second page');
  const foreign = await svc.api('GET', `/v1/tokens?cursor=${repos.json.next_cursor}`);
  assert.equal(foreign.status, 400, 'a cursor of another list is rejected');
  assert.equal((await svc.api('GET', '/v1/tokens?limit=0')).status, 400);
});

test('token revoked during slow body', async () => {
  const stolen = await svc.api('POST', '/v1/tokens', { name: 'stolen', scopes: ['admin'] });
  const response = await slowBodyRequest(svc.url, 'POST', '/v1/tokens', stolen.json.token, JSON.stringify({ name: 'planted', scopes: ['admin'] }), async () => {
    // The token was checked when the headers arrived; it is revoked before the body is complete.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await svc.api('DELETE', `/v1/tokens/${stolen.json.id}`)).status, 204);
    await new Promise((resolve) => setTimeout(resolve, 150));
  });
  assert.match(response, /^HTTP\/1\.1 401 /);
  assert.match(response, /"code":"unauthorized"/);
  const tokens = await svc.api('GET', '/v1/tokens');
  assert.equal(tokens.json.data.some((token: { name: string }) => token.name === 'planted'), false, 'no token was created');
});

test('delivery list filters and pages', async () => {
  const local = await Receiver.start();
  const { repoId, base } = await createHook(svc, local.url, { events: ['push', 'tag.created'] });
  for (let i = 0; i < 5; i++) await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(`p${i}`));
  await svc.api('POST', `/v1/repos/${repoId}/events`, { event: 'tag.created', sender: { login: 'o' }, ref: 'refs/tags/v1', tag: 'v1', sha: 'd'.repeat(64) });
  await local.waitFor(6);
  const tags = await svc.api('GET', `${base}/deliveries?event=tag.created`);
  assert.equal(tags.json.data.length, 1);
  const first = await svc.api('GET', `${base}/deliveries?limit=4`);
  assert.equal(first.json.data.length, 4);
  assert.ok(first.json.next_cursor);
  const second = await svc.api('GET', `${base}/deliveries?limit=4&cursor=${first.json.next_cursor}`);
  assert.equal(second.json.data.length, 2);
  assert.equal(second.json.next_cursor, null);
  const ids = new Set([...first.json.data, ...second.json.data].map((d: { id: string }) => d.id));
  assert.equal(ids.size, 6);
  await waitUntil(async () => (await svc.api('GET', `${base}/deliveries?status=delivered`)).json.data.length === 6, 5000, 'six delivered');
  await local.close();
});

test('cursor only pages its own list', async () => {
  const local = await Receiver.start();
  const { repoId, base } = await createHook(svc, local.url, { events: ['push'] });
  const other = await createHook(svc, local.url, { events: ['push'] });
  for (let i = 0; i < 3; i++) await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(`c${i}`));
  const first = await svc.api('GET', `${base}/deliveries?limit=1`);
  const cursor = first.json.next_cursor;
  assert.ok(cursor);
  // Filters are part of a list, so a cursor of the unfiltered list pages no filtered one.
  const elsewhere = [`${other.base}/deliveries?`, '/v1/repos?', `/v1/repos/${repoId}/events?`, `${base}/deliveries?status=failed&`, `${base}/deliveries?event=ping&`];
  for (const path of elsewhere) {
    const res = await svc.api('GET', `${path}cursor=${cursor}`);
    assert.equal(res.status, 400, path);
    assert.equal(res.json.error.details[0].field, 'query.cursor', path);
    assert.match(res.json.error.message, /belongs to another list/, path);
  }
  for (const cut of [1, 2, 3, 4, 8]) {
    const res = await svc.api('GET', `${base}/deliveries?cursor=${cursor.slice(0, -cut)}`);
    assert.equal(res.status, 400, `cursor cut by ${cut}`);
    assert.equal(res.json.error.details[0].field, 'query.cursor');
  }
  await local.close();
});

test('health endpoints answer', async () => {
  assert.equal((await svc.api('GET', '/healthz', undefined, { token: '' })).status, 200);
  const ready = await svc.api('GET', '/readyz', undefined, { token: '' });
  assert.equal(ready.json.status, 'ready');
  const metrics = await svc.api('GET', '/metrics', undefined, { token: '' });
  assert.match(metrics.text, /dits_webhook_deliveries_total\{status="delivered",event="push"\}/);
  assert.match(metrics.text, /dits_webhook_queue_size \d+/);
});

test('last admin token cannot be revoked', async () => {
  const tokens = await svc.api('GET', '/v1/tokens');
  const admins = tokens.json.data.filter((t: { scopes: string[]; revoked_at: string | null }) => t.scopes.includes('admin') && t.revoked_at === null);
  assert.equal(admins.length, 1);
  const refused = await svc.api('DELETE', `/v1/tokens/${admins[0].id}`);
  assert.equal(refused.status, 409);
  assert.equal(refused.json.error.code, 'last_admin_token');
  const second = await svc.api('POST', '/v1/tokens', { name: 'second-admin', scopes: ['admin'] });
  const revoked = await svc.api('DELETE', `/v1/tokens/${admins[0].id}`, undefined, { token: second.json.token });
  assert.equal(revoked.status, 204);
  const stillWorks = await svc.api('GET', '/v1/tokens', undefined, { token: second.json.token });
  assert.equal(stillWorks.status, 200);
});

test('token last use recorded each minute', async () => {
  let now = Date.UTC(2026, 5, 1, 12, 0, 0);
  const timed = await startTestService({ clock: () => now });
  try {
    const created = await timed.api('POST', '/v1/tokens', { name: 'last-use', scopes: ['read'] });
    const lastUsed = async () => {
      const listed = await timed.api('GET', '/v1/tokens');
      return listed.json.data.find((t: { id: number }) => t.id === created.json.id).last_used_at as string | null;
    };
    assert.equal(await lastUsed(), null, 'an unused token has no last use');

    assert.equal((await timed.api('GET', '/v1/repos', undefined, { token: created.json.token })).status, 200);
    await waitUntil(async () => (await lastUsed()) !== null, 2000, 'the first use to be recorded');
    assert.equal(await lastUsed(), '2026-06-01T12:00:00.000Z');

    now += 30_000;
    await timed.api('GET', '/v1/repos', undefined, { token: created.json.token });
    assert.equal(await lastUsed(), '2026-06-01T12:00:00.000Z', 'a use within the minute writes nothing');

    now += 31_000;
    await timed.api('GET', '/v1/repos', undefined, { token: created.json.token });
    await waitUntil(async () => (await lastUsed()) === '2026-06-01T12:01:01.000Z', 2000, 'the later use to be recorded');
  } finally {
    await timed.stop();
  }
});

test('bearer scheme spacing and case', async () => {
  // The file's service has its first admin token revoked by an earlier test, so this one runs its own.
  const own = await startTestService();
  try {
    const headers = (authorization: string) => ({ token: '', headers: { authorization } });
    const twoSpaces = await own.api('GET', '/v1/repos', undefined, headers(`Bearer  ${own.adminToken}`));
    assert.equal(twoSpaces.status, 200, twoSpaces.text);
    assert.equal((await own.api('GET', '/v1/repos', undefined, headers(`bearer ${own.adminToken}`))).status, 200, 'lower-case scheme');
    assert.equal((await own.api('GET', '/v1/repos', undefined, headers(`Bearer${own.adminToken}`))).status, 401, 'no space');
  } finally {
    await own.stop();
  }
});
