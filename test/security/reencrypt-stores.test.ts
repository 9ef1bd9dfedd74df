// Re-encryption against both stores: the store methods it uses
// (listWebhookSecrets, updateWebhookSecrets) behave the same on SQLite and
// PostgreSQL, and `dits-webhook secrets reencrypt --database URL` works end to
// end on a PostgreSQL database of its own.
//
// Network safety: the only connections go to PostgreSQL on 127.0.0.1 and to
// a Receiver on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { reencryptSecrets } from '../../src/cli/secrets.js';
import { SecretBox } from '../../src/signing/secret-box.js';
import { verifyHubSignature, verifyStandardWebhook } from '../../src/signing/verify.js';
import type { Store } from '../../src/store/types.js';
import { makeRepo, postgresBackend, sqliteBackend, TEST_DATABASE_URL, type Backend } from '../store/backends.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService } from '../support/service.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const OLD_KEY = '44'.repeat(32);
const NEW_KEY = '55'.repeat(32);

async function createHookRecord(store: Store, repoId: number, secret: string): Promise<number> {
  const hook = await store.createWebhook(
    { scope: { kind: 'repo', repoId }, url: 'http://127.0.0.1:9/hook', events: ['push'], filters: null, active: false, secret, insecureSsl: false },
    1_000,
    20,
  );
  assert.ok(hook !== 'limit');
  return hook.id;
}

for (const makeBackend of [sqliteBackend, postgresBackend]) {
  const backend: Backend = makeBackend();

  describe(`${backend.name} store re-encryption`, () => {
    after(() => backend.dispose());

    test('secrets list and update as stored', async () => {
      const store = await backend.open();
      try {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo', repoId: repo.id } as const;
        const unrotated = await createHookRecord(store, repo.id, 'enc:v1:current-a');
        const rotated = await createHookRecord(store, repo.id, 'enc:v1:first-b');
        await store.updateWebhook(scope, rotated, { secret: 'enc:v1:second-b', previousSecretExpiresAt: 5_000 }, 2_000);
        const deleted = await createHookRecord(store, repo.id, 'plain-secret-of-deleted-c');
        await store.deleteWebhook(scope, deleted, 3_000);

        assert.deepEqual(await store.listWebhookSecrets(), [
          { id: unrotated, secret: 'enc:v1:current-a', previousSecret: null, deleted: false },
          { id: rotated, secret: 'enc:v1:second-b', previousSecret: 'enc:v1:first-b', deleted: false },
          { id: deleted, secret: 'plain-secret-of-deleted-c', previousSecret: null, deleted: true },
        ]);

        await store.updateWebhookSecrets(rotated, 'enc:v1:second-b-resealed', 'enc:v1:first-b-resealed');
        const updated = await store.getWebhook(scope, rotated);
        assert.equal(updated?.secret, 'enc:v1:second-b-resealed');
        assert.equal(updated?.previousSecret, 'enc:v1:first-b-resealed', 'the current secret does not move to the previous one');
        assert.equal(updated?.previousSecretExpiresAt, 5_000, 'the rotation window is unrotated');
        assert.equal(updated?.updatedAt, 2_000);
      } finally {
        await store.close();
      }
    });

    test('reencrypt leaves unreadable deleted webhooks', async () => {
      const store = await backend.open();
      try {
        const repo = await makeRepo(store);
        const lostBox = new SecretBox('66'.repeat(32));
        const live = await createHookRecord(store, repo.id, new SecretBox(OLD_KEY).seal('live-secret-0000001'));
        const deletedHook = await createHookRecord(store, repo.id, lostBox.seal('gone-secret-0000002'));
        assert.equal(await store.deleteWebhook({ kind: 'repo', repoId: repo.id }, deletedHook, 3_000), true);
        const deletedBefore = (await store.listWebhookSecrets()).find((row) => row.id === deletedHook)!.secret;

        const summary = await reencryptSecrets(store, { oldKey: OLD_KEY, newKey: NEW_KEY });
        assert.deepEqual(summary, { webhooks: 1, secrets: 1, fromPlainText: 0, deletedUnreadable: 1, previousDropped: 0 });
        const stored = await store.listWebhookSecrets();
        assert.equal(new SecretBox(NEW_KEY).open(stored.find((row) => row.id === live)!.secret), 'live-secret-0000001');
        assert.equal(stored.find((row) => row.id === deletedHook)!.secret, deletedBefore, 'the deleted row is left as it was');

        // A previous secret that no key opens is dropped; the current one is re-sealed.
        const newBox = new SecretBox(NEW_KEY);
        await store.updateWebhookSecrets(live, newBox.seal('live-secret-0000001'), lostBox.seal('old-live-secret-03'));
        const again = await reencryptSecrets(store, { oldKey: OLD_KEY, newKey: NEW_KEY });
        assert.equal(again.previousDropped, 1);
        const afterDrop = (await store.listWebhookSecrets()).find((row) => row.id === live)!;
        assert.equal(afterDrop.previousSecret, null);
        assert.equal(newBox.open(afterDrop.secret), 'live-secret-0000001');

        await store.updateWebhookSecrets(live, lostBox.seal('live-secret-0000001'), null);
        await assert.rejects(reencryptSecrets(store, { oldKey: OLD_KEY, newKey: NEW_KEY }), /secret of webhook \d+ cannot be decrypted/, 'a live webhook still stops the run');
      } finally {
        await store.close();
      }
    });

    test('reencrypt resumes after an interrupted run', async () => {
      const store = await backend.open();
      try {
        const repo = await makeRepo(store);
        const oldBox = new SecretBox(OLD_KEY);
        const newBox = new SecretBox(NEW_KEY);
        const secrets = ['resume-secret-one-0001', 'resume-secret-two-0002', 'resume-plain-three-0003'];
        const first = await createHookRecord(store, repo.id, oldBox.seal(secrets[0]));
        // The first run stopped after re-sealing this webhook with the new key.
        await store.updateWebhookSecrets(first, newBox.seal(secrets[0]), null);
        await createHookRecord(store, repo.id, oldBox.seal(secrets[1]));
        await createHookRecord(store, repo.id, secrets[2]);

        const summary = await reencryptSecrets(store, { oldKey: OLD_KEY, newKey: NEW_KEY });
        assert.deepEqual(summary, { webhooks: 3, secrets: 3, fromPlainText: 1, deletedUnreadable: 0, previousDropped: 0 });
        const stored = await store.listWebhookSecrets();
        assert.deepEqual(stored.map((row) => newBox.open(row.secret)), secrets);
        for (const row of stored) assert.throws(() => oldBox.open(row.secret), /cannot be decrypted/);
      } finally {
        await store.close();
      }
    });
  });
}

describe('reencrypt command on PostgreSQL', () => {
  const database = `dits_security_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new URL(TEST_DATABASE_URL);
  const databaseUrl = Object.assign(new URL(TEST_DATABASE_URL), { pathname: `/${database}` }).toString();

  async function adminQuery(sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  after(() => adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));

  test('--database re-seals and deliveries verify', async () => {
    await adminQuery(`CREATE DATABASE ${database}`);
    const receiver = await Receiver.start();
    const secret = 'postgres-stored-secret-77';
    let repoId = 0;
    let adminToken = '';
    const first = await startTestService({ overrides: { databaseUrl, encryptionKey: OLD_KEY } });
    try {
      adminToken = first.adminToken;
      repoId = (await createHook(first, receiver.url, { secret, name: 'pg-reencrypt' })).repoId;
    } finally {
      await first.stop();
    }

    const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DITS_WEBHOOKS_') && name !== 'DATABASE_URL'));
    const run = (extra: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', CLI, 'secrets', 'reencrypt', '--database', databaseUrl, '--old-key', OLD_KEY, '--new-key', NEW_KEY, ...extra], { env: clean, timeout: 30_000 }, (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const wrongSchema = await run(['--schema', 'tenant_b']);
    assert.equal(wrongSchema.code, 2, wrongSchema.stderr);
    assert.match(wrongSchema.stderr, /no Dits Webhooks tables in schema tenant_b of that database; pass the schema the service uses with --schema/);
    const output = await run([]);
    assert.equal(output.code, 0, output.stderr);
    assert.match(output.stdout, /Re-encrypted 1 secret of 1 webhook \(0 stored as plain text before\) in the postgres store/);
    assert.ok(!output.stdout.includes(secret));

    const second = await startTestService({ overrides: { databaseUrl, encryptionKey: NEW_KEY, pollIntervalMs: 50 } });
    try {
      const res = await second.api('POST', `/v1/repos/${repoId}/events`, pushEvent(), { token: adminToken });
      assert.equal(res.status, 202, res.text);
      await receiver.waitFor(1);
      const delivered = receiver.requests[0];
      assert.ok(verifyHubSignature(secret, delivered.body, delivered.headers['x-hub-signature-256'] as string));
      assert.doesNotThrow(() => verifyStandardWebhook(secret, delivered.body, delivered.headers as Record<string, string>));
    } finally {
      await second.stop();
      await receiver.close();
    }
  });
});
