import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEndedProcess } from '../../src/delivery/worker-identity.js';
import { Receiver } from '../support/receiver.js';
import { callChild as call, exited, spawnService, stopChildren, type ChildService } from '../support/child-service.js';
import { waitUntil } from '../support/service.js';
import { pushEvent } from '../support/fixtures.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dits-webhooks-orphaned-'));
const children: ChildService[] = [];
const receivers: Receiver[] = [];

after(async () => {
  await stopChildren(children);
  for (const receiver of receivers) await receiver.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Builds a worker id in this host and PID namespace for `pid`, as the worker builds its own. */
function ownerFor(pid: number, namespace = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))![1]): string {
  return `worker-${hostname()}-${namespace}-${pid}-0123abcd`;
}

test('ended worker detection', async () => {
  assert.equal(isEndedProcess(ownerFor(process.pid)), false, 'this process');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    assert.equal(isEndedProcess(ownerFor(child.pid!)), false, 'a running process');
    assert.equal(isEndedProcess(ownerFor(child.pid!, '1')), false, 'another PID namespace, where this pid means nothing');
  } finally {
    child.kill('SIGKILL');
    await exited(child);
  }
  assert.equal(isEndedProcess(ownerFor(child.pid!)), true, 'a process that ended');
  assert.equal(isEndedProcess(ownerFor(child.pid!, '1')), false, 'another PID namespace');
  assert.equal(isEndedProcess(ownerFor(child.pid!).replace(`worker-${hostname()}-`, 'worker-another-host-')), false, 'another host');
  assert.equal(isEndedProcess('worker-0123abcd'), false, 'an id without a process id');
  assert.equal(isEndedProcess(ownerFor(child.pid!).replace(/^worker-/, 'service-')), true, 'a service record of a process that ended');
});

test('zombie counts as ended', async () => {
  // `sleep 0.3` ends after its parent shell has become `sleep 5`, which never reaps it. A child that ended
  // before the exec could be reaped by the shell, and then there would be no zombie to look at.
  const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 5']);
  try {
    const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()))));
    await waitUntil(() => readFileSync(`/proc/${zombie}/stat`, 'latin1').includes(') Z '), 5000, 'the child to become a zombie');
    assert.equal(isEndedProcess(ownerFor(zombie)), true);
  } finally {
    parent.kill('SIGKILL');
    await exited(parent);
  }
});

test('restart frees leases of killed worker', async () => {
  // The receiver holds every request open, so the first process dies with all its leases taken.
  const receiver = await Receiver.start();
  receivers.push(receiver);
  let hold = true;
  receiver.respondWith(async (_req, res) => {
    while (hold) await new Promise((resolve) => setTimeout(resolve, 20));
    res.end('ok');
  });
  const env = { DITS_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', DITS_WEBHOOKS_MAX_IN_FLIGHT_PER_WEBHOOK: '3' };
  const first = await spawnService(['--data-dir', dataDir], env);
  children.push(first);
  const token = first.adminToken as string;
  const repo = await call(first.url, token, 'POST', '/v1/repos', { owner: 'user', name: 'orphaned' });
  const hook = await call(first.url, token, 'POST', `/v1/repos/${repo.json.id}/webhooks`, { url: receiver.url, events: ['push'], secret: 'your_webhook_secret', active: true });
  assert.equal(hook.status, 201);
  for (let i = 0; i < 5; i++) assert.equal((await call(first.url, token, 'POST', `/v1/repos/${repo.json.id}/events`, pushEvent(`event-${i}`))).status, 202);
  // The ping and two pushes fill the three places; the other three pushes wait behind their leases.
  await waitUntil(() => receiver.requests.length >= 3, 10_000, 'three requests held open');
  first.process.kill('SIGKILL');
  await exited(first.process);
  hold = false;

  // leaseMs is 60 s by default: without the release nothing would move for a minute.
  const restartedAt = Date.now();
  const second = await spawnService(['--data-dir', dataDir], env);
  children.push(second);
  const pushes = () => new Set(receiver.requests.filter((r) => r.headers['x-dits-event'] === 'push').map((r) => r.headers['x-dits-delivery']));
  await waitUntil(() => pushes().size >= 5, 15_000, 'all five pushes after the restart');
  assert.ok(Date.now() - restartedAt < 15_000);
  second.process.kill('SIGTERM');
  await exited(second.process);
  // Log lines are buffered, so the output is complete only once the process has exited.
  assert.match(second.output(), /released leases of a delivery worker that ended without giving them back/);
});
