import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';

/** A clock the test moves by hand, so that retries minutes or hours away happen at once. */
let now = Date.UTC(2026, 5, 1, 12, 0, 0);
let svc: TestService;
let receiver: Receiver;

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService({
    clock: () => now,
    random: () => 0.5,
    overrides: { deliveryTimeoutMs: 400, leaseMs: 5000, responseBodyLimitBytes: 65536, pollIntervalMs: 50 },
  });
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

/** Moves the clock forward and wakes the worker. */
function advance(ms: number): void {
  now += ms;
  svc.worker?.notify();
}

async function ingestOne(repoId: number, message = 'Add new footage'): Promise<void> {
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(message));
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.deliveries, 1);
}

async function onlyDelivery(base: string): Promise<any> {
  const list = await svc.api('GET', `${base}/deliveries`);
  assert.equal(list.status, 200);
  assert.equal(list.json.data.length, 1);
  const detail = await svc.api('GET', `${base}/deliveries/${list.json.data[0].id}`);
  assert.equal(detail.status, 200);
  return detail.json;
}

async function settled(base: string, status: string, attempts: number): Promise<any> {
  return waitUntil(async () => {
    const detail = await onlyDelivery(base);
    return detail.status === status && detail.attempts.length === attempts ? detail : null;
  }, 10_000, `delivery ${status} after ${attempts} attempts`);
}

const statusCases: [number, string][] = [
  [200, 'delivered'],
  [202, 'delivered'],
  [500, 'retrying'],
  [502, 'retrying'],
  [408, 'retrying'],
  [429, 'retrying'],
  [400, 'failed'],
  [404, 'failed'],
  [422, 'failed'],
];

for (const [code, expected] of statusCases) {
  test(`HTTP ${code} response gives ${expected}`, async () => {
    const local = await Receiver.start();
    local.respondStatus(code, { 'x-reply': 'yes' }, `status ${code}`);
    const { repoId, base } = await createHook(svc, local.url);
    await ingestOne(repoId);
    const detail = await settled(base, expected, 1);
    assert.equal(detail.attempts[0].status_code, code);
    assert.equal(detail.attempts[0].response.headers['x-reply'], 'yes');
    assert.equal(detail.attempts[0].response.body, `status ${code}`);
    if (expected === 'retrying') assert.equal(detail.next_attempt_at, new Date(now + 60_000).toISOString());
    else assert.equal(detail.next_attempt_at, null);
    await local.close();
  });
}

test('redirect is recorded and never followed', async () => {
  const target = await Receiver.start();
  const local = await Receiver.start();
  local.respondStatus(301, { location: target.url });
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const detail = await settled(base, 'failed', 1);
  assert.equal(detail.attempts[0].status_code, 301);
  assert.equal(detail.attempts[0].response.headers.location, target.url);
  assert.equal(detail.attempts[0].error.code, 'redirect_not_followed');
  assert.match(detail.attempts[0].error.message, /not followed/);
  assert.equal(target.requests.length, 0);
  assert.equal(target.connections, 0);
  await Promise.all([target.close(), local.close()]);
});

test('redirect target secrets are redacted', async () => {
  const local = await Receiver.start();
  const cases: [string, string][] = [
    ['https://127.0.0.1/hook?token=SECRET123&page=2', 'https://127.0.0.1/hook?token=REDACTED&page=2'],
    ['/hook?api_key=SECRET123', '/hook?api_key=REDACTED'],
    ['//127.0.0.2/hook?sig=SECRET123', '//127.0.0.2/hook?sig=REDACTED'],
  ];
  for (const [location, shown] of cases) {
    local.respondStatus(302, { location });
    const { repoId, base } = await createHook(svc, local.url);
    await ingestOne(repoId);
    const detail = await settled(base, 'failed', 1);
    assert.equal(detail.attempts[0].response.headers.location, shown);
    assert.equal(detail.attempts[0].error.message, `redirect to ${shown} not followed`);
    assert.ok(!JSON.stringify(detail).includes('SECRET123'), `no secret of ${location} in the delivery`);
  }
  await local.close();
});

test('timeout before headers gives retrying', async () => {
  const local = await Receiver.start();
  local.respondWith(async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    res.end('late');
  });
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const detail = await settled(base, 'retrying', 1);
  assert.equal(detail.attempts[0].status_code, null);
  assert.equal(detail.attempts[0].error.code, 'timeout');
  await local.close();
});

test('slow body after fast headers still delivers', async () => {
  const local = await Receiver.start();
  local.respondWith(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('start');
    await new Promise((resolve) => setTimeout(resolve, 800));
    res.end('end');
  });
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const detail = await settled(base, 'delivered', 1);
  assert.equal(detail.attempts[0].status_code, 200);
  await local.close();
});

test('connection refused gives retrying', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const p = (probe.address() as { port: number }).port;
      probe.close(() => resolve(p));
    });
  });
  const { repoId, base } = await createHook(svc, `http://127.0.0.1:${port}/hook`);
  await ingestOne(repoId);
  const detail = await settled(base, 'retrying', 1);
  assert.equal(detail.attempts[0].error.code, 'refused');
});

test('connection reset gives retrying', async () => {
  const local = await Receiver.start();
  local.respondWith((_req, res) => {
    res.socket?.destroy();
  });
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const detail = await settled(base, 'retrying', 1);
  assert.equal(detail.attempts[0].error.code, 'reset');
  await local.close();
});

test('response body is cut at 64 KiB', async () => {
  const local = await Receiver.start();
  local.respondStatus(200, {}, 'x'.repeat(100 * 1024));
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const detail = await settled(base, 'delivered', 1);
  assert.equal(detail.attempts[0].response.body.length, 65536);
  assert.equal(detail.attempts[0].response.body_truncated, true);
  await local.close();
});

test('schedule runs eight attempts then fails', async () => {
  const local = await Receiver.start();
  local.respondStatus(500);
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const gaps = [60, 300, 1800, 7200, 21600, 43200, 86400];
  let detail = await settled(base, 'retrying', 1);
  for (let i = 0; i < gaps.length; i++) {
    const scheduled = Date.parse(detail.next_attempt_at);
    assert.equal(scheduled - now, gaps[i] * 1000, `gap before attempt ${i + 2}`);
    advance(scheduled - now - 1000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(local.requests.length, i + 1, `no early attempt ${i + 2}`);
    advance(1000);
    detail = await settled(base, i === gaps.length - 1 ? 'failed' : 'retrying', i + 2);
  }
  assert.equal(detail.attempts.length, 8);
  assert.equal(detail.next_attempt_at, null);
  const bodies = new Set(local.requests.map((r) => r.body.toString('base64')));
  const ids = new Set(local.requests.map((r) => r.headers['x-dits-delivery']));
  assert.equal(bodies.size, 1, 'every attempt sends identical bytes');
  assert.equal(ids.size, 1, 'every attempt sends the same delivery id');
  await local.close();
});

test('Retry-After pushes retry later', async () => {
  const local = await Receiver.start();
  local.respondStatus(429, { 'retry-after': '3600' });
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const detail = await settled(base, 'retrying', 1);
  assert.equal(Date.parse(detail.next_attempt_at) - now, 3_600_000);
  await local.close();
});

test('Retry-After date on 503 is honoured and capped', async () => {
  const local = await Receiver.start();
  local.respondStatus(503, { 'retry-after': new Date(now + 10 * 86_400_000).toUTCString() });
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const detail = await settled(base, 'retrying', 1);
  assert.equal(Date.parse(detail.next_attempt_at) - now, 86_400_000);
  await local.close();
});

test('deleting webhook cancels waiting delivery', async () => {
  const local = await Receiver.start();
  local.respondStatus(500);
  const { repoId, hookId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  await settled(base, 'retrying', 1);
  const { store } = svc;
  const del = await svc.api('DELETE', base);
  assert.equal(del.status, 204);
  const page = await store.listDeliveries({ webhookId: hookId, limit: 10 });
  assert.equal(page.items[0].status, 'cancelled');
  advance(3_600_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(local.requests.length, 1, 'no attempt after cancellation');
  await local.close();
});

test('deactivating webhook cancels waiting delivery', async () => {
  const local = await Receiver.start();
  local.respondStatus(503);
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  await settled(base, 'retrying', 1);
  const patch = await svc.api('PATCH', base, { active: false });
  assert.equal(patch.status, 200);
  assert.equal(patch.json.status, 'inactive');
  const detail = await onlyDelivery(base);
  assert.equal(detail.status, 'cancelled');
  await local.close();
});

test('410 Gone deactivates the webhook', async () => {
  const local = await Receiver.start();
  local.respondStatus(410);
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  await settled(base, 'failed', 1);
  const hook = await waitUntil(async () => {
    const res = await svc.api('GET', base);
    return res.json.active === false ? res.json : null;
  }, 5000, 'webhook deactivation');
  assert.equal(hook.status, 'disabled');
  assert.equal(hook.disabled_reason, 'gone');
  const metrics = await svc.api('GET', '/metrics');
  assert.match(metrics.text, /dits_webhook_webhooks_disabled_total\{reason="gone"\} 1/);
  await local.close();
});

test('redelivery resends identical bytes once', async () => {
  const local = await Receiver.start();
  local.respondStatus(404);
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const failed = await settled(base, 'failed', 1);
  local.respondStatus(500);
  const redeliver = await svc.api('POST', `${base}/deliveries/${failed.id}/redeliver`);
  assert.equal(redeliver.status, 202);
  const second = await settled(base, 'failed', 2);
  assert.equal(second.attempts[1].trigger, 'manual');
  assert.equal(second.next_attempt_at, null, 'a manual attempt schedules nothing more');
  local.respondStatus(200);
  await svc.api('POST', `${base}/deliveries/${failed.id}/redeliver`);
  const third = await settled(base, 'delivered', 3);
  assert.equal(third.attempts[2].status_code, 200);
  assert.equal(local.requests.length, 3);
  assert.equal(new Set(local.requests.map((r) => r.body.toString('base64'))).size, 1);
  assert.equal(new Set(local.requests.map((r) => r.headers['x-dits-delivery'])).size, 1);
  assert.equal(local.requests[0].body.toString('utf8'), third.request.body);
  await local.close();
});

test('manual attempt keeps retry schedule', async () => {
  const local = await Receiver.start();
  local.respondStatus(500);
  const { repoId, base } = await createHook(svc, local.url);
  await ingestOne(repoId);
  const first = await settled(base, 'retrying', 1);
  const scheduledRetry = first.next_attempt_at;
  local.respondStatus(429, { 'retry-after': '10' });
  assert.equal((await svc.api('POST', `${base}/deliveries/${first.id}/redeliver`)).status, 202);
  const manual = await settled(base, 'retrying', 2);
  assert.equal(manual.attempts[1].trigger, 'manual');
  assert.equal(manual.next_attempt_at, scheduledRetry, 'the scheduled retry stays: the 10 s requested is sooner');
  local.respondStatus(500);
  advance(Date.parse(scheduledRetry) - now);
  const second = await settled(base, 'retrying', 3);
  assert.equal(second.attempts[2].trigger, 'scheduled');
  assert.equal(Date.parse(second.next_attempt_at) - now, 300_000, 'the second scheduled attempt is followed by the second gap, 5 min');
  await local.close();
});

test('in-flight limit per webhook holds', async () => {
  const local = await Receiver.start();
  // 40 requests at 100 ms each, 10 at a time, take at least 400 ms: time enough to see the fast one overtake them.
  local.respondWith(async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    res.end('ok');
  });
  const other = await Receiver.start();
  try {
    const slow = await createHook(svc, local.url);
    const fast = await createHook(svc, other.url);
    await Promise.all(Array.from({ length: 40 }, (_, i) => ingestOne(slow.repoId, `slow ${i}`)));
    await ingestOne(fast.repoId, 'fast');
    await other.waitFor(1, 2000);
    assert.ok(local.requests.length < 40, `the fast endpoint waited for ${local.requests.length} slow requests`);
    await local.waitFor(40, 10_000);
    assert.ok(local.maxInFlight <= 10, `at most 10 requests in flight, saw ${local.maxInFlight}`);
    assert.ok(local.maxInFlight >= 2, `requests run concurrently, saw ${local.maxInFlight}`);
  } finally {
    await Promise.all([local.close(), other.close()]);
  }
});
