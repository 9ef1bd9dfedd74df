// Credentials inside webhook URLs (user:password@ and token-like query
// values) are redacted in API responses, delivery bodies, logs and error
// messages, while the request itself still goes to the full URL.
//
// Network safety: requests go only to a Receiver on 127.0.0.1; other
// addresses are answers of the injected resolver, blocked before connecting.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import type { Resolver } from '../../src/delivery/target-host.js';
import { pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { captureLogs, type CapturedLogs } from './support.js';

const USER = 'hook-user-q8';
const PASSWORD = 'hunter2-pass-x7';
const TOKEN = 'abc-tok-5521';
const CREDENTIALS = [USER, PASSWORD, TOKEN];

let svc: TestService;
let receiver: Receiver;
let logs: CapturedLogs;
let repoId: number;
const answers = new Map<string, string>();
const resolver: Resolver = async (hostname) => {
  const address = answers.get(hostname);
  if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return [{ address, family: 4 }];
};

/** Every response body read in this file, searched once more at the end. */
const seen: string[] = [];

function credentialedUrl(hostAndPort: string): string {
  return `http://${USER}:${PASSWORD}@${hostAndPort}/hook?token=${TOKEN}&team=ops`;
}

function assertNoCredentials(text: string, where: string): void {
  for (const value of CREDENTIALS) assert.ok(!text.includes(value), `${where} contains ${value}: ${text.slice(0, 400)}`);
}

async function call(method: string, path: string, body?: unknown) {
  const res = await svc.api(method, path, body);
  seen.push(res.text);
  return res;
}

async function settledDelivery(base: string, event: string): Promise<any> {
  return waitUntil(async () => {
    const list = await call('GET', `${base}/deliveries?event=${event}`);
    const summary = list.json.data[0];
    if (!summary || summary.status === 'pending') return null;
    return (await call('GET', `${base}/deliveries/${summary.id}`)).json;
  }, 10_000, `${event} delivery of ${base}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

before(async () => {
  receiver = await Receiver.start();
  logs = captureLogs('debug');
  svc = await startTestService({ logger: logs.logger, resolver, overrides: { pollIntervalMs: 50, retrySchedule: [3600] } });
  const repo = await call('POST', '/v1/repos', { owner: 'tenant', name: 'redaction' });
  repoId = repo.json.id;
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

test('API responses show the URL redacted', async () => {
  const created = await call('POST', `/v1/repos/${repoId}/webhooks`, { url: credentialedUrl(`127.0.0.1:${receiver.port}`), events: ['*'] });
  assert.equal(created.status, 201, created.text);
  const expected = `http://REDACTED:REDACTED@127.0.0.1:${receiver.port}/hook?token=REDACTED&team=ops`;
  assert.equal(created.json.url, expected);

  const base = `/v1/repos/${repoId}/webhooks/${created.json.id}`;
  assert.equal((await call('GET', base)).json.url, expected);
  assert.equal((await call('GET', `/v1/repos/${repoId}/webhooks`)).json.data[0].url, expected);
  const patched = await call('PATCH', base, { url: credentialedUrl(`127.0.0.1:${receiver.port}`), events: ['push', 'ping'] });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.url, expected);
});

test('redacted URL sent back is rejected', async () => {
  const hooks = await call('GET', `/v1/repos/${repoId}/webhooks`);
  const redactedUrl = hooks.json.data[0].url as string;
  const base = `/v1/repos/${repoId}/webhooks/${hooks.json.data[0].id}`;
  const patched = await call('PATCH', base, { url: redactedUrl });
  assert.equal(patched.status, 400, patched.text);
  assert.equal(patched.json.error.details[0].field, 'url');
  assert.match(patched.json.error.details[0].message, /placeholder REDACTED/);
  const created = await call('POST', `/v1/repos/${repoId}/webhooks`, { url: redactedUrl, events: ['*'] });
  assert.equal(created.status, 400, created.text);
});

test('ping body and delivery log are redacted', async () => {
  const hooks = await call('GET', `/v1/repos/${repoId}/webhooks`);
  const base = `/v1/repos/${repoId}/webhooks/${hooks.json.data[0].id}`;
  await receiver.waitFor(1);
  const ping = receiver.requests[0];
  assert.equal(ping.headers['x-dits-event'], 'ping');
  // The receiver gets the full query string: redaction applies to what is shown, not to what is sent.
  assert.equal(ping.path, `/hook?token=${TOKEN}&team=ops`);
  const body = JSON.parse(ping.body.toString('utf8'));
  assert.equal(body.hook.url, `http://REDACTED:REDACTED@127.0.0.1:${receiver.port}/hook?token=REDACTED&team=ops`);
  assertNoCredentials(ping.body.toString('utf8'), 'ping body');
  // User name and password travel as Basic credentials, as browsers and GitHub send them.
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  assert.equal(ping.headers.authorization, basic);

  const detail = await settledDelivery(base, 'ping');
  assert.equal(detail.status, 'delivered');
  assertNoCredentials(JSON.stringify(detail), 'ping delivery detail');
  assert.ok(!JSON.stringify(detail).includes(basic.slice('Basic '.length)), 'the delivery log shows the encoded credentials');
  assert.equal(detail.attempts[0].request_headers.authorization, 'Basic [redacted]');
  assert.equal(detail.request.headers.authorization, 'Basic [redacted]');

  await call('POST', `/v1/repos/${repoId}/events`, pushEvent());
  const push = await settledDelivery(base, 'push');
  assert.equal(push.status, 'delivered');
  assertNoCredentials(JSON.stringify(push), 'push delivery detail');
  assertNoCredentials(JSON.stringify((await call('GET', `${base}/deliveries`)).json), 'delivery list');
});

test('failed attempt errors are redacted', async () => {
  answers.set('creds-rebind.example.com', '127.0.0.1');
  const port = await freePort();
  const targets = [
    { name: 'refused', url: credentialedUrl(`127.0.0.1:${port}`), code: 'refused' },
    { name: 'blocked', url: credentialedUrl(`creds-rebind.example.com:${receiver.port}`), code: 'blocked' },
    { name: 'dns', url: credentialedUrl(`creds-missing.example.com:${receiver.port}`), code: 'dns' },
  ];
  for (const target of targets) {
    const created = await call('POST', `/v1/repos/${repoId}/webhooks`, { url: target.url, events: ['push'], active: false });
    assert.equal(created.status, 201, created.text);
    await call('PATCH', `/v1/repos/${repoId}/webhooks/${created.json.id}`, { active: true });
  }
  // Connections to the rebinding host now resolve to a metadata address, which the guard blocks.
  answers.set('creds-rebind.example.com', '169.254.169.254');

  await call('POST', `/v1/repos/${repoId}/events`, pushEvent('second push'));
  const hooks = (await call('GET', `/v1/repos/${repoId}/webhooks`)).json.data.slice(1);
  for (const [index, target] of targets.entries()) {
    const detail = await settledDelivery(`/v1/repos/${repoId}/webhooks/${hooks[index].id}`, 'push');
    assert.equal(detail.attempts[0].error?.code, target.code, `${target.name}: ${JSON.stringify(detail.attempts[0])}`);
    assertNoCredentials(detail.attempts[0].error.message, `${target.name} error message`);
    assertNoCredentials(JSON.stringify(detail), `${target.name} delivery detail`);
  }
});

test('validation errors never echo credentials', async () => {
  const cases: [string, string, number, string][] = [
    ['space in path', `http://${USER}:${PASSWORD}@example.com/a b?token=${TOKEN}`, 400, 'invalid_target_url'],
    ['fragment', `http://${USER}:${PASSWORD}@example.com/a?token=${TOKEN}#frag`, 400, 'invalid_target_url'],
    ['bad host label', `http://${USER}:${PASSWORD}@exa_mple!.com/?token=${TOKEN}`, 400, 'invalid_target_url'],
    ['metadata address', `http://${USER}:${PASSWORD}@169.254.169.254/?token=${TOKEN}`, 422, 'target_blocked'],
    ['internal name', `http://${USER}:${PASSWORD}@metadata.google.internal/?token=${TOKEN}`, 422, 'target_blocked'],
  ];
  for (const [name, url, status, code] of cases) {
    const res = await call('POST', `/v1/repos/${repoId}/webhooks`, { url, events: ['push'] });
    assert.equal(res.status, status, `${name}: ${res.text}`);
    assert.equal(res.json.error.code, code, name);
    assertNoCredentials(res.text, `${name} error response`);
  }
});

test('logs never contain credentials', async () => {
  const lines = logs.lines();
  const attempts = lines.filter((line) => line.msg === 'delivery attempt');
  assert.ok(attempts.length >= 5, `expected the attempts of this file in the log, got ${attempts.length}`);
  assert.ok(lines.some((line) => line.error === 'blocked'), 'the blocked attempt was logged');
  assertNoCredentials(logs.text(), 'log output');
});

test('no response of this file contained credentials', () => {
  assert.ok(seen.length > 20);
  for (const text of seen) assertNoCredentials(text, 'response');
});
