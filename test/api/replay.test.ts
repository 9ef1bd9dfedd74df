import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';

let svc: TestService;

before(async () => {
  svc = await startTestService();
});

after(async () => {
  await svc.stop();
});

test('replay resends failed deliveries since time', async () => {
  const receiver = await Receiver.start();
  receiver.respondStatus(400);
  const { repoId, base } = await createHook(svc, receiver.url, { events: ['push'] });
  const start = new Date(Date.now() - 1000).toISOString();
  for (let i = 0; i < 12; i++) await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(`e${i}`));
  await waitUntil(async () => (await svc.api('GET', `${base}/deliveries?status=failed&limit=100`)).json.data.length === 12, 10_000, 'twelve failed');

  receiver.respondStatus(200);
  const created = await svc.api('POST', `${base}/replays`, { since: start });
  assert.equal(created.status, 202, created.text);
  assert.equal(created.json.total, 12);
  assert.equal(created.json.skipped, 0);
  assert.equal(created.json.status_filter, 'failed');
  const done = await waitUntil(async () => {
    const res = await svc.api('GET', `${base}/replays/${created.json.id}`);
    return res.json.state === 'completed' ? res.json : null;
  }, 10_000, 'replay completion');
  assert.equal(done.completed, 12);
  assert.equal(receiver.requests.length, 24);
  const delivered = await svc.api('GET', `${base}/deliveries?status=delivered&limit=100`);
  assert.equal(delivered.json.data.length, 12);

  const again = await svc.api('POST', `${base}/replays`, { since: start });
  assert.equal(again.json.total, 0, 'nothing failed is left to replay');
  // Held responses keep the replayed deliveries in flight or queued while the next replay is created.
  let release = () => {};
  const responsesReleased = new Promise<void>((resolve) => (release = resolve));
  receiver.respondWith(async (_request, res) => {
    await responsesReleased;
    res.writeHead(200).end();
  });
  const all = await svc.api('POST', `${base}/replays`, { since: start, status: 'all' });
  assert.equal(all.json.total, 12);
  const overlapping = await svc.api('POST', `${base}/replays`, { since: start, status: 'all' });
  release();
  assert.equal(overlapping.json.total, 0);
  assert.equal(overlapping.json.skipped, 12, 'deliveries in flight or queued for the previous replay');
  const list = await svc.api('GET', `${base}/replays`);
  assert.equal(list.json.data.length, 4);
  assert.equal(list.json.next_cursor, null);
  const firstPage = await svc.api('GET', `${base}/replays?limit=3`);
  assert.deepEqual(firstPage.json.data.map((r: { id: number }) => r.id), list.json.data.slice(0, 3).map((r: { id: number }) => r.id));
  const lastPage = await svc.api('GET', `${base}/replays?limit=3&cursor=${firstPage.json.next_cursor}`);
  assert.deepEqual(lastPage.json.data.map((r: { id: number }) => r.id), [list.json.data[3].id]);
  assert.equal(lastPage.json.next_cursor, null);
  const unknown = await svc.api('GET', `${base}/replays?page=2`);
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json.error.details[0].field, 'query.page');
  await receiver.close();
});

test('replay rejects bad times', async () => {
  const receiver = await Receiver.start();
  const { base } = await createHook(svc, receiver.url, { events: ['push'] });
  const bad = await svc.api('POST', `${base}/replays`, { since: 'yesterday' });
  assert.equal(bad.status, 400);
  assert.ok(JSON.stringify(bad.json.error).includes('since'));
  const reversed = await svc.api('POST', `${base}/replays`, { since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' });
  assert.equal(reversed.status, 400);
  assert.ok(JSON.stringify(reversed.json.error).includes('until'));
  const sameMillisecond = await svc.api('POST', `${base}/replays`, { since: '2026-01-02T00:00:00.0001Z', until: '2026-01-02T00:00:00.0002Z' });
  assert.equal(sameMillisecond.status, 400);
  assert.match(sameMillisecond.json.error.message, /until must be at least 1 ms later than since; times count to the millisecond/);
  const missing = await svc.api('GET', `${base}/replays/999`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'replay_not_found');
  await receiver.close();
});

test('inactive webhook refuses replay and redelivery', async () => {
  const receiver = await Receiver.start();
  const { repoId, base } = await createHook(svc, receiver.url, { events: ['push'] });
  await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('before'));
  await receiver.waitFor(1);
  const list = await svc.api('GET', `${base}/deliveries`);
  await svc.api('PATCH', base, { active: false });
  const replay = await svc.api('POST', `${base}/replays`, { since: '2020-01-01T00:00:00Z', status: 'all' });
  assert.equal(replay.status, 422);
  assert.equal(replay.json.error.code, 'webhook_inactive');
  const redeliver = await svc.api('POST', `${base}/deliveries/${list.json.data[0].id}/redeliver`);
  assert.equal(redeliver.status, 422);
  assert.equal(redeliver.json.error.code, 'webhook_inactive');
  // A delivery of another webhook is not found, whatever the state of the webhook in the path.
  const other = await createHook(svc, receiver.url, { events: ['push'] });
  const otherPush = await svc.api('POST', `/v1/repos/${other.repoId}/events`, pushEvent('other'));
  assert.equal(otherPush.json.deliveries, 1);
  await receiver.waitFor(2);
  const otherList = await svc.api('GET', `${other.base}/deliveries`);
  const crossed = await svc.api('POST', `${base}/deliveries/${otherList.json.data[0].id}/redeliver`);
  assert.equal(crossed.status, 404, crossed.text);
  assert.equal(crossed.json.error.code, 'delivery_not_found');
  assert.equal(receiver.requests.length, 2, 'nothing more was sent');
  const future = await svc.api('POST', `${base}/replays`, { since: '2999-01-01T00:00:00Z' });
  assert.equal(future.status, 422, 'the inactive check comes first');
  await svc.api('PATCH', base, { active: true });
  const futureActive = await svc.api('POST', `${base}/replays`, { since: '2999-01-01T00:00:00Z' });
  assert.equal(futureActive.status, 400);
  assert.match(futureActive.json.error.message, /since is in the future/);
  const leap = await svc.api('POST', `${base}/replays`, { since: '2016-12-31T23:59:60Z' });
  assert.match(leap.json.error.message, /Leap seconds/);
  await receiver.close();
});

test('replay since finer than milliseconds', async () => {
  const receiver = await Receiver.start();
  const { repoId, base } = await createHook(svc, receiver.url, { events: ['push'] });
  await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent('fraction'));
  const delivery = await waitUntil(async () => {
    const [found] = (await svc.api('GET', `${base}/deliveries?event=push`)).json.data;
    return found?.status === 'delivered' ? found : null;
  }, 5000, 'the push delivered');
  const createdAt: string = delivery.created_at;
  const later = await svc.api('POST', `${base}/replays`, { since: createdAt.replace('Z', '9999Z'), status: 'all' });
  assert.equal(later.status, 202, later.text);
  assert.equal(later.json.total, 0, 'a since a fraction of a millisecond after the delivery leaves it out');
  const exact = await svc.api('POST', `${base}/replays`, { since: createdAt.replace('Z', '0000Z'), status: 'all' });
  assert.equal(exact.json.total, 1, 'trailing zeros change nothing');
  await receiver.close();
});
