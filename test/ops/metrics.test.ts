import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { exampleEventFields } from '../../src/events/catalog.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { pushEvent } from '../support/fixtures.js';
import { findSamples, parsePrometheusText, sampleValue, type Sample } from './prometheus-text.js';

const BUCKETS = ['0.001', '0.005', '0.01', '0.05', '0.1', '0.5', '1', '2.5', '5', '10', '+Inf'];

let now = Date.UTC(2026, 5, 1, 12, 0, 0);
let svc: TestService;
const receivers: Record<'ok' | 'error' | 'rejecting', Receiver> = {} as never;
let repoId: number;
const hooks: Record<string, number> = {};

async function addHook(url: string, events: string[]): Promise<number> {
  const created = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url, events, active: false });
  assert.equal(created.status, 201, created.text);
  const activated = await svc.api('PATCH', `/v1/repos/${repoId}/webhooks/${created.json.id}`, { active: true });
  assert.equal(activated.status, 200, activated.text);
  return created.json.id;
}

async function scrape(): Promise<{ samples: Sample[]; text: string; contentType: string }> {
  const res = await svc.api('GET', '/metrics', undefined, { token: '' });
  assert.equal(res.status, 200);
  return { samples: parsePrometheusText(res.text), text: res.text, contentType: String(res.headers['content-type']) };
}

/** Counts waiting deliveries (pending or retrying) through the API. */
async function waitingDeliveries(): Promise<number> {
  let count = 0;
  for (const hookId of Object.values(hooks)) {
    for (const status of ['pending', 'retrying']) {
      const res = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hookId}/deliveries?status=${status}&limit=100`);
      count += res.json.data.length;
    }
  }
  return count;
}

async function settled(hook: string, statuses: Record<string, number>): Promise<void> {
  await waitUntil(async () => {
    const res = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hooks[hook]}/deliveries?limit=100`);
    return Object.entries(statuses).every(([status, n]) => res.json.data.filter((d: any) => d.status === status).length === n);
  }, 10_000, `deliveries of the ${hook} webhook to reach ${JSON.stringify(statuses)}`);
}

before(async () => {
  receivers.ok = await Receiver.start();
  receivers.error = await Receiver.start();
  receivers.rejecting = await Receiver.start();
  receivers.error.respondStatus(500);
  receivers.rejecting.respondStatus(400);
  svc = await startTestService({ clock: () => now, random: () => 0.5, overrides: { pollIntervalMs: 50 } });
  const repo = await svc.api('POST', '/v1/repos', { owner: 'metrics', name: 'outcomes' });
  repoId = repo.json.id;
  hooks.ok = await addHook(receivers.ok.url, ['*']);
  hooks.error = await addHook(receivers.error.url, ['*']);
  hooks.rejecting = await addHook(receivers.rejecting.url, ['push']);

  for (const body of [pushEvent('one'), pushEvent('two'), { event: 'lock.acquired', ...exampleEventFields('lock.acquired') }]) {
    const res = await svc.api('POST', `/v1/repos/${repoId}/events`, body);
    assert.equal(res.status, 202, res.text);
  }
  await settled('ok', { delivered: 3 });
  await settled('error', { retrying: 3 });
  await settled('rejecting', { failed: 2 });
});

after(async () => {
  await svc.stop();
  for (const receiver of Object.values(receivers)) await receiver.close();
});

test('metrics endpoint is public Prometheus text', async () => {
  const { contentType, text } = await scrape();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(text, /^# TYPE dits_webhook_deliveries_total counter$/m);
  assert.match(text, /^# TYPE dits_webhook_delivery_duration_seconds histogram$/m);
  assert.match(text, /^# TYPE dits_webhook_retry_count counter$/m);
  assert.match(text, /^# TYPE dits_webhook_queue_size gauge$/m);
  assert.match(text, /^# HELP dits_webhook_queue_size \S/m);
});

test('deliveries are counted by status and event', async () => {
  const { samples } = await scrape();
  const cases: [string, string, number][] = [
    ['delivered', 'push', 2],
    ['delivered', 'lock.acquired', 1],
    ['retrying', 'push', 2],
    ['retrying', 'lock.acquired', 1],
    ['failed', 'push', 2],
    ['failed', 'lock.acquired', 0],
  ];
  for (const [status, event, expected] of cases) {
    assert.equal(sampleValue(samples, 'dits_webhook_deliveries_total', { status, event }), expected, `${status} ${event}`);
  }
  assert.equal(sampleValue(samples, 'dits_webhook_retry_count'), 3);
});

test('duration histogram has buckets per event', async () => {
  const { samples } = await scrape();
  for (const [event, count] of [['push', 6], ['lock.acquired', 2]] as const) {
    const buckets = findSamples(samples, 'dits_webhook_delivery_duration_seconds_bucket', { event });
    assert.deepEqual(buckets.map((b) => b.labels.le), BUCKETS, `bucket bounds of ${event}`);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, `${event} buckets are cumulative`);
    assert.equal(buckets[buckets.length - 1].value, count, `every ${event} attempt is in +Inf`);
    assert.equal(sampleValue(samples, 'dits_webhook_delivery_duration_seconds_count', { event }), count);
    const sum = sampleValue(samples, 'dits_webhook_delivery_duration_seconds_sum', { event });
    assert.ok(sum > 0, `${event} duration sum ${sum} s is positive`);
    assert.ok(sum < count * 10, `${event} duration sum ${sum} s stays under the 10 s timeout per attempt`);
  }
});

test('queue size matches waiting deliveries', async () => {
  assert.equal(await waitingDeliveries(), 3);
  assert.equal(sampleValue((await scrape()).samples, 'dits_webhook_queue_size'), 3);

  receivers.error.respondStatus(200);
  now += 61_000;
  svc.worker?.notify();
  await settled('error', { delivered: 3, retrying: 0 });
  assert.equal(await waitingDeliveries(), 0);
  const { samples } = await scrape();
  assert.equal(sampleValue(samples, 'dits_webhook_queue_size'), 0);
  assert.equal(sampleValue(samples, 'dits_webhook_deliveries_total', { status: 'delivered', event: 'push' }), 4);
  assert.equal(sampleValue(samples, 'dits_webhook_retry_count'), 3, 'successful retries add no retry count');
});

test('process metrics are exported', async () => {
  const { samples } = await scrape();
  for (const name of ['process_cpu_seconds_total', 'process_cpu_user_seconds_total', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes']) {
    const found = findSamples(samples, name);
    assert.equal(found.length, 1, `${name} is exported`);
    assert.ok(found[0].value > 0, `${name} is positive`);
  }
});
