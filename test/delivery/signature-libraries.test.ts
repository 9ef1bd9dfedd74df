/**
 * Verifies real deliveries with the libraries that receivers use: the
 * `standardwebhooks` package for the webhook-* headers and
 * `@octokit/webhooks-methods` for X-Hub-Signature-256, next to this project's
 * own verifyHubSignature and verifyStandardWebhook.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { verify as octokitVerify } from '@octokit/webhooks-methods';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { verifyHubSignature, verifyStandardWebhook, WebhookVerificationError as DitsVerificationError } from '../../src/signing/verify.js';
import { Receiver, type ReceivedRequest } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';

const WAIT_MS = 8_000;
const SENDER = { id: 456, login: 'octocat', type: 'user' };

const PUSH_FIELDS = {
  sender: SENDER,
  ref: 'refs/heads/main',
  before: '0'.repeat(64),
  after: 'c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8',
  commits: [
    {
      id: 'c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8',
      message: 'Añadir metraje 🎬\n\n"cut" C:\\renders 日本語',
      author: { name: 'Zoë Ångström', email: 'zoe@example.com' },
      added: ['música/tema.wav'],
      stats: { frames: 86400, fps: 23.976, ratio: 1e-7, max_safe: 9007199254740991 },
    },
  ],
};

type Headers = Record<string, string>;

/** Builds a whsec_ secret the way the service generates them: base64 of 32 random bytes. */
function newWhsecSecret(): string {
  return 'whsec_' + randomBytes(32).toString('base64');
}

function header(request: ReceivedRequest, name: string): string {
  const value = request.headers[name];
  assert.equal(typeof value, 'string', `header ${name} of the delivery`);
  return value as string;
}

/** Collects the three Standard Webhooks headers into the string record that standardwebhooks' verify expects. */
function standardHeaders(request: ReceivedRequest): Headers {
  return {
    'webhook-id': header(request, 'webhook-id'),
    'webhook-timestamp': header(request, 'webhook-timestamp'),
    'webhook-signature': header(request, 'webhook-signature'),
  };
}

/** Returns a copy of `body` with the byte at `index` changed. */
function withFlippedByte(body: Buffer, index: number): Buffer {
  const copy = Buffer.from(body);
  copy[index] ^= 0x01;
  return copy;
}

/**
 * Makes standardwebhooks verifiers for a secret. standardwebhooks 1.3.0
 * base64-decodes every string secret, with or without the whsec_ prefix, so a
 * plain secret needs `format: 'raw'`. Its raw mode keeps only the low byte of
 * each character of a string, so a non-ASCII secret must be passed as UTF-8 bytes.
 */
function standardVerifiers(secret: string): Webhook[] {
  if (secret.startsWith('whsec_')) return [new Webhook(secret), new Webhook(secret.slice('whsec_'.length))];
  return [new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' })];
}

/** Asserts that every verifier accepts the delivery as it arrived. */
async function assertAccepted(secret: string, request: ReceivedRequest): Promise<void> {
  const headers = standardHeaders(request);
  const hub = header(request, 'x-hub-signature-256');
  for (const verifier of standardVerifiers(secret)) {
    assert.deepEqual(verifier.verify(request.body, headers), JSON.parse(request.body.toString('utf8')));
  }
  assert.equal(await octokitVerify(secret, request.body.toString('utf8'), hub), true, 'octokit verify');
  assert.equal(verifyHubSignature(secret, request.body, hub), true, 'verifyHubSignature');
  assert.doesNotThrow(() => verifyStandardWebhook(secret, request.body, headers));
}

/** Asserts that every verifier rejects the delivery with `body` and `headers` in place of what arrived. */
async function assertRejected(secret: string, request: ReceivedRequest, body: Buffer, headers: Headers, change: string): Promise<void> {
  for (const verifier of standardVerifiers(secret)) {
    assert.throws(() => verifier.verify(body, headers), WebhookVerificationError, `standardwebhooks with ${change}`);
  }
  assert.throws(() => verifyStandardWebhook(secret, body, headers), DitsVerificationError, `verifyStandardWebhook with ${change}`);
  const hub = header(request, 'x-hub-signature-256');
  assert.equal(await octokitVerify(secret, body.toString('utf8'), hub), false, `octokit verify with ${change}`);
  assert.equal(verifyHubSignature(secret, body, hub), false, `verifyHubSignature with ${change}`);
}

/** Breaks one thing at a time: one body byte, the timestamp (both signed and too old), the secret. */
async function assertTamperingRejected(secret: string, otherSecret: string, request: ReceivedRequest): Promise<void> {
  const headers = standardHeaders(request);
  await assertRejected(secret, request, withFlippedByte(request.body, Math.floor(request.body.length / 2)), headers, 'one body byte changed');

  const timestamp = Number(headers['webhook-timestamp']);
  for (const changed of [timestamp + 1, timestamp - 600]) {
    const moved = { ...headers, 'webhook-timestamp': String(changed) };
    for (const verifier of standardVerifiers(secret)) {
      assert.throws(() => verifier.verify(request.body, moved), WebhookVerificationError, `standardwebhooks with timestamp ${changed}`);
    }
    assert.throws(() => verifyStandardWebhook(secret, request.body, moved), DitsVerificationError, `verifyStandardWebhook with timestamp ${changed}`);
  }

  await assertRejected(otherSecret, request, request.body, headers, 'another secret');
}

describe('signature libraries', () => {
  let service: TestService;
  let receiver: Receiver;
  let repoCount = 0;

  before(async () => {
    service = await startTestService();
    receiver = await Receiver.start();
  });

  after(async () => {
    await receiver?.close();
    await service?.stop();
  });

  async function createRepo(): Promise<number> {
    repoCount++;
    const res = await service.api('POST', '/v1/repos', { owner: 'user', name: `signed-${repoCount}` });
    assert.equal(res.status, 201, res.text);
    return res.json.id as number;
  }

  async function createHook(repoId: number, secret?: string): Promise<{ id: number; secret: string }> {
    const body: Record<string, unknown> = { url: receiver.url, events: ['push', 'repo.created'], active: true };
    if (secret !== undefined) body.secret = secret;
    const res = await service.api('POST', `/v1/repos/${repoId}/webhooks`, body);
    assert.equal(res.status, 201, res.text);
    if (secret !== undefined) {
      assert.equal(res.json.secret, undefined, 'a given secret is never returned');
      return { id: res.json.id, secret };
    }
    assert.equal(typeof res.json.secret, 'string', 'a generated secret is returned once');
    return { id: res.json.id, secret: res.json.secret };
  }

  /** Waits for the request of one webhook and event that the receiver got, and returns it. */
  async function received(hookId: number, event: string): Promise<ReceivedRequest> {
    const find = () => receiver.requests.find((r) => r.headers['x-dits-hook-id'] === String(hookId) && r.headers['x-dits-event'] === event);
    const request = await waitUntil(find, WAIT_MS, `${event} delivery of webhook ${hookId}`);
    assert.ok(request);
    return request;
  }

  async function ingestPush(repoId: number): Promise<void> {
    const res = await service.api('POST', `/v1/repos/${repoId}/events`, { event: 'push', ...PUSH_FIELDS });
    assert.equal(res.status, 202, res.text);
  }

  const SECRETS = [
    { name: 'generated whsec_ secret', secret: undefined },
    { name: 'plain user secret', secret: 'your_webhook_secret' },
    { name: 'non-ASCII user secret', secret: 'clé-secrète-🎬-montaje-2026' },
  ];

  for (const { name, secret } of SECRETS) {
    test(`${name} verifies`, async () => {
      const repoId = await createRepo();
      const hook = await createHook(repoId, secret);
      if (secret === undefined) {
        assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
        assert.equal(Buffer.from(hook.secret.slice('whsec_'.length), 'base64').length, 32);
      }
      const otherSecret = secret === undefined ? newWhsecSecret() : `${secret}-other`;

      const ping = await received(hook.id, 'ping');
      await assertAccepted(hook.secret, ping);
      await assertTamperingRejected(hook.secret, otherSecret, ping);

      await ingestPush(repoId);
      const push = await received(hook.id, 'push');
      assert.equal(JSON.parse(push.body.toString('utf8')).commits[0].message, PUSH_FIELDS.commits[0].message);
      await assertAccepted(hook.secret, push);
      await assertTamperingRejected(hook.secret, otherSecret, push);
    });
  }

  test('fetch and mixed-case headers verify', async () => {
    const repoId = await createRepo();
    const hook = await createHook(repoId);
    const ping = await received(hook.id, 'ping');
    const headers = standardHeaders(ping);

    // Fetch-style handlers (Hono, Next, Bun) pass a WHATWG Headers object, whose get() ignores letter case.
    const fetchHeaders = new Headers(headers);
    assert.doesNotThrow(() => verifyStandardWebhook(hook.secret, ping.body, fetchHeaders), 'Headers object');

    const capitalised = { 'Webhook-Id': headers['webhook-id'], 'WEBHOOK-TIMESTAMP': headers['webhook-timestamp'], 'Webhook-Signature': headers['webhook-signature'] };
    assert.doesNotThrow(() => verifyStandardWebhook(hook.secret, ping.body, capitalised), 'plain object with capitalised keys');

    const arrays = { 'webhook-id': [headers['webhook-id']], 'webhook-timestamp': [headers['webhook-timestamp']], 'webhook-signature': [headers['webhook-signature']] };
    assert.doesNotThrow(() => verifyStandardWebhook(hook.secret, ping.body, arrays), 'plain object with array values');

    const flipped = withFlippedByte(ping.body, Math.floor(ping.body.length / 2));
    assert.throws(() => verifyStandardWebhook(hook.secret, flipped, fetchHeaders), /no webhook-signature entry matches the body/);
    assert.throws(() => verifyStandardWebhook(hook.secret, flipped, capitalised), /no webhook-signature entry matches the body/);

    const hub = header(ping, 'x-hub-signature-256');
    const fetchHub = new Headers({ 'X-Hub-Signature-256': hub });
    assert.equal(verifyHubSignature(hook.secret, ping.body, fetchHub.get('x-hub-signature-256')), true, 'value from Headers.get');
    assert.equal(verifyHubSignature(hook.secret, ping.body, [hub]), true, 'array value as node:http types it');
    assert.equal(verifyHubSignature(hook.secret, ping.body, fetchHub.get('x-hub-signature')), false, 'absent header (null)');
    assert.equal(verifyHubSignature(hook.secret, flipped, [hub]), false, 'array value with a changed body');
  });

  test('missing standard headers are named', () => {
    const body = Buffer.from('{}');
    const onlyId = new Headers({ 'Webhook-Id': 'msg_1' });
    assert.throws(() => verifyStandardWebhook('secret', body, onlyId), (error: unknown) => {
      assert.ok(error instanceof DitsVerificationError);
      assert.match(error.message, /^missing webhook-timestamp, webhook-signature headers; pass the request headers unchanged/);
      return true;
    });
    assert.throws(() => verifyStandardWebhook('secret', body, { 'Webhook-Id': 'msg_1', 'Webhook-Timestamp': '1' }), /: missing webhook-signature header;/);
    assert.throws(() => verifyStandardWebhook('secret', body, {}), /: missing webhook-id, webhook-timestamp, webhook-signature headers;/);
  });

  test('plain secret needs raw format', () => {
    // standardwebhooks reads a string secret as base64, which a typical user secret is not.
    assert.throws(() => new Webhook('your_webhook_secret'), /base64/i);
  });

  test('rotation signs with both secrets', async () => {
    const repoId = await createRepo();
    const hook = await createHook(repoId);
    const oldSecret = hook.secret;
    await received(hook.id, 'ping');

    const newSecret = newWhsecSecret();
    const patched = await service.api('PATCH', `/v1/repos/${repoId}/webhooks/${hook.id}`, { secret: newSecret });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.secret, undefined);
    assert.notEqual(patched.json.previous_secret_expires_at, null);

    await ingestPush(repoId);
    const push = await received(hook.id, 'push');
    const headers = standardHeaders(push);
    const signatures = headers['webhook-signature'].split(' ');
    assert.equal(signatures.length, 2);
    for (const signature of signatures) assert.match(signature, /^v1,[A-Za-z0-9+/]{43}=$/);

    // Standard Webhooks carries one signature per valid secret, so receivers on either secret accept the delivery.
    for (const secret of [oldSecret, newSecret]) {
      for (const verifier of standardVerifiers(secret)) assert.ok(verifier.verify(push.body, headers));
      assert.doesNotThrow(() => verifyStandardWebhook(secret, push.body, headers));
    }

    // X-Hub-Signature-256 carries one signature, made with the new secret.
    const hub = header(push, 'x-hub-signature-256');
    const text = push.body.toString('utf8');
    assert.equal(await octokitVerify(newSecret, text, hub), true, 'octokit verify with the new secret');
    assert.equal(await octokitVerify(oldSecret, text, hub), false, 'octokit verify with the old secret');
    assert.equal(verifyHubSignature(newSecret, push.body, hub), true);
    assert.equal(verifyHubSignature(oldSecret, push.body, hub), false);

    const flipped = withFlippedByte(push.body, Math.floor(push.body.length / 2));
    for (const secret of [oldSecret, newSecret]) {
      for (const verifier of standardVerifiers(secret)) assert.throws(() => verifier.verify(flipped, headers), WebhookVerificationError);
      assert.throws(() => verifyStandardWebhook(secret, flipped, headers), DitsVerificationError);
    }
    await assertRejected(newWhsecSecret(), push, push.body, headers, 'an unrelated secret');
  });
});
