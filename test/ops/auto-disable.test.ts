import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

const DAY = 86_400_000;
const MINUTE = 60_000;
const SECRET = 'auto-disable-secret-0123456789';

/** A service whose clock the test moves by hand, with its log lines captured as parsed JSON. */
interface ClockedService {
  svc: TestService;
  logs: Record<string, unknown>[];
  rawLog: () => string;
  start: number;
  /** Sets the clock to `start + offsetMs` and wakes the worker, so that due retries are attempted. */
  at(offsetMs: number): void;
}

async function startClockedService(): Promise<ClockedService> {
  const start = Date.UTC(2026, 5, 1, 12, 0, 0);
  let now = start;
  let raw = '';
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const svc = await startTestService({
    clock: () => now,
    random: () => 0.5,
    logger: pino({ level: 'info' }, sink),
    // Retries a day apart make each move of the clock cause exactly one attempt per waiting delivery.
    overrides: { disableAfterFailingDays: 2, retrySchedule: [86_400, 86_400, 86_400, 86_400], retryJitter: 0, pollIntervalMs: 50 },
  });
  return {
    svc,
    logs,
    rawLog: () => raw,
    start,
    at(offsetMs) {
      now = start + offsetMs;
      svc.worker?.notify();
    },
  };
}

async function ingest(svc: TestService, repoId: number, message: string): Promise<string> {
  const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(message));
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.deliveries, 1);
  return res.json.id;
}

/** Waits until the delivery of `eventId` has `attempts` recorded attempts, and returns it. */
async function attempted(svc: TestService, base: string, eventId: string, attempts: number): Promise<any> {
  return waitUntil(async () => {
    const list = await svc.api('GET', `${base}/deliveries`);
    const delivery = list.json.data.find((d: any) => d.event_id === eventId);
    return delivery && delivery.attempt_count === attempts ? delivery : null;
  }, 10_000, `attempt ${attempts} of the delivery of event ${eventId}`);
}

async function webhook(svc: TestService, base: string): Promise<any> {
  const res = await svc.api('GET', base);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function disabledCount(svc: TestService, reason: string): Promise<number> {
  const res = await svc.api('GET', '/metrics', undefined, { token: '' });
  return sampleValue(parsePrometheusText(res.text), 'dits_webhook_webhooks_disabled_total', { reason });
}

test('failing webhook is disabled, then reactivated', async () => {
  const clock = await startClockedService();
  const { svc } = clock;
  const receiver = await Receiver.start();
  try {
    receiver.respondStatus(500, {}, 'broken');
    const { repoId, hookId, base } = await createHook(svc, receiver.url, { events: ['push'], secret: SECRET });
    const eventId = await ingest(svc, repoId, 'first');
    assert.equal((await attempted(svc, base, eventId, 1)).status, 'retrying');

    clock.at(DAY);
    await attempted(svc, base, eventId, 2);
    await svc.worker?.disableFailingWebhooks();
    assert.equal((await webhook(svc, base)).status, 'active', 'one day of failures is not enough');

    clock.at(2 * DAY - MINUTE);
    await svc.worker?.disableFailingWebhooks();
    assert.equal((await webhook(svc, base)).status, 'active', 'just under two days is not enough');
    assert.equal(await disabledCount(svc, 'failing'), 0);

    clock.at(2 * DAY + MINUTE);
    await attempted(svc, base, eventId, 3);
    await svc.worker?.disableFailingWebhooks();
    const disabled = await webhook(svc, base);
    assert.equal(disabled.active, false);
    assert.equal(disabled.status, 'disabled');
    assert.equal(disabled.disabled_reason, 'failing');
    assert.equal(await disabledCount(svc, 'failing'), 1);
    const waiting = await svc.api('GET', `${base}/deliveries?status=retrying`);
    assert.equal(waiting.json.data.length, 0, 'the waiting retry was cancelled');

    const line = clock.logs.find((entry) => entry.msg === 'webhook deactivated' && entry.webhook_id === hookId);
    assert.ok(line, `a log line names the webhook; log: ${clock.rawLog().slice(-2000)}`);
    assert.equal(line.reason, 'failing');
    assert.equal(line.level, 40, 'logged as a warning');
    assert.equal(clock.rawLog().includes(SECRET), false, 'the secret never reaches the log');

    await svc.worker?.disableFailingWebhooks();
    assert.equal(await disabledCount(svc, 'failing'), 1, 'a disabled webhook is not counted twice');

    receiver.respondStatus(200);
    const reactivated = await svc.api('PATCH', base, { active: true });
    assert.equal(reactivated.status, 200, reactivated.text);
    assert.equal(reactivated.json.status, 'active');
    assert.equal(reactivated.json.disabled_reason, null);
    await svc.worker?.disableFailingWebhooks();
    assert.equal((await webhook(svc, base)).status, 'active', 'reactivation restarts the failing period');

    const before = receiver.requests.length;
    const next = await ingest(svc, repoId, 'after reactivation');
    assert.equal((await attempted(svc, base, next, 1)).status, 'delivered');
    assert.equal(receiver.requests.length, before + 1, 'only the new event was sent');
    assert.equal(receiver.requests[before].headers['x-dits-hook-id'], String(hookId));
  } finally {
    await svc.stop();
    await receiver.close();
  }
});

test('success in between resets the failing period', async () => {
  const clock = await startClockedService();
  const { svc } = clock;
  const receiver = await Receiver.start();
  try {
    receiver.respondStatus(500);
    const { repoId, base } = await createHook(svc, receiver.url, { events: ['push'] });
    const first = await ingest(svc, repoId, 'first');
    await attempted(svc, base, first, 1);

    receiver.respondStatus(200);
    clock.at(DAY);
    assert.equal((await attempted(svc, base, first, 2)).status, 'delivered');

    receiver.respondStatus(500);
    clock.at(1.5 * DAY);
    const second = await ingest(svc, repoId, 'second');
    await attempted(svc, base, second, 1);

    clock.at(2 * DAY + MINUTE);
    await svc.worker?.disableFailingWebhooks();
    assert.equal((await webhook(svc, base)).status, 'active', 'failures since the success span only half a day');

    clock.at(3.5 * DAY + MINUTE);
    await attempted(svc, base, second, 2);
    await svc.worker?.disableFailingWebhooks();
    const disabled = await webhook(svc, base);
    assert.equal(disabled.status, 'disabled', 'two days after the first failure that followed the success');
    assert.equal(disabled.disabled_reason, 'failing');
  } finally {
    await svc.stop();
    await receiver.close();
  }
});

test('410 Gone disables at once', async () => {
  const clock = await startClockedService();
  const { svc } = clock;
  const receiver = await Receiver.start();
  try {
    receiver.respondStatus(410);
    const { repoId, hookId, base } = await createHook(svc, receiver.url, { events: ['push'] });
    const eventId = await ingest(svc, repoId, 'gone');
    assert.equal((await attempted(svc, base, eventId, 1)).status, 'failed');
    const hook = await waitUntil(async () => {
      const current = await webhook(svc, base);
      return current.status === 'disabled' ? current : null;
    }, 10_000, 'the webhook to be disabled');
    assert.equal(hook.disabled_reason, 'gone');
    assert.equal(await disabledCount(svc, 'gone'), 1);
    assert.equal(await disabledCount(svc, 'failing'), 0);
    assert.ok(clock.logs.some((entry) => entry.msg === 'webhook deactivated' && entry.webhook_id === hookId && entry.reason === 'gone'));
  } finally {
    await svc.stop();
    await receiver.close();
  }
});
