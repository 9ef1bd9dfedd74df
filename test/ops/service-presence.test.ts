import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pino from 'pino';
import { PRESENCE_STALE_MS, pruneServiceProcesses, runningServiceProcesses, ServicePresence } from '../../src/service-presence.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { processIdentity } from '../../src/delivery/worker-identity.js';
import { startTestService } from '../support/service.js';
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
    // Not refreshed for an hour, as for a process stopped with SIGSTOP, but still running on this host.
    await store.recordServiceProcess({ id: serviceIdFor(child.pid!), role: 'api', startedAt: now, seenAt: now - 3_600_000 });
    await store.recordServiceProcess({ id: 'service-other-host-1-2-0123abcd', role: 'all', startedAt: now, seenAt: now - PRESENCE_STALE_MS - 1000 });

    const running = await runningServiceProcesses(store, Date.now());
    assert.deepEqual(running.map((entry) => entry.id).sort(), [presence.id, serviceIdFor(child.pid!)].sort(), 'a record of another host not refreshed for 30 s is left out');
    assert.deepEqual((await runningServiceProcesses(store, Date.now(), presence.id)).map((entry) => entry.id), [serviceIdFor(child.pid!)], 'exceptId leaves out the caller');
    assert.match(presence.id, /^service-/);

    child.kill('SIGKILL');
    await exited(child);
    assert.deepEqual((await runningServiceProcesses(store, Date.now())).map((entry) => entry.id), [presence.id], 'a process killed on this host is left out');

    await presence.stop();
    assert.deepEqual(await runningServiceProcesses(store, Date.now()), [], 'a clean stop removes the record');

    assert.equal(await pruneServiceProcesses(store, Date.now()), 1, 'the killed process record goes');
    assert.deepEqual((await store.listServiceProcesses(0)).map((entry) => entry.id), ['service-other-host-1-2-0123abcd'], 'another host is kept for a week');
    assert.equal(await pruneServiceProcesses(store, Date.now() + 8 * 86_400_000), 1);
    assert.deepEqual(await store.listServiceProcesses(0), []);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Creates a data folder whose store records a reencrypt run on this host. The
 * record names this very process, which runs, so it counts as a live run.
 */
async function dataDirWithReencryptRun(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dits-webhooks-presence-'));
  const store = new SqliteStore(join(dataDir, 'dits-webhooks.db'));
  await store.recordServiceProcess({ id: `service-${processIdentity()}-0badcafe`, role: 'reencrypt', startedAt: Date.now(), seenAt: Date.now() });
  await store.close();
  return dataDir;
}

test('start rejected while reencrypt runs', async () => {
  const dataDir = await dataDirWithReencryptRun();
  try {
    await assert.rejects(startTestService({ overrides: { dataDir } }), /secrets reencrypt is running on this database \(service-.*-0badcafe\); start the service with the new key once it has finished/);

    const check = new SqliteStore(join(dataDir, 'dits-webhooks.db'));
    try {
      assert.deepEqual((await check.listServiceProcesses(0)).map((entry) => entry.role), ['reencrypt'], 'the rejected start removed its own record');
    } finally {
      await check.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('record waits for a locked store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-webhooks-presence-'));
  const file = join(dir, 'dits-webhooks.db');
  const store = new SqliteStore(file);
  const other = new Database(file);
  try {
    other.exec('BEGIN IMMEDIATE');
    const blocked = new ServicePresence(store, 'all', pino({ level: 'silent' }));
    await assert.rejects(blocked.start(1500), /recording this process in the store failed for 2 s .*start again once the database is available/);

    const waiting = new ServicePresence(store, 'all', pino({ level: 'silent' }));
    const started = waiting.start(10_000);
    setTimeout(() => other.exec('ROLLBACK'), 1200);
    await started;
    assert.deepEqual((await store.listServiceProcesses(0)).map((entry) => entry.id), [waiting.id], 'recorded once the lock is gone');
    await waiting.stop();
  } finally {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('second reencrypt named as such', async () => {
  const dataDir = await dataDirWithReencryptRun();
  try {
    const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DITS_WEBHOOKS_') && name !== 'DATABASE_URL'));
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', cli, 'secrets', 'reencrypt', '--data-dir', dataDir, '--new-key', '77'.repeat(32)], { env, timeout: 30_000 }, (error, _stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /another secrets reencrypt is running on this database \(service-.*-0badcafe\); wait for it to finish\. Nothing was changed\./);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
