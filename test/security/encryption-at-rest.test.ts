// Webhook secrets are encrypted at rest with DITS_WEBHOOKS_ENCRYPTION_KEY:
// the raw SQLite file contains no secret in any form, deliveries still verify,
// a service without the right key fails attempts instead of sending them
// unsigned, and `dits-webhook secrets reencrypt` moves every stored secret to
// a new key.
//
// Network safety: deliveries go only to a Receiver on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { SecretBox } from '../../src/signing/secret-box.js';
import { verifyHubSignature, verifyStandardWebhook } from '../../src/signing/verify.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { WebhookSecretRecord } from '../../src/store/types.js';
import { pushEvent } from '../support/fixtures.js';
import { Receiver, type ReceivedRequest } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { captureLogs, findSecret, secretForms } from './support.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const KEY_1 = '11'.repeat(32);
const KEY_2 = Buffer.alloc(32, 0x22).toString('base64');
const KEY_3 = '33'.repeat(32);
const DB_FILE = 'dits-webhooks.db';

/** Reads the database file and its write-ahead log as they are on disk. */
function rawDatabase(dataDir: string): Buffer {
  const files = [DB_FILE, `${DB_FILE}-wal`].map((name) => join(dataDir, name)).filter((path) => existsSync(path));
  return Buffer.concat(files.map((path) => readFileSync(path)));
}

function assertNoSecretInFile(dataDir: string, secrets: string[]): void {
  const raw = rawDatabase(dataDir);
  assert.ok(raw.includes(Buffer.from('CREATE TABLE webhooks')), 'read the real database file');
  for (const secret of secrets) {
    const found = findSecret(raw, secretForms(secret));
    assert.equal(found, null, `the database file contains ${secret.slice(0, 12)}... as ${found}`);
  }
}

async function readStoredSecrets(dataDir: string): Promise<WebhookSecretRecord[]> {
  const store = new SqliteStore(join(dataDir, DB_FILE));
  try {
    return await store.listWebhookSecrets();
  } finally {
    await store.close();
  }
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `dits-webhook secrets reencrypt` with an environment free of the caller's DITS_WEBHOOKS_* settings. */
function reencrypt(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DITS_WEBHOOKS_') && name !== 'DATABASE_URL'));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, 'secrets', 'reencrypt', ...args], { env: { ...clean, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('encryption at rest', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dits-webhooks-encryption-'));
  let receiver: Receiver;
  let now = Date.UTC(2026, 7, 1, 8, 0, 0);
  let adminToken = '';
  let repoId = 0;
  let hookId = 0;
  const firstSecret = 'first-secret-Ab3dE5fG7h';
  const rotatedSecret = 'rotated-secret-Jk9Lm1Np3q';
  let generatedSecret = '';

  /** Starts a service on the shared data folder; the first start creates the admin token. */
  async function start(encryptionKey: string, logger = captureLogs('info')): Promise<TestService> {
    const svc = await startTestService({
      clock: () => now,
      logger: logger.logger,
      overrides: { dataDir, encryptionKey, retrySchedule: [60, 60, 60, 60, 60], retryJitter: 0, pollIntervalMs: 50 },
    });
    if (svc.adminToken) adminToken = svc.adminToken;
    return svc;
  }

  function checkSignatures(request: ReceivedRequest, current: string, previous: string | null): void {
    assert.ok(verifyHubSignature(current, request.body, request.headers['x-hub-signature-256'] as string), 'X-Hub-Signature-256 verifies with the current secret');
    const headers = request.headers as Record<string, string>;
    const signatureCount = (request.headers['webhook-signature'] as string).split(' ').length;
    for (const secret of previous === null ? [current] : [current, previous]) {
      assert.doesNotThrow(() => verifyStandardWebhook(secret, request.body, headers, { nowSeconds: Math.floor(now / 1000) }));
    }
    assert.equal(signatureCount, previous === null ? 1 : 2);
  }

  async function ingest(svc: TestService): Promise<void> {
    const res = await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent(), { token: adminToken });
    assert.equal(res.status, 202, res.text);
  }

  /** Waits until the newest delivery of the webhook was claimed and put back unsent, and returns it with its detail. */
  async function postponedDelivery(svc: TestService, hook: number): Promise<{ summary: any; detail: any }> {
    return waitUntil(async () => {
      const list = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hook}/deliveries`, undefined, { token: adminToken });
      const newest = list.json.data[0];
      if (!newest || newest.last_error === null) return null;
      const detail = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hook}/deliveries/${newest.id}`, undefined, { token: adminToken });
      return { summary: newest, detail: detail.json };
    }, 10_000, `a postponed delivery of webhook ${hook}`);
  }

  /** Checks that a delivery waits 30 s from the test clock's time with no attempt spent, and that `reason` explains why. */
  function assertWaitingUnsent(postponed: { summary: any; detail: any }, reason: RegExp): void {
    assert.equal(postponed.summary.status, 'pending');
    assert.equal(postponed.summary.attempt_count, 0, 'no attempt was counted');
    assert.deepEqual(postponed.detail.attempts, [], 'no attempt was recorded');
    assert.match(postponed.summary.last_error, /^not sent: /);
    assert.match(postponed.summary.last_error, reason);
    assert.ok(postponed.summary.last_error.endsWith(`; the next try is at ${new Date(now + 30_000).toISOString()}`), postponed.summary.last_error);
  }

  before(async () => {
    receiver = await Receiver.start();
  });

  after(async () => {
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('secrets are sealed in the database file', async () => {
    const svc = await start(KEY_1);
    try {
      repoId = (await svc.api('POST', '/v1/repos', { owner: 'vault', name: 'sealed' })).json.id;
      const hook = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url: receiver.url, events: ['push'], secret: firstSecret, active: false });
      hookId = hook.json.id;
      const generated = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url: receiver.url, events: ['push'], active: false });
      generatedSecret = generated.json.secret;
      assert.match(generatedSecret, /^whsec_/);
      assert.equal((await svc.api('PATCH', `/v1/repos/${repoId}/webhooks/${hookId}`, { secret: rotatedSecret, active: true })).status, 200);
      assert.equal((await svc.api('PATCH', `/v1/repos/${repoId}/webhooks/${generated.json.id}`, { active: true })).status, 200);

      await ingest(svc);
      await receiver.waitFor(2);
      const byHook = new Map(receiver.requests.map((request) => [Number(request.headers['x-dits-hook-id']), request]));
      checkSignatures(byHook.get(hookId)!, rotatedSecret, firstSecret);
      checkSignatures(byHook.get(generated.json.id)!, generatedSecret, null);

      assertNoSecretInFile(dataDir, [firstSecret, rotatedSecret, generatedSecret]);
      assert.ok(rawDatabase(dataDir).includes(Buffer.from('enc:v1:')), 'sealed values are in the file');
    } finally {
      await svc.stop();
    }
    assertNoSecretInFile(dataDir, [firstSecret, rotatedSecret, generatedSecret]);
    for (const row of await readStoredSecrets(dataDir)) assert.match(row.secret, /^enc:v1:/);
  });

  test('missing key keeps deliveries waiting', async () => {
    const logs = captureLogs('info');
    const svc = await start('', logs);
    try {
      const before = receiver.requests.length;
      await ingest(svc);
      assertWaitingUnsent(await postponedDelivery(svc, hookId), /the webhook secret is encrypted but DITS_WEBHOOKS_ENCRYPTION_KEY is not set/);
      assert.equal(receiver.requests.length, before, 'nothing was sent unsigned');
      const unavailable = () => logs.lines().filter((line) => /^webhook secret unavailable; its deliveries wait unsent/.test(String(line.msg)) && line.webhook_id === hookId);
      assert.equal(unavailable().length, 1);

      // The next try finds the secret still sealed: still no attempt, and no second log line.
      now += 31_000;
      svc.worker?.notify();
      await waitUntil(async () => {
        const list = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hookId}/deliveries`, undefined, { token: adminToken });
        return String(list.json.data[0].last_error).endsWith(`${new Date(now + 30_000).toISOString()}`);
      }, 10_000, 'the second try');
      const again = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hookId}/deliveries`, undefined, { token: adminToken });
      assert.equal(again.json.data[0].attempt_count, 0);
      assert.equal(unavailable().length, 1, 'the error is logged once per webhook secret');
      assert.equal(receiver.requests.length, before, 'nothing was sent unsigned');

      const warning = logs.lines().find((line) => /encrypted webhook secrets cannot be opened/.test(String(line.msg)));
      assert.ok(warning, 'the start warns before the first delivery waits');
      assert.match(String(warning.msg), /their deliveries wait unsent until the service runs with the key that encrypted them/);
      assert.equal(warning.unavailable, warning.sealed);
      assert.ok(Number(warning.sealed) >= 2);
      assert.match(String(warning.reason), /DITS_WEBHOOKS_ENCRYPTION_KEY is not set/);
      const ready = await svc.api('GET', '/readyz', undefined, { token: '' });
      assert.equal(ready.status, 503);
      assert.match(ready.json.reason, /the 2 webhook secrets are encrypted and no encryption key is set.*not set/);
    } finally {
      await svc.stop();
    }
  });

  test('wrong key keeps deliveries waiting', async () => {
    const logs = captureLogs('info');
    const svc = await start(KEY_3, logs);
    try {
      const warning = logs.lines().find((line) => /encrypted webhook secrets cannot be opened/.test(String(line.msg)));
      assert.ok(warning, 'the start warns about secrets the key cannot open');
      assert.match(String(warning.reason), /cannot be decrypted with the configured DITS_WEBHOOKS_ENCRYPTION_KEY/);
      const ready = await svc.api('GET', '/readyz', undefined, { token: '' });
      assert.equal(ready.status, 503);
      assert.match(ready.json.reason, /none of the 2 encrypted webhook secrets opens/);
      const before = receiver.requests.length;
      await ingest(svc);
      assertWaitingUnsent(await postponedDelivery(svc, hookId), /cannot be decrypted with the configured DITS_WEBHOOKS_ENCRYPTION_KEY/);
      assert.equal(receiver.requests.length, before, 'nothing was sent unsigned');
    } finally {
      await svc.stop();
    }
  });

  test('reencrypt refuses while the service runs', async () => {
    const svc = await start(KEY_1);
    let result: CliResult;
    const stored = await readStoredSecrets(dataDir);
    try {
      result = await reencrypt(['--data-dir', dataDir, '--old-key', KEY_1, '--new-key', KEY_2]);
    } finally {
      await svc.stop();
    }
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /a Dits Webhooks service is using this database: service-\S+-\d+-\d+-[0-9a-f]{8} \(role all, seen \d+ s ago\)\. Stop every service process first/);
    assert.match(result.stderr, /Nothing was changed/);
    assert.deepEqual(await readStoredSecrets(dataDir), stored);
  });

  test('reencrypt with wrong old key changes nothing', async () => {
    const stored = await readStoredSecrets(dataDir);
    const result = await reencrypt(['--data-dir', dataDir, '--old-key', KEY_3, '--new-key', KEY_2]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /secret of webhook \d+ cannot be decrypted with the old key; .*--old-key.* Nothing was changed/);
    assert.deepEqual(await readStoredSecrets(dataDir), stored);
  });

  test('reencrypt re-seals every secret', async () => {
    const stored = await readStoredSecrets(dataDir);
    const result = await reencrypt(['--data-dir', dataDir, '--old-key', KEY_1, '--new-key', KEY_2]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Re-encrypted 3 secrets of 2 webhooks \(0 stored as plain text before\)/);
    for (const secret of [firstSecret, rotatedSecret, generatedSecret, KEY_1, KEY_2]) {
      assert.equal(findSecret(result.stdout + result.stderr, secretForms(secret)), null, 'the command prints no secret or key');
    }

    const resealed = await readStoredSecrets(dataDir);
    const box = new SecretBox(KEY_2);
    assert.equal(box.open(resealed.find((row) => row.id === hookId)!.secret), rotatedSecret);
    assert.equal(box.open(resealed.find((row) => row.id === hookId)!.previousSecret!), firstSecret);
    for (const [index, row] of resealed.entries()) assert.notEqual(row.secret, stored[index].secret);
    assertNoSecretInFile(dataDir, [firstSecret, rotatedSecret, generatedSecret]);
  });

  test('new key delivers the waiting retries', async () => {
    const logs = captureLogs('info');
    const svc = await start(KEY_2, logs);
    try {
      assert.ok(logs.lines().some((line) => line.msg === 'delivery worker started'), 'the logs were captured');
      assert.equal(logs.lines().filter((line) => /webhook secrets cannot be opened/.test(String(line.msg))).length, 0, 'the right key opens every secret');
      assert.equal((await svc.api('GET', '/readyz', undefined, { token: '' })).status, 200);
      const before = receiver.requests.length;
      now += 61_000;
      svc.worker?.notify();
      // Two waiting pushes for each of the two webhooks.
      await receiver.waitFor(before + 4);
      for (const request of receiver.requests.slice(before)) {
        const id = Number(request.headers['x-dits-hook-id']);
        if (id === hookId) checkSignatures(request, rotatedSecret, firstSecret);
        else checkSignatures(request, generatedSecret, null);
      }
      // Without the key no attempt was spent: each push went out on its first.
      const delivered = await waitUntil(async () => {
        const list = await svc.api('GET', `/v1/repos/${repoId}/webhooks/${hookId}/deliveries`, undefined, { token: adminToken });
        const pushes = list.json.data.filter((d: any) => d.event === 'push');
        return pushes.slice(0, 2).every((d: any) => d.status === 'delivered') ? pushes.slice(0, 2) : null;
      }, 10_000, 'the waiting pushes recorded as delivered');
      assert.deepEqual(delivered.map((d: any) => d.attempt_count), [1, 1]);
    } finally {
      await svc.stop();
    }
  });

  test('reencrypt takes keys from the environment', async () => {
    const result = await reencrypt(['--data-dir', dataDir], { DITS_WEBHOOKS_ENCRYPTION_KEY: KEY_3, DITS_WEBHOOKS_OLD_ENCRYPTION_KEY: KEY_2 });
    assert.equal(result.code, 0, result.stderr);
    const box = new SecretBox(KEY_3);
    const opened = (await readStoredSecrets(dataDir)).map((row) => box.open(row.secret));
    assert.deepEqual(opened.sort(), [generatedSecret, rotatedSecret].sort());
  });

  test('reencrypt rejects bad keys and folders', async () => {
    const missing = await reencrypt(['--data-dir', dataDir, '--old-key', KEY_3]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /missing the new key; pass --new-key or set DITS_WEBHOOKS_ENCRYPTION_KEY/);
    const malformed = await reencrypt(['--data-dir', dataDir, '--old-key', KEY_3, '--new-key', 'not-a-key']);
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(malformed.stderr, /--new-key: the encryption key must be 32 bytes/);
    assert.ok(!malformed.stderr.includes(KEY_3), 'the error does not echo the other key');
    const mistyped = await reencrypt(['--data-dir', join(dataDir, 'missing'), '--new-key', KEY_2]);
    assert.equal(mistyped.code, 2, mistyped.stderr);
    assert.match(mistyped.stderr, /no database at .*missing.*dits-webhooks\.db; pass the --data-dir the service uses/);
    assert.equal(existsSync(join(dataDir, 'missing')), false, 'no empty store was created');
    const configFile = join(dataDir, 'reencrypt-config.json');
    writeFileSync(configFile, JSON.stringify({ dataDir: join(dataDir, 'from-config') }));
    const configured = await reencrypt(['--config', configFile, '--new-key', KEY_2]);
    assert.equal(configured.code, 2, configured.stderr);
    assert.match(configured.stderr, /no database at .*from-config.*dits-webhooks\.db/);
    // A configuration error lists one setting per line, as serve and migrate print it.
    const badSetting = await reencrypt(['--data-dir', dataDir, '--new-key', KEY_2], { DITS_WEBHOOKS_DATABASE_SCHEMA: 'BAD' });
    assert.equal(badSetting.code, 2, badSetting.stderr);
    assert.match(badSetting.stderr, /^Invalid configuration:\n {2}DITS_WEBHOOKS_DATABASE_SCHEMA: must be 1 to 63 lower-case letters/);
    assert.match(badSetting.stderr, /\nFix the flag, environment variable or config file named above\.\n$/);
  });
});

describe('encrypting an existing plain store', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dits-webhooks-plain-'));
  // Enough rows that rewriting them leaves old cells behind in free space unless the file is rebuilt.
  const plainSecrets = Array.from({ length: 40 }, (_, i) => `stored-in-plain-${String(i).padStart(2, '0')}-Qw8Er6Ty4`);

  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('reencrypt seals plain secrets and scrubs the file', async () => {
    const svc = await startTestService({ overrides: { dataDir } });
    try {
      for (const [index, secret] of plainSecrets.entries()) {
        if (index % 20 === 0) await svc.api('POST', '/v1/repos', { owner: 'vault', name: `plain-${index}` });
        const repoId = Math.floor(index / 20) + 1;
        const hook = await svc.api('POST', `/v1/repos/${repoId}/webhooks`, { url: 'http://127.0.0.1:9/hook', events: ['push'], secret, active: false });
        assert.equal(hook.status, 201, hook.text);
      }
    } finally {
      await svc.stop();
    }
    const before = rawDatabase(dataDir);
    for (const secret of plainSecrets) assert.ok(before.includes(Buffer.from(secret)), 'without a key the secret is stored as it is');

    const result = await reencrypt(['--data-dir', dataDir, '--new-key', KEY_1]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Re-encrypted 40 secrets of 40 webhooks \(40 stored as plain text before\)/);
    const box = new SecretBox(KEY_1);
    assert.deepEqual((await readStoredSecrets(dataDir)).map((row) => box.open(row.secret)), plainSecrets);
    assertNoSecretInFile(dataDir, plainSecrets);
  });
});

describe('unreadable previous secret', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dits-webhooks-previous-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('signs with the current secret only', async () => {
    const receiver = await Receiver.start();
    const current = 'replacement-secret-Zx7Cv5Bn3';
    let adminToken = '';
    let hookId = 0;
    let repoId = 0;
    const first = await startTestService({ overrides: { dataDir, encryptionKey: KEY_1 } });
    try {
      adminToken = first.adminToken;
      repoId = (await first.api('POST', '/v1/repos', { owner: 'vault', name: 'rotated' })).json.id;
      hookId = (await first.api('POST', `/v1/repos/${repoId}/webhooks`, { url: receiver.url, events: ['push'], secret: 'original-secret-Aa1Bb2Cc3' })).json.id;
      assert.equal((await first.api('PATCH', `/v1/repos/${repoId}/webhooks/${hookId}`, { secret: current })).status, 200);
    } finally {
      await first.stop();
    }
    // The previous secret now contains a value that the configured key cannot open, as after a key mix-up.
    const store = new SqliteStore(join(dataDir, DB_FILE));
    try {
      const row = (await store.listWebhookSecrets()).find((r) => r.id === hookId)!;
      await store.updateWebhookSecrets(hookId, row.secret, new SecretBox(KEY_3).seal('original-secret-Aa1Bb2Cc3'));
    } finally {
      await store.close();
    }

    const logs = captureLogs('info');
    const svc = await startTestService({ overrides: { dataDir, encryptionKey: KEY_1 }, adminToken, logger: logs.logger });
    try {
      assert.equal((await svc.api('POST', `/v1/repos/${repoId}/events`, pushEvent())).status, 202);
      const delivered = await waitUntil(() => receiver.requests.find((request) => request.headers['x-dits-event'] === 'push'), 10_000, 'the push');
      assert.ok(verifyHubSignature(current, delivered.body, delivered.headers['x-hub-signature-256'] as string));
      assert.equal((delivered.headers['webhook-signature'] as string).split(' ').length, 1, 'one signature, from the current secret');
      assert.ok(logs.lines().some((line) => line.msg === 'the previous webhook secret cannot be decrypted; signing with the current secret only' && line.webhook_id === hookId));
    } finally {
      await svc.stop();
      await receiver.close();
    }
  });
});
