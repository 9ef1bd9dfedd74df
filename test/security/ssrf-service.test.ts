// The address guard through the whole service: API validation at creation,
// and the guarded connector at every delivery attempt.
//
// Network safety: the only sockets opened go to Receivers on 127.0.0.1 that
// this file starts. Every other address (203.0.113.0/24, 169.254.169.254) is
// an answer of the injected resolver and is never connected to.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Resolver } from '../../src/delivery/target-host.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';

/** A resolver that returns the addresses each test sets per host name, and counts lookups. */
class ScriptedResolver {
  readonly answers = new Map<string, string[]>();
  readonly lookups: string[] = [];

  readonly resolve: Resolver = async (hostname) => {
    this.lookups.push(hostname);
    const addresses = this.answers.get(hostname);
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }) as const);
  };
}

async function ingestPush(svc: TestService, repoId: number): Promise<void> {
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent());
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.deliveries, 1);
}

/** Waits for the only delivery of a webhook to leave pending, then returns its detail. */
async function settledDelivery(svc: TestService, base: string): Promise<any> {
  return waitUntil(async () => {
    const list = await svc.api('GET', `${base}/deliveries`);
    const summary = list.json.data[0];
    if (!summary || summary.status === 'pending') return null;
    return (await svc.api('GET', `${base}/deliveries/${summary.id}`)).json;
  }, 10_000, `first attempt of ${base}`);
}

async function createRepo(svc: TestService, name: string): Promise<number> {
  const repo = await svc.api('POST', '/v1/repos', { owner: 'tenant', name });
  assert.equal(repo.status, 201, repo.text);
  return repo.json.id;
}

describe('default policy: private targets blocked', () => {
  let svc: TestService;
  let receiver: Receiver;
  const resolver = new ScriptedResolver();
  let repoId: number;

  before(async () => {
    receiver = await Receiver.start();
    svc = await startTestService({
      resolver: resolver.resolve,
      // The documentation range plays the public address that the rebinding host resolves to when the webhook is saved.
      // 127.0.0.3 is an allowed address that nothing listens on.
      overrides: { allowPrivateTargets: false, allowCidrs: ['203.0.113.0/24', '127.0.0.3/32'], pollIntervalMs: 50 },
    });
    repoId = await createRepo(svc, 'ssrf-default');
  });

  after(async () => {
    await svc.stop();
    await receiver.close();
  });

  const port = () => receiver.port;
  const loopbackSpellings: [string, () => string][] = [
    ['dotted decimal', () => `http://127.0.0.1:${port()}/hook`],
    ['single decimal number', () => `http://2130706433:${port()}/hook`],
    ['octal dotted', () => `http://0177.0.0.1:${port()}/hook`],
    ['hex dotted', () => `http://0x7f.0.0.1:${port()}/hook`],
    ['single hex number', () => `http://0x7f000001:${port()}/hook`],
    ['single octal number', () => `http://017700000001:${port()}/hook`],
    ['short form', () => `http://127.1:${port()}/hook`],
    ['other loopback address', () => `http://127.0.0.2:${port()}/hook`],
    ['IPv6 loopback', () => `http://[::1]:${port()}/hook`],
    ['IPv4-mapped IPv6', () => `http://[::ffff:127.0.0.1]:${port()}/hook`],
    ['localhost', () => `http://localhost:${port()}/hook`],
    ['localhost with trailing dot', () => `http://LOCALHOST.:${port()}/hook`],
    ['localhost subdomain', () => `http://api.localhost:${port()}/hook`],
  ];

  for (const [name, url] of loopbackSpellings) {
    test(`creation rejects loopback as ${name}`, async () => {
      const res = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url: url(), events: ['push'], secret: 'ssrf-test-secret-0001' });
      assert.equal(res.status, 422, res.text);
      assert.equal(res.json.error.code, 'target_blocked');
      assert.match(res.json.error.message, /blocked by the server configuration/);
      assert.equal(res.json.error.details[0].field, 'url');
    });
  }

  test('PATCH to a loopback URL is rejected', async () => {
    resolver.answers.set('public-hook.example.com', ['203.0.113.20']);
    const created = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, {
      url: 'http://public-hook.example.com/hook',
      events: ['push'],
      active: false,
    });
    assert.equal(created.status, 201, created.text);
    const patched = await svc.api('PATCH', `/v1/repos/${repoId}/webhooks/${created.json.id}`, { url: `http://0x7f000001:${port()}/hook` });
    assert.equal(patched.status, 422, patched.text);
    assert.equal(patched.json.error.code, 'target_blocked');
    const shown = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${created.json.id}`);
    assert.equal(shown.json.url, 'http://public-hook.example.com/hook');
  });

  test('rejected creations opened no connection', () => {
    assert.equal(receiver.connections, 0);
    assert.equal(receiver.requests.length, 0);
  });

  test('DNS rebinding to loopback is blocked at the attempt', async () => {
    const host = 'rebind.example.com';
    resolver.answers.set(host, ['203.0.113.10']);
    const hook = await createHook(svc, `http://${host}:${port()}/hook`, { name: 'rebinding' });
    assert.ok(resolver.lookups.includes(host), 'creation resolved the host');

    resolver.answers.set(host, ['127.0.0.1']);
    const lookupsBefore = resolver.lookups.filter((name) => name === host).length;
    await ingestPush(svc, hook.repoId);
    const delivery = await settledDelivery(svc, hook.base);

    assert.equal(delivery.status, 'failed');
    assert.equal(delivery.attempts.length, 1);
    const attempt = delivery.attempts[0];
    assert.equal(attempt.status_code, null);
    assert.equal(attempt.error.code, 'blocked');
    assert.match(attempt.error.message, /rebind\.example\.com, which resolves to 127\.0\.0\.1 \(loopback\), are blocked/);
    assert.ok(resolver.lookups.filter((name) => name === host).length > lookupsBefore, 'the attempt resolved the host again');
    assert.equal(receiver.connections, 0, 'the loopback receiver saw no connection');
    assert.equal(receiver.requests.length, 0);
  });

  test('blocked delivery is not retried', async () => {
    const host = 'mixed-answers.example.com';
    resolver.answers.set(host, ['127.0.0.3']);
    const hook = await createHook(svc, `http://${host}:${port()}/hook`, { name: 'rebinding-mixed' });
    // One allowed and one blocked address, both on loopback: the guard rejects the host rather than picking the allowed address.
    resolver.answers.set(host, ['127.0.0.3', '127.0.0.1']);
    await ingestPush(svc, hook.repoId);
    const delivery = await settledDelivery(svc, hook.base);
    assert.equal(delivery.status, 'failed', 'a blocked address is final, not retrying');
    assert.equal(delivery.next_attempt_at, null);
    assert.equal(delivery.attempts[0].error.code, 'blocked');
    assert.equal(receiver.connections, 0);
  });
});

describe('allowCidrs opens one address', () => {
  let svc: TestService;
  let receiver: Receiver;
  let repoId: number;

  before(async () => {
    receiver = await Receiver.start();
    svc = await startTestService({ overrides: { allowPrivateTargets: false, allowCidrs: ['127.0.0.1/32'], pollIntervalMs: 50 } });
    repoId = await createRepo(svc, 'ssrf-allow-cidr');
  });

  after(async () => {
    await svc.stop();
    await receiver.close();
  });

  test('listed loopback address delivers', async () => {
    const hook = await createHook(svc, receiver.url, { name: 'allowed-cidr' });
    await ingestPush(svc, hook.repoId);
    const delivery = await settledDelivery(svc, hook.base);
    assert.equal(delivery.status, 'delivered');
    assert.equal(receiver.requests.length, 1);
  });

  const neighbours: [string, () => string][] = [
    ['127.0.0.2', () => `http://127.0.0.2:${receiver.port}/hook`],
    ['::1', () => `http://[::1]:${receiver.port}/hook`],
    ['10.0.0.1', () => 'http://10.0.0.1/hook'],
    ['169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/'],
  ];
  for (const [name, url] of neighbours) {
    test(`unlisted ${name} stays blocked`, async () => {
      const res = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url: url(), events: ['push'] });
      assert.equal(res.status, 422, res.text);
      assert.equal(res.json.error.code, 'target_blocked');
    });
  }
});

describe('allowPrivateTargets keeps metadata blocked', () => {
  let svc: TestService;
  let receiver: Receiver;
  const resolver = new ScriptedResolver();
  let repoId: number;

  before(async () => {
    receiver = await Receiver.start();
    svc = await startTestService({ resolver: resolver.resolve, overrides: { allowPrivateTargets: true, pollIntervalMs: 50 } });
    repoId = await createRepo(svc, 'ssrf-metadata');
  });

  after(async () => {
    await svc.stop();
    await receiver.close();
  });

  const metadataUrls = [
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://100.100.100.200/latest/meta-data/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://[::ffff:169.254.169.254]/latest/meta-data/',
    'http://0xa9fea9fe/latest/meta-data/',
  ];
  for (const url of metadataUrls) {
    test(`creation rejects ${url}`, async () => {
      const res = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url, events: ['push'] });
      assert.equal(res.status, 422, res.text);
      assert.equal(res.json.error.code, 'target_blocked');
    });
  }

  test('name rebound to metadata is blocked at the attempt', async () => {
    const host = 'meta-rebind.example.com';
    resolver.answers.set(host, ['127.0.0.1']);
    const hook = await createHook(svc, `http://${host}:${receiver.port}/latest/meta-data/`, { name: 'metadata-rebind' });
    resolver.answers.set(host, ['169.254.169.254']);
    await ingestPush(svc, hook.repoId);
    const delivery = await settledDelivery(svc, hook.base);
    assert.equal(delivery.status, 'failed');
    assert.equal(delivery.attempts[0].status_code, null);
    assert.equal(delivery.attempts[0].error.code, 'blocked');
    assert.match(delivery.attempts[0].error.message, /169\.254\.169\.254 \(cloud metadata service\)/);
    assert.match(delivery.attempts[0].error.message, /listing it exactly in allowCidrs \(--allow-cidr, DITS_WEBHOOKS_ALLOW_CIDRS\)/);
  });

  test('metadata beside loopback blocks the whole host', async () => {
    const host = 'mixed-answers.example.com';
    resolver.answers.set(host, ['127.0.0.1']);
    const hook = await createHook(svc, `http://${host}:${receiver.port}/hook`, { name: 'metadata-mixed' });
    // The loopback address alone would be allowed here and would reach the receiver.
    resolver.answers.set(host, ['127.0.0.1', '169.254.169.254']);
    await ingestPush(svc, hook.repoId);
    const delivery = await settledDelivery(svc, hook.base);
    assert.equal(delivery.status, 'failed');
    assert.equal(delivery.attempts[0].error.code, 'blocked');
    assert.equal(receiver.connections, 0, 'no connection reached the loopback receiver');
  });

  test('loopback still delivers with allowPrivateTargets', async () => {
    const hook = await createHook(svc, receiver.url, { name: 'private-allowed' });
    await ingestPush(svc, hook.repoId);
    const delivery = await settledDelivery(svc, hook.base);
    assert.equal(delivery.status, 'delivered');
    assert.equal(receiver.requests.length, 1);
  });
});
