import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Receiver } from '../support/receiver.js';
import { callChild as call, exited, spawnService, stopChildren, type ChildService } from '../support/child-service.js';
import { waitUntil } from '../support/service.js';
import { pushEvent } from '../support/fixtures.js';

const EVENTS = 1000;
const dataDir = mkdtempSync(join(tmpdir(), 'dits-webhooks-crash-'));
const children: ChildService[] = [];
const receivers: Receiver[] = [];
const env = {
  DITS_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
  DITS_WEBHOOKS_LEASE_MS: '9500',
  DITS_WEBHOOKS_DELIVERY_TIMEOUT_MS: '5000',
  DITS_WEBHOOKS_MAX_IN_FLIGHT_PER_WEBHOOK: '50',
};

after(async () => {
  await stopChildren(children);
  // A failed assertion skips the test's own close; an open receiver would keep the file running.
  for (const receiver of receivers) await receiver.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('kill -9 during delivery loses nothing', async (t) => {
  const receiver = await Receiver.start();
  receivers.push(receiver);
  // Responses wait until every event is stored, then take 50 ms each: the crash then comes mid-run however fast the
  // worker is, with 50 requests in flight and the rest still queued.
  let releaseResponses = () => {};
  const responsesReleased = new Promise<void>((resolve) => (releaseResponses = resolve));
  receiver.respondWith(async (_req, res) => {
    await responsesReleased;
    await new Promise((resolve) => setTimeout(resolve, 50));
    res.end('ok');
  });

  const first = await spawnService(['--data-dir', dataDir], env);
  children.push(first);
  assert.ok(first.adminToken, 'the first start prints an admin token');
  const token = first.adminToken as string;
  const repo = await call(first.url, token, 'POST', '/v1/repos', { owner: 'user', name: 'crash' });
  const hook = await call(first.url, token, 'POST', `/v1/repos/${repo.json.id}/webhooks`, { url: receiver.url, events: ['push'], secret: 'your_webhook_secret', active: true });
  assert.equal(hook.status, 201);

  const accepted: string[] = [];
  for (let start = 0; start < EVENTS; start += 50) {
    const batch = Array.from({ length: Math.min(50, EVENTS - start) }, (_, i) =>
      call(first.url, token, 'POST', `/v1/repos/${repo.json.id}/events`, pushEvent(`event-${start + i}`)),
    );
    for (const res of await Promise.all(batch)) {
      assert.equal(res.status, 202);
      accepted.push(res.json.id);
    }
  }
  assert.equal(accepted.length, EVENTS);
  releaseResponses();

  const pushes = () => receiver.requests.filter((r) => r.headers['x-dits-event'] === 'push');
  await waitUntil(() => pushes().length >= 250, 20_000, '250 deliveries before the crash');
  first.process.kill('SIGKILL');
  await exited(first.process);
  const beforeCrash = pushes().length;
  assert.ok(beforeCrash < EVENTS, `the crash came mid-run (${beforeCrash} of ${EVENTS} delivered)`);

  const second = await spawnService(['--data-dir', dataDir], env);
  children.push(second);
  assert.equal(second.adminToken, null, 'a restart prints no new admin token');

  const distinct = () => new Set(pushes().map((r) => r.headers['x-dits-delivery'])).size;
  await waitUntil(() => distinct() >= EVENTS, 60_000, `all ${EVENTS} deliveries after the restart`);
  const messages = new Set(pushes().map((r) => JSON.parse(r.body.toString()).commits[0].message));
  assert.equal(messages.size, EVENTS, 'every accepted event arrived');

  const byId = new Map<string, string>();
  for (const r of pushes()) {
    const id = r.headers['x-dits-delivery'] as string;
    const body = r.body.toString('base64');
    if (byId.has(id)) assert.equal(byId.get(id), body, `repeated delivery ${id} has identical bytes`);
    byId.set(id, body);
  }
  const duplicates = pushes().length - distinct();
  t.diagnostic(`delivered before the crash: ${beforeCrash}; arrived twice: ${duplicates} of ${EVENTS}`);
  assert.ok(duplicates <= 50 + 128, `only deliveries in flight at the crash repeat (saw ${duplicates})`);

  const deliveries = await waitUntil(async () => {
    const list = await call(second.url, token, 'GET', `/v1/repos/${repo.json.id}/webhooks/${hook.json.id}/deliveries?status=delivered&limit=100`);
    return list.json.data.length === 100 ? list : null;
  }, 10_000, 'delivery log');
  assert.equal(deliveries.status, 200);

  second.process.kill('SIGTERM');
  await exited(second.process);
  assert.equal(second.process.exitCode, 0, 'SIGTERM exits 0');
});
