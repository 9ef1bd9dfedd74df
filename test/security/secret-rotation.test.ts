// Secret rotation. During the overlap window `webhook-signature` carries the
// new signature first and the old one second, and `X-Hub-Signature-256` uses
// only the new secret. Retries made after a rotation use the current secret.
// After the window only the new secret signs.
//
// Network safety: deliveries go only to Receivers on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { verifyHubSignature, verifyStandardWebhook } from '../../src/signing/verify.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { Receiver, type ReceivedRequest } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';

const OVERLAP_SECONDS = 86_400;
let now = Date.UTC(2026, 8, 1, 10, 0, 0);
let svc: TestService;

before(async () => {
  svc = await startTestService({
    clock: () => now,
    overrides: { retrySchedule: [60, 60, 60], retryJitter: 0, pollIntervalMs: 50, secretRotationOverlapSeconds: OVERLAP_SECONDS },
  });
});

after(async () => {
  await svc.stop();
});

function advance(ms: number): void {
  now += ms;
  svc.worker?.notify();
}

/** Checks one `webhook-signature` entry on its own against a secret. */
function entryVerifies(request: ReceivedRequest, entry: string, secret: string): boolean {
  const headers = { ...(request.headers as Record<string, string>), 'webhook-signature': entry };
  try {
    verifyStandardWebhook(secret, request.body, headers, { nowSeconds: Math.floor(now / 1000) });
    return true;
  } catch {
    return false;
  }
}

function signatureEntries(request: ReceivedRequest): string[] {
  return (request.headers['webhook-signature'] as string).split(' ');
}

function hubVerifies(request: ReceivedRequest, secret: string): boolean {
  return verifyHubSignature(secret, request.body, request.headers['x-hub-signature-256'] as string);
}

async function rotate(base: string, secret: string): Promise<any> {
  const res = await svc.api('PATCH', base, { secret });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.secret, undefined);
  return res.json;
}

async function ingest(repoId: number): Promise<void> {
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent());
  assert.equal(res.status, 202, res.text);
}

test('overlap signs with both, new first', async () => {
  const receiver = await Receiver.start();
  const oldSecret = 'old-plain-secret-R7t5Y3';
  const newSecret = 'whsec_' + Buffer.alloc(32, 0x5a).toString('base64');
  const hook = await createHook(svc, receiver.url, { secret: oldSecret, name: 'rotation-overlap' });

  const view = await rotate(hook.base, newSecret);
  assert.equal(view.previous_secret_expires_at, new Date(now + OVERLAP_SECONDS * 1000).toISOString());

  await ingest(hook.repoId);
  await receiver.waitFor(1);
  const during = receiver.requests[0];
  const [first, second, ...rest] = signatureEntries(during);
  assert.equal(rest.length, 0, 'exactly two signatures during the overlap');
  assert.ok(entryVerifies(during, first, newSecret), 'the first signature is made with the new secret');
  assert.ok(!entryVerifies(during, first, oldSecret));
  assert.ok(entryVerifies(during, second, oldSecret), 'the second signature is made with the old secret');
  assert.ok(!entryVerifies(during, second, newSecret));
  assert.ok(hubVerifies(during, newSecret), 'X-Hub-Signature-256 uses the new secret');
  assert.ok(!hubVerifies(during, oldSecret));

  advance(OVERLAP_SECONDS * 1000 + 1000);
  assert.equal((await svc.api('GET', hook.base)).json.previous_secret_expires_at, null);
  await ingest(hook.repoId);
  await receiver.waitFor(2);
  const afterwards = receiver.requests[1];
  assert.deepEqual(signatureEntries(afterwards).length, 1, 'one signature after the overlap');
  assert.ok(entryVerifies(afterwards, signatureEntries(afterwards)[0], newSecret));
  assert.ok(!entryVerifies(afterwards, signatureEntries(afterwards)[0], oldSecret));
  assert.ok(hubVerifies(afterwards, newSecret));
  await receiver.close();
});

test('retry after rotation uses current secret', async () => {
  const receiver = await Receiver.start();
  receiver.respondStatus(500);
  const previous = 'before-rotation-secret-P2o4';
  const current = 'after-rotation-secret-Z1x3';
  const hook = await createHook(svc, receiver.url, { secret: previous, name: 'rotation-retry' });

  await ingest(hook.repoId);
  await receiver.waitFor(1);
  const list = await waitUntil(async () => {
    const res = await svc.api('GET', `${hook.base}/deliveries`);
    return res.json.data[0]?.status === 'retrying' ? res.json.data : null;
  }, 10_000, 'delivery retrying');
  const firstAttempt = receiver.requests[0];
  assert.ok(hubVerifies(firstAttempt, previous));
  assert.equal(signatureEntries(firstAttempt).length, 1);

  await rotate(hook.base, current);
  receiver.respondStatus(200);
  advance(61_000);
  await receiver.waitFor(2);
  const retry = receiver.requests[1];
  assert.equal(retry.headers['x-dits-delivery'], list[0].id, 'the retry is the same delivery');
  assert.deepEqual(retry.body, firstAttempt.body, 'the retry sends the same bytes');
  assert.ok(hubVerifies(retry, current), 'X-Hub-Signature-256 of the retry uses the current secret');
  assert.ok(!hubVerifies(retry, previous));
  const [first, second] = signatureEntries(retry);
  assert.ok(entryVerifies(retry, first, current));
  assert.ok(entryVerifies(retry, second, previous));
  await receiver.close();
});

test('second rotation drops the oldest secret', async () => {
  const receiver = await Receiver.start();
  const secrets = ['generation-one-secret-A1', 'generation-two-secret-B2', 'generation-three-secret-C3'];
  const hook = await createHook(svc, receiver.url, { secret: secrets[0], name: 'rotation-twice' });
  await rotate(hook.base, secrets[1]);
  advance(1000);
  await rotate(hook.base, secrets[2]);

  await ingest(hook.repoId);
  await receiver.waitFor(1);
  const request = receiver.requests[0];
  const entries = signatureEntries(request);
  assert.equal(entries.length, 2);
  assert.ok(entryVerifies(request, entries[0], secrets[2]));
  assert.ok(entryVerifies(request, entries[1], secrets[1]));
  assert.ok(!entries.some((entry) => entryVerifies(request, entry, secrets[0])), 'the first secret no longer signs');
  await receiver.close();
});

test('same secret again changes nothing', async () => {
  const receiver = await Receiver.start();
  const secrets = ['first-secret-of-three-D4', 'second-secret-of-three-E5'];
  const hook = await createHook(svc, receiver.url, { secret: secrets[0], name: 'rotation-repeated' });
  const rotated = await rotate(hook.base, secrets[1]);
  advance(1000);
  const repeated = await rotate(hook.base, secrets[1]);
  assert.equal(repeated.previous_secret_expires_at, rotated.previous_secret_expires_at, 'the overlap keeps its end');

  await ingest(hook.repoId);
  await receiver.waitFor(1);
  const request = receiver.requests[0];
  const entries = signatureEntries(request);
  assert.equal(entries.length, 2);
  assert.ok(entryVerifies(request, entries[0], secrets[1]));
  assert.ok(entryVerifies(request, entries[1], secrets[0]), 'the previous secret still signs');
  await receiver.close();
});
