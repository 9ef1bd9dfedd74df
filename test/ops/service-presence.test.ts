import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { PRESENCE_STALE_MS, runningServiceProcesses, ServicePresence } from '../../src/service-presence.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { exited } from '../support/child-service.js';

/** Builds a service record id in this host and PID namespace for `pid`, as a service builds its own. */
function serviceIdFor(pid: number): string {
  const namespace = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))![1];
  return `service-${hostname()}-${namespace}-${pid}-0123abcd`;
}

test('running processes skip ended and stale', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-webhooks-presence-'));
  const store = new SqliteStore(join(dir, 'dits-webhooks.db'));
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    const now = Date.now();
    const presence = new ServicePresence(store, 'worker', pino({ level: 'silent' }));
    await presence.start();
    await store.recordServiceProcess({ id: serviceIdFor(child.pid!), role: 'api', startedAt: now, seenAt: now });
    await store.recordServiceProcess({ id: 'service-other-host-1-2-0123abcd', role: 'all', startedAt: now, seenAt: now - PRESENCE_STALE_MS - 1000 });

    const running = await runningServiceProcesses(store, Date.now());
    assert.deepEqual(running.map((entry) => entry.id).sort(), [presence.id, serviceIdFor(child.pid!)].sort(), 'a record not refreshed for 30 s is left out');
    assert.match(presence.id, /^service-/);

    child.kill('SIGKILL');
    await exited(child);
    assert.deepEqual((await runningServiceProcesses(store, Date.now())).map((entry) => entry.id), [presence.id], 'a process killed on this host is left out');

    await presence.stop();
    assert.deepEqual(await runningServiceProcesses(store, Date.now()), [], 'a clean stop removes the record');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
