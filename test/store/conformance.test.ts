import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { encodeCursor } from '../../src/store/rows.js';
import type { ClaimOptions, Store } from '../../src/store/types.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import {
  attemptResult,
  dropSchema,
  uniqueSchema,
  ingestItem,
  makeHook,
  makeRepo,
  postgresBackend,
  sqliteBackend,
  TEST_DATABASE_URL,
  type Backend,
} from './backends.js';

const claimOptions = (overrides: Partial<ClaimOptions> = {}): ClaimOptions => ({
  workerId: 'worker-a',
  now: 10_000,
  leaseMs: 300_000,
  limit: 100,
  maxInFlightPerWebhook: 10,
  ...overrides,
});

/** Stores one event for the repository and returns the ids of the deliveries it created, oldest first. */
async function ingestOne(store: Store, repoId: number, createdAt = 2_000): Promise<string[]> {
  const [result] = await store.ingest([ingestItem(repoId, { createdAt })]);
  assert.equal(result.ok, true);
  const page = await store.listEvents({ repoId, limit: 1 });
  assert.ok(page.items.length === 1);
  const ids: string[] = [];
  for (const hook of await store.listWebhooks({ kind: 'repo', repoId })) {
    const deliveries = await store.listDeliveries({ webhookId: hook.id, limit: 1000 });
    ids.push(...deliveries.items.filter((d) => d.eventId === page.items[0].id).map((d) => d.id));
  }
  return ids;
}

/** Stores two deliveries that failed and a replay of them, created at 10,200. */
async function replayOfTwoFailures(store: Store) {
  const repo = await makeRepo(store);
  const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
  await store.ingest([ingestItem(repo.id), ingestItem(repo.id)]);
  await store.completeAttempts((await store.claimDue(claimOptions())).map((d) => attemptResult(d, 'failed', { statusCode: 400 })), 10_100);
  const replay = await store.createReplay({ webhookId: hook.id, since: 0, until: null, onlyFailed: true }, 10_200);
  assert.ok(replay !== 'inactive');
  return { repo, hook, replay };
}

function conformance(backend: Backend): void {
  const withStore = async (run: (store: Store) => Promise<void>) => {
    const store = await backend.open();
    try {
      await run(store);
    } finally {
      await store.close();
    }
  };

  describe(`${backend.name} store`, () => {
    after(() => backend.dispose());

    test('migrate twice and ping', () =>
      withStore(async (store) => {
        await store.migrate();
        await store.migrate();
        await store.ping();
        assert.equal(store.kind, backend.name);
      }));

    test('repositories create, find and conflict', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store, 'User', 'Film', 1_000);
        assert.equal(repo.owner, 'User');
        assert.equal(repo.private, false);
        assert.equal(repo.archived, false);
        assert.equal(repo.createdAt, 1_000);
        assert.equal(await store.createRepository({ owner: 'user', name: 'film', private: true, description: 'x', defaultBranch: 'main' }, 2), 'exists');
        assert.deepEqual(await store.getRepository(repo.id), repo);
        assert.deepEqual(await store.findRepository('USER', 'FILM'), repo);
        assert.equal(await store.findRepository('user', 'other'), null);
        assert.equal(await store.getRepository(repo.id + 100), null);
      }));

    test('repositories update and soft delete', () =>
      withStore(async (store) => {
        const a = await makeRepo(store, 'user', 'a');
        const b = await makeRepo(store, 'user', 'b');
        const renamed = await store.updateRepository(a.id, { name: 'c', private: true, archived: true, description: 'Cut', defaultBranch: 'dev' }, 5_000);
        assert.ok(renamed);
        assert.notEqual(renamed, 'exists');
        assert.equal(renamed.name, 'c');
        assert.equal(renamed.private, true);
        assert.equal(renamed.archived, true);
        assert.equal(renamed.description, 'Cut');
        assert.equal(renamed.defaultBranch, 'dev');
        assert.equal(renamed.updatedAt, 5_000);
        assert.equal(await store.updateRepository(a.id, { name: 'B' }, 6_000), 'exists');
        const touched = await store.updateRepository(a.id, {}, 7_000);
        assert.ok(touched);
        assert.notEqual(touched, 'exists');
        assert.equal(touched.updatedAt, 7_000);
        assert.equal(await store.updateRepository(999, { name: 'x' }, 1), null);

        assert.equal(await store.deleteRepository(b.id, 8_000), true);
        assert.equal(await store.deleteRepository(b.id, 8_000), false);
        assert.equal(await store.getRepository(b.id), null);
        assert.equal(await store.updateRepository(b.id, { name: 'z' }, 1), null);
        const again = await makeRepo(store, 'user', 'b');
        assert.notEqual(again.id, b.id);
      }));

    test('repositories list with owner and cursor', () =>
      withStore(async (store) => {
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await makeRepo(store, i % 2 === 0 ? 'alice' : 'bob', `r${i}`));
        await store.deleteRepository(made[2].id, 9);
        const first = await store.listRepositories({ limit: 2 });
        assert.deepEqual(first.items.map((r) => r.name), ['r0', 'r1']);
        assert.equal(first.nextCursor, encodeCursor(made[1].id));
        const second = await store.listRepositories({ limit: 2, cursor: first.nextCursor as string });
        assert.deepEqual(second.items.map((r) => r.name), ['r3', 'r4']);
        assert.equal(second.nextCursor, null);
        const alice = await store.listRepositories({ limit: 10, owner: 'ALICE' });
        assert.deepEqual(alice.items.map((r) => r.name), ['r0', 'r4']);
        const garbage = await store.listRepositories({ limit: 10, cursor: 'not-a-cursor' });
        assert.equal(garbage.items.length, 4);
      }));

    test('webhooks create, scope and limit', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const other = await makeRepo(store);
        const input = { url: 'http://127.0.0.1:9/h', events: ['push', 'lock.*'], filters: { branches: ['main'] }, active: true, secret: 's'.repeat(20), insecureSsl: true };
        const hook = await store.createWebhook({ ...input, scope: { kind: 'repo', repoId: repo.id } }, 1_000, 2);
        assert.ok(hook !== 'limit');
        assert.deepEqual(hook.scope, { kind: 'repo', repoId: repo.id });
        assert.deepEqual(hook.events, ['push', 'lock.*']);
        assert.deepEqual(hook.filters, { branches: ['main'] });
        assert.equal(hook.insecureSsl, true);
        assert.equal(hook.lastDelivery, null);
        assert.equal(hook.failingSince, null);
        assert.equal(hook.previousSecret, null);
        const ownerHook = await store.createWebhook({ ...input, filters: null, scope: { kind: 'owner', owner: 'User' } }, 1_000, 2);
        assert.ok(ownerHook !== 'limit');
        assert.deepEqual(ownerHook.scope, { kind: 'owner', owner: 'User' });
        assert.equal(ownerHook.filters, null);

        assert.ok((await store.createWebhook({ ...input, scope: { kind: 'repo', repoId: repo.id } }, 1_000, 2)) !== 'limit');
        assert.equal(await store.createWebhook({ ...input, scope: { kind: 'repo', repoId: repo.id } }, 1_000, 2), 'limit');
        assert.ok((await store.createWebhook({ ...input, scope: { kind: 'repo', repoId: other.id } }, 1_000, 2)) !== 'limit');
        assert.equal(await store.deleteWebhook({ kind: 'repo', repoId: repo.id }, hook.id, 2_000), true);
        assert.ok((await store.createWebhook({ ...input, scope: { kind: 'repo', repoId: repo.id } }, 1_000, 2)) !== 'limit', 'a deleted webhook frees its place');

        assert.deepEqual(await store.getWebhook({ kind: 'owner', owner: 'user' }, ownerHook.id), ownerHook);
        assert.equal(await store.getWebhook({ kind: 'repo', repoId: other.id }, ownerHook.id), null);
        assert.equal(await store.getWebhook({ kind: 'repo', repoId: repo.id }, hook.id), null, 'deleted webhooks are gone');
        const listed = await store.listWebhooks({ kind: 'repo', repoId: repo.id });
        assert.equal(listed.length, 2);
        assert.ok(listed[0].id < listed[1].id);
        assert.deepEqual((await store.listWebhooks({ kind: 'owner', owner: 'USER' })).map((h) => h.id), [ownerHook.id]);
      }));

    test('webhooks concurrent creation keeps limit', () =>
      withStore(async (store) => {
        const sibling = await backend.openSibling();
        try {
          const repo = await makeRepo(store);
          const scope = { kind: 'repo' as const, repoId: repo.id };
          const tries = Array.from({ length: 8 }, (_, i) => makeHookOrLimit(i % 2 === 0 ? store : sibling, scope));
          const outcomes = await Promise.all(tries);
          assert.equal(outcomes.filter((o) => o !== 'limit').length, 3);
          assert.equal((await store.listWebhooks(scope)).length, 3);
        } finally {
          await sibling.close();
        }
      }));

    test('webhooks update, rotate and reactivate', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        const patched = await store.updateWebhook(scope, hook.id, { url: 'http://127.0.0.1:10/x', events: ['push'], filters: { tags: ['v*'] }, insecureSsl: true }, 2_000);
        assert.ok(patched);
        assert.equal(patched.url, 'http://127.0.0.1:10/x');
        assert.deepEqual(patched.events, ['push']);
        assert.deepEqual(patched.filters, { tags: ['v*'] });
        assert.equal(patched.insecureSsl, true);
        assert.equal(patched.updatedAt, 2_000);
        const cleared = await store.updateWebhook(scope, hook.id, { filters: null }, 2_100);
        assert.equal(cleared?.filters, null);

        const rotated = await store.updateWebhook(scope, hook.id, { secret: 'new-secret-value-123', previousSecretExpiresAt: 90_000 }, 3_000);
        assert.equal(rotated?.secret, 'new-secret-value-123');
        assert.equal(rotated?.previousSecret, hook.secret);
        assert.equal(rotated?.previousSecretExpiresAt, 90_000);

        await store.disableWebhook(hook.id, 'gone', 4_000);
        const disabled = await store.getWebhook(scope, hook.id);
        assert.equal(disabled?.active, false);
        assert.equal(disabled?.disabledReason, 'gone');
        const reactivated = await store.updateWebhook(scope, hook.id, { active: true }, 5_000);
        assert.equal(reactivated?.active, true);
        assert.equal(reactivated?.disabledReason, null);

        assert.equal(await store.updateWebhook({ kind: 'owner', owner: 'user' }, hook.id, { url: 'http://x/' }, 1), null);
        assert.equal(await store.updateWebhook(scope, hook.id + 99, { url: 'http://x/' }, 1), null);
        assert.equal(await store.deleteWebhook(scope, hook.id, 6_000), true);
        assert.equal(await store.deleteWebhook(scope, hook.id, 6_000), false);
        assert.equal(await store.updateWebhook(scope, hook.id, { url: 'http://x/' }, 1), null);
      }));

    test('tokens create, find, revoke, touch', () =>
      withStore(async (store) => {
        assert.equal(await store.countTokens(), 0);
        const token = await store.createToken({ name: 'ci', scopes: ['events:write', 'read'], hash: 'h1', prefix: 'dwt_ab' }, 1_000);
        await store.createToken({ name: 'admin', scopes: ['admin'], hash: 'h2', prefix: 'dwt_cd' }, 1_001);
        assert.deepEqual(token.scopes, ['events:write', 'read']);
        assert.equal(token.lastUsedAt, null);
        assert.equal(token.revokedAt, null);
        assert.deepEqual(await store.findTokenByHash('h1'), token);
        assert.equal(await store.findTokenByHash('nope'), null);
        assert.deepEqual((await store.listTokens()).map((t) => t.name), ['ci', 'admin']);
        assert.equal(await store.countTokens(), 2);
        await store.touchToken(token.id, 5_000);
        assert.equal((await store.findTokenByHash('h1'))?.lastUsedAt, 5_000);
        assert.equal(await store.revokeToken(token.id, 6_000), 'revoked');
        assert.equal(await store.revokeToken(token.id, 7_000), 'not_found');
        assert.equal(await store.revokeToken(999_999, 7_000), 'not_found');
        assert.equal((await store.findTokenByHash('h1'))?.revokedAt, 6_000);
      }));

    test('tokens revoked by another handle', () =>
      withStore(async (store) => {
        const sibling = await backend.openSibling();
        try {
          const token = await store.createToken({ name: 'ci', scopes: ['read'], hash: 'h3', prefix: 'dwt_ef' }, 1_000);
          assert.equal((await store.findTokenByHash('h3'))?.revokedAt, null, 'found before the revocation');
          assert.equal(await sibling.revokeToken(token.id, 2_000), 'revoked');
          // A store may keep a found token for up to 0.1 s after another handle wrote.
          await new Promise((resolve) => setTimeout(resolve, 150));
          assert.equal((await store.findTokenByHash('h3'))?.revokedAt, 2_000, 'the revocation is seen');
          const created = await sibling.createToken({ name: 'new', scopes: ['read'], hash: 'h4', prefix: 'dwt_gh' }, 3_000);
          assert.equal((await store.findTokenByHash('h4'))?.id, created.id, 'a new token is found at once');
        } finally {
          await sibling.close();
        }
      }));

    test('tokens list in pages', () =>
      withStore(async (store) => {
        const created = [];
        for (let i = 0; i < 5; i++) created.push(await store.createToken({ name: `t${i}`, scopes: ['read'], hash: `p${i}`, prefix: 'dwt_p' }, 1_000 + i));
        await store.revokeToken(created[1].id, 2_000);
        const first = await store.listTokenPage({ limit: 2 });
        assert.deepEqual(first.items.map((t) => t.name), ['t0', 't1']);
        assert.equal(first.items[1].revokedAt, 2_000, 'revoked tokens are listed');
        assert.ok(first.nextCursor);
        const second = await store.listTokenPage({ limit: 2, cursor: first.nextCursor });
        assert.deepEqual(second.items.map((t) => t.name), ['t2', 't3']);
        const last = await store.listTokenPage({ limit: 2, cursor: second.nextCursor! });
        assert.deepEqual(last.items.map((t) => t.name), ['t4']);
        assert.equal(last.nextCursor, null);
      }));

    test('tokens keep the last admin', () =>
      withStore(async (store) => {
        const first = await store.createToken({ name: 'a1', scopes: ['admin'], hash: 'a1', prefix: 'dwt_a1' }, 1_000);
        const second = await store.createToken({ name: 'a2', scopes: ['read', 'admin'], hash: 'a2', prefix: 'dwt_a2' }, 1_000);
        const reader = await store.createToken({ name: 'r', scopes: ['read', 'write'], hash: 'r1', prefix: 'dwt_r1' }, 1_000);
        assert.equal(await store.revokeToken(first.id, 2_000), 'revoked');
        assert.equal(await store.revokeToken(second.id, 2_000), 'last_admin', 'tokens without the admin scope do not count');
        assert.equal((await store.findTokenByHash('a2'))?.revokedAt, null);
        assert.equal(await store.revokeToken(reader.id, 2_000), 'revoked', 'other tokens are revoked as before');
      }));

    test('tokens concurrent revocation keeps an admin', () =>
      withStore(async (store) => {
        const sibling = await backend.openSibling();
        try {
          for (let round = 0; round < 5; round++) {
            const left = await store.createToken({ name: `x${round}`, scopes: ['admin'], hash: `x${round}`, prefix: 'dwt_x' }, 1_000);
            const right = await store.createToken({ name: `y${round}`, scopes: ['admin'], hash: `y${round}`, prefix: 'dwt_y' }, 1_000);
            // Only the two new admin tokens are active when both revocations start.
            for (const token of await store.listTokens()) {
              if (token.revokedAt === null && token.id !== left.id && token.id !== right.id) await store.revokeToken(token.id, 1_500);
            }
            const outcomes = await Promise.all([store.revokeToken(left.id, 2_000), sibling.revokeToken(right.id, 2_000)]);
            assert.deepEqual([...outcomes].sort(), ['last_admin', 'revoked'], `round ${round}: exactly one revocation wins`);
          }
        } finally {
          await sibling.close();
        }
      }));

    test('service processes record, refresh, list, remove', () =>
      withStore(async (store) => {
        await store.recordServiceProcess({ id: 'service-a', role: 'api', startedAt: 1_000, seenAt: 1_000 });
        await store.recordServiceProcess({ id: 'service-b', role: 'worker', startedAt: 2_000, seenAt: 2_000 });
        await store.recordServiceProcess({ id: 'service-a', role: 'api', startedAt: 9_999, seenAt: 5_000 });
        assert.deepEqual(await store.listServiceProcesses(0), [
          { id: 'service-a', role: 'api', startedAt: 1_000, seenAt: 5_000 },
          { id: 'service-b', role: 'worker', startedAt: 2_000, seenAt: 2_000 },
        ], 'a refresh moves only seenAt');
        assert.deepEqual((await store.listServiceProcesses(3_000)).map((p) => p.id), ['service-a'], 'older records are left out');
        await store.removeServiceProcess('service-a');
        await store.removeServiceProcess('service-missing');
        assert.deepEqual((await store.listServiceProcesses(0)).map((p) => p.id), ['service-b']);
      }));

    test('repository deletion cancels its waiting deliveries', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store, 'user');
        const repoHook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        const ownerHook = await makeHook(store, { kind: 'owner', owner: 'user' });
        await store.ingest([ingestItem(repo.id, { createdAt: 2_000 })]);
        await store.ingest([ingestItem(repo.id, { createdAt: 2_100, event: 'repo.deleted' })]);
        assert.equal(await store.deleteRepository(repo.id, 3_000), true);
        const own = await store.listDeliveries({ webhookId: repoHook.id, limit: 10 });
        const byEvent = Object.fromEntries(own.items.map((d) => [d.event, d.status]));
        assert.deepEqual(byEvent, { push: 'cancelled', 'repo.deleted': 'pending' });
        const owner = await store.listDeliveries({ webhookId: ownerHook.id, limit: 10 });
        assert.deepEqual(owner.items.map((d) => d.status), ['pending', 'pending'], 'owner-level deliveries stay reachable and waiting');

        // A failed attempt of repo.deleted to the repository's own webhook is not retried, since no route shows that delivery any more.
        const claimed = await store.claimDue(claimOptions());
        assert.equal(claimed.length, 3);
        await store.completeAttempts(claimed.map((d) => attemptResult(d, 'retrying')), 10_100);
        const ownAfter = await store.listDeliveries({ webhookId: repoHook.id, limit: 10 });
        assert.deepEqual(Object.fromEntries(ownAfter.items.map((d) => [d.event, d.status])), { push: 'cancelled', 'repo.deleted': 'cancelled' });
        const ownerAfter = await store.listDeliveries({ webhookId: ownerHook.id, limit: 10 });
        assert.deepEqual(ownerAfter.items.map((d) => d.status), ['retrying', 'retrying'], 'owner-level deliveries keep their retries');
      }));

    test('repository deletion cancels a repo.deleted already retried', () =>
      withStore(async (store) => {
        // The API stores repo.deleted before it deletes the repository, so a worker can attempt it in between.
        const repo = await makeRepo(store, 'user');
        const repoHook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id, { createdAt: 2_000 }), ingestItem(repo.id, { createdAt: 2_100, event: 'repo.deleted' })]);
        const claimed = await store.claimDue(claimOptions());
        assert.equal(claimed.length, 2);
        await store.completeAttempts(claimed.map((d) => attemptResult(d, 'retrying', { nextAttemptAt: 70_000 })), 10_100);
        assert.equal(await store.deleteRepository(repo.id, 10_200), true);
        const own = await store.listDeliveries({ webhookId: repoHook.id, limit: 10 });
        assert.deepEqual(Object.fromEntries(own.items.map((d) => [d.event, d.status])), { push: 'cancelled', 'repo.deleted': 'cancelled' });
        assert.deepEqual(await store.claimDue(claimOptions({ now: 80_000 })), [], 'nothing is attempted again');
        const hook = await store.getWebhook({ kind: 'repo', repoId: repo.id }, repoHook.id);
        assert.equal(hook?.lastDelivery?.status, 'cancelled', 'the webhook shows its last delivery as cancelled');
      }));

    test('ingest fans out to active repo and owner hooks', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store, 'user');
        const repoHook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        const ownerHook = await makeHook(store, { kind: 'owner', owner: 'USER' });
        await makeHook(store, { kind: 'repo', repoId: repo.id }, { active: false });
        await makeHook(store, { kind: 'owner', owner: 'someone-else' });
        const item = ingestItem(repo.id, { createdAt: 4_000 });
        const [result] = await store.ingest([item]);
        assert.deepEqual(result, { ok: true, eventId: item.eventId, event: 'push', deliveries: 2, replayed: false, createdAt: 4_000 });

        const events = await store.listEvents({ repoId: repo.id, limit: 10 });
        assert.equal(events.items.length, 1);
        assert.equal(events.items[0].id, item.eventId);
        assert.equal(events.items[0].payload, item.payload);
        assert.equal(events.items[0].deliveries, 2);
        assert.equal(events.items[0].createdAt, 4_000);
        for (const hook of [repoHook, ownerHook]) {
          const page = await store.listDeliveries({ webhookId: hook.id, limit: 10 });
          assert.equal(page.items.length, 1);
          const summary = page.items[0];
          assert.equal(summary.status, 'pending');
          assert.equal(summary.eventId, item.eventId);
          assert.equal(summary.nextAttemptAt, 4_000);
          assert.equal(summary.attempts, 0);
          const detail = await store.getDelivery(hook.id, summary.id);
          assert.ok(detail);
          assert.deepEqual(JSON.parse(detail.body.toString()), { event: 'push', delivery_id: summary.id, event_id: item.eventId });
          assert.deepEqual(detail.attemptsLog, []);
        }
        assert.equal(await store.queueSize(), 2);
        assert.equal(await store.nextDueAt(), 4_000);
      }));

    test('ingest batch results per item', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        await makeHook(store, { kind: 'repo', repoId: repo.id });
        const deleted = await makeRepo(store);
        await store.deleteRepository(deleted.id, 1_500);
        const first = ingestItem(repo.id, { key: 'k1', hash: 'h' });
        const items = [
          first,
          ingestItem(999_999),
          ingestItem(deleted.id),
          ingestItem(repo.id, { key: 'k1', hash: 'h' }),
          ingestItem(repo.id, { key: 'k1', hash: 'other' }),
          ingestItem(repo.id),
        ];
        const results = await store.ingest(items);
        assert.deepEqual(results[0], { ok: true, eventId: first.eventId, event: 'push', deliveries: 1, replayed: false, createdAt: 2_000 });
        assert.deepEqual(results[1], { ok: false, code: 'repo_not_found' });
        assert.deepEqual(results[2], { ok: false, code: 'repo_not_found' });
        assert.deepEqual(results[3], { ok: true, eventId: first.eventId, event: 'push', deliveries: 1, replayed: true, createdAt: 2_000 });
        assert.deepEqual(results[4], { ok: false, code: 'idempotency_key_reused' });
        assert.equal(results[5].ok && results[5].replayed, false);
        assert.equal((await store.listEvents({ repoId: repo.id, limit: 10 })).items.length, 2);
        assert.equal(await store.queueSize(), 2);
        assert.deepEqual(await store.ingest([]), []);
      }));

    test('ingest error stores nothing of the batch', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        await makeHook(store, { kind: 'repo', repoId: repo.id });
        const failing = {
          ...ingestItem(repo.id),
          plan: () => {
            throw new Error('planning failed');
          },
        };
        await assert.rejects(store.ingest([ingestItem(repo.id, { key: 'before' }), failing, ingestItem(repo.id)]), /planning failed/);
        assert.equal((await store.listEvents({ repoId: repo.id, limit: 10 })).items.length, 0);
        assert.equal(await store.queueSize(), 0);
        const [retried] = await store.ingest([ingestItem(repo.id, { key: 'before' })]);
        assert.equal(retried.ok && retried.replayed, false, 'the key of the failed batch was not kept');
      }));

    test('ingest idempotency across batches', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const other = await makeRepo(store);
        await makeHook(store, { kind: 'repo', repoId: repo.id });
        const first = ingestItem(repo.id, { key: 'push-1', hash: 'abc', createdAt: 3_000 });
        const [stored] = await store.ingest([first]);
        assert.equal(stored.ok, true);
        assert.equal((stored as { replayed?: boolean }).replayed, false);
        const [replayed] = await store.ingest([ingestItem(repo.id, { key: 'push-1', hash: 'abc', createdAt: 9_000 })]);
        assert.deepEqual(replayed, { ok: true, eventId: first.eventId, event: 'push', deliveries: 1, replayed: true, createdAt: 3_000 });
        const [reused] = await store.ingest([ingestItem(repo.id, { key: 'push-1', hash: 'xyz' })]);
        assert.deepEqual(reused, { ok: false, code: 'idempotency_key_reused' });
        const [otherRepo] = await store.ingest([ingestItem(other.id, { key: 'push-1', hash: 'abc' })]);
        assert.equal(otherRepo.ok, true, 'keys are scoped to one repository');
        assert.equal((otherRepo as { replayed?: boolean }).replayed, false, 'keys are scoped to one repository');
        assert.equal(await store.queueSize(), 1);
      }));

    test('ingest same key from two handles', () =>
      withStore(async (store) => {
        const sibling = await backend.openSibling();
        try {
          const repo = await makeRepo(store);
          await makeHook(store, { kind: 'repo', repoId: repo.id });
          const results = await Promise.all(
            Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? store : sibling).ingest([ingestItem(repo.id, { key: 'race', hash: 'same' })])),
          );
          const flat = results.flat();
          assert.equal(flat.filter((r) => r.ok && !r.replayed).length, 1);
          assert.equal(flat.filter((r) => r.ok && r.replayed).length, 5);
          const ids = new Set(flat.map((r) => (r.ok ? r.eventId : '')));
          assert.equal(ids.size, 1);
          assert.equal((await store.listEvents({ repoId: repo.id, limit: 10 })).items.length, 1);
          assert.equal(await store.queueSize(), 1);
        } finally {
          await sibling.close();
        }
      }));

    test('events list cursor and afterSeq', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const other = await makeRepo(store);
        for (let i = 0; i < 5; i++) await store.ingest([ingestItem(repo.id, { createdAt: 1_000 + i }), ingestItem(other.id)]);
        const first = await store.listEvents({ repoId: repo.id, limit: 2 });
        assert.deepEqual(first.items.map((e) => e.createdAt), [1_004, 1_003]);
        assert.equal(first.nextCursor, encodeCursor(first.items[1].seq));
        const second = await store.listEvents({ repoId: repo.id, limit: 2, cursor: first.nextCursor as string });
        assert.deepEqual(second.items.map((e) => e.createdAt), [1_002, 1_001]);
        const third = await store.listEvents({ repoId: repo.id, limit: 2, cursor: second.nextCursor as string });
        assert.deepEqual(third.items.map((e) => e.createdAt), [1_000]);
        assert.equal(third.nextCursor, null);
        const after = await store.listEvents({ repoId: repo.id, afterSeq: third.items[0].seq, limit: 3 });
        assert.deepEqual(after.items.map((e) => e.createdAt), [1_001, 1_002, 1_003]);
        assert.equal(after.nextCursor, null);
        assert.equal(after.items[0].repoId, repo.id);
      }));

    test('events page stops at the payload budget', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        for (let i = 0; i < 5; i++) await store.ingest([ingestItem(repo.id, { createdAt: 1_000 + i })]);
        const size = Buffer.byteLength((await store.listEvents({ repoId: repo.id, limit: 1 })).items[0].payload);
        const budget = 2 * size + 1;

        const first = await store.listEvents({ repoId: repo.id, limit: 10, payloadBudget: budget });
        assert.deepEqual(first.items.map((e) => e.createdAt), [1_004, 1_003]);
        assert.equal(first.nextCursor, encodeCursor(first.items[1].seq));
        const second = await store.listEvents({ repoId: repo.id, limit: 10, cursor: first.nextCursor as string, payloadBudget: budget });
        assert.deepEqual(second.items.map((e) => e.createdAt), [1_002, 1_001]);
        const third = await store.listEvents({ repoId: repo.id, limit: 10, cursor: second.nextCursor as string, payloadBudget: budget });
        assert.deepEqual(third.items.map((e) => e.createdAt), [1_000]);
        assert.equal(third.nextCursor, null);

        const oversized = await store.listEvents({ repoId: repo.id, limit: 10, payloadBudget: 1 });
        assert.deepEqual(oversized.items.map((e) => e.createdAt), [1_004], 'an event larger than the budget still fills a page of its own');
        const after = await store.listEvents({ repoId: repo.id, afterSeq: third.items[0].seq, limit: 10, payloadBudget: budget });
        assert.deepEqual(after.items.map((e) => e.createdAt), [1_001, 1_002]);
      }));

    test('direct delivery and delivery list filters', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        const body = Buffer.from('{"event":"ping","zen":"\u00e9"}\n\u0000', 'utf8');
        await store.createDirectDelivery({ webhookId: hook.id, event: 'ping', planned: { id: 'ping-1', webhookId: hook.id, body } }, 1_500);
        for (let i = 0; i < 4; i++) await store.ingest([ingestItem(repo.id, { createdAt: 2_000 + i, event: i % 2 === 0 ? 'push' : 'lock.acquired' })]);
        const ping = await store.getDelivery(hook.id, 'ping-1');
        assert.ok(ping);
        assert.equal(ping.eventId, null);
        assert.equal(ping.event, 'ping');
        assert.equal(ping.nextAttemptAt, 1_500);
        assert.ok(ping.body.equals(body), 'body bytes come back unchanged');
        assert.equal(await store.getDelivery(hook.id + 1, 'ping-1'), null);
        assert.equal(await store.getDelivery(hook.id, 'missing'), null);

        const all = await store.listDeliveries({ webhookId: hook.id, limit: 3 });
        assert.deepEqual(all.items.map((d) => d.event), ['lock.acquired', 'push', 'lock.acquired']);
        assert.equal(all.nextCursor, encodeCursor(all.items[2].seq));
        const rest = await store.listDeliveries({ webhookId: hook.id, limit: 3, cursor: all.nextCursor as string });
        assert.deepEqual(rest.items.map((d) => d.event), ['push', 'ping']);
        assert.equal(rest.nextCursor, null);
        const pushes = await store.listDeliveries({ webhookId: hook.id, limit: 10, event: 'push' });
        assert.equal(pushes.items.length, 2);
        const pending = await store.listDeliveries({ webhookId: hook.id, limit: 10, status: 'pending' });
        assert.equal(pending.items.length, 5);
        const delivered = await store.listDeliveries({ webhookId: hook.id, limit: 10, status: 'delivered' });
        assert.equal(delivered.items.length, 0);
      }));

    test('claim order, limit and lease fields', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id, { createdAt: 3_000 })]);
        await store.ingest([ingestItem(repo.id, { createdAt: 1_000 }), ingestItem(repo.id, { createdAt: 1_000 })]);
        await store.ingest([ingestItem(repo.id, { createdAt: 50_000 })]);
        const first = await store.claimDue(claimOptions({ limit: 2 }));
        assert.equal(first.length, 2);
        assert.ok(first[0].seq < first[1].seq);
        assert.equal(first[0].webhookId, hook.id);
        assert.equal(first[0].status, 'pending');
        assert.equal(first[0].attempts, 0);
        assert.equal(first[0].manual, false);
        assert.equal(first[0].resumeAt, null);
        assert.ok(first[0].leaseToken.startsWith('worker-a:'));
        assert.notEqual(first[0].leaseToken, first[1].leaseToken);
        assert.deepEqual(first[0].webhook, { id: hook.id, url: hook.url, secret: hook.secret, previousSecret: null, previousSecretExpiresAt: null, insecureSsl: false });
        assert.ok(Buffer.isBuffer(first[0].body));
        const next = await store.claimDue(claimOptions());
        assert.equal(next.length, 1, 'the delivery due at 50 000 waits');
        assert.ok(next[0].seq < Math.max(first[0].seq, first[1].seq), 'created_at 3 000 came first in seq but is due later');
        assert.equal((await store.claimDue(claimOptions())).length, 0);
        assert.equal((await store.claimDue(claimOptions({ now: 50_000 }))).length, 1);
      }));

    test('claim respects per-webhook limit', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const busy = await makeHook(store, { kind: 'repo', repoId: repo.id });
        const otherRepo = await makeRepo(store);
        const quiet = await makeHook(store, { kind: 'repo', repoId: otherRepo.id });
        for (let i = 0; i < 3; i++) await store.ingest(Array.from({ length: 10 }, () => ingestItem(repo.id, { createdAt: 1_000 })));
        await store.ingest([ingestItem(otherRepo.id, { createdAt: 5_000 })]);
        const a = await store.claimDue(claimOptions({ maxInFlightPerWebhook: 3, limit: 2 }));
        assert.deepEqual(a.map((d) => d.webhookId), [busy.id, busy.id]);
        const b = await store.claimDue(claimOptions({ workerId: 'worker-b', maxInFlightPerWebhook: 3 }));
        assert.deepEqual(b.map((d) => d.webhookId), [busy.id, quiet.id], 'one more for the busy webhook, then the quiet one');
        const c = await store.claimDue(claimOptions({ workerId: 'worker-c', maxInFlightPerWebhook: 3 }));
        assert.deepEqual(c, [], 'a webhook at its limit gets nothing');
        await store.completeAttempts([attemptResult(a[0], 'delivered')], 11_000);
        const d = await store.claimDue(claimOptions({ workerId: 'worker-c', maxInFlightPerWebhook: 3 }));
        assert.equal(d.length, 1, 'a finished attempt frees one place');
      }));

    test('complete with claimNext claims freed places', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest(Array.from({ length: 5 }, () => ingestItem(repo.id, { createdAt: 1_000 })));
        const first = await store.claimDue(claimOptions({ maxInFlightPerWebhook: 2 }));
        assert.equal(first.length, 2);
        const next = await store.completeAttempts(
          first.map((d) => attemptResult(d, 'delivered')),
          11_000,
          claimOptions({ workerId: 'worker-b', now: 11_000, maxInFlightPerWebhook: 2 }),
        );
        assert.equal(next.length, 2, 'both places freed by the batch are taken again');
        assert.ok(next.every((d) => d.webhookId === hook.id && d.leaseToken.startsWith('worker-b:')));
        assert.ok(next.every((d) => !first.some((f) => f.id === d.id)), 'finished deliveries are not claimed again');
        for (const done of first) {
          const detail = await store.getDelivery(hook.id, done.id);
          assert.equal(detail?.status, 'delivered');
          assert.equal(detail?.attemptsLog.length, 1);
        }
        const none = await store.completeAttempts([], 12_000, claimOptions({ workerId: 'worker-c', now: 12_000, maxInFlightPerWebhook: 2 }));
        assert.deepEqual(none, [], 'the webhook is at its limit again');
        assert.deepEqual(await store.completeAttempts(next.map((d) => attemptResult(d, 'delivered')), 13_000), [], 'no claim without claimNext');
      }));

    test('claim skips inactive and deleted webhooks', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id)]);
        const [delivery] = (await store.listDeliveries({ webhookId: hook.id, limit: 1 })).items;
        await store.updateWebhook(scope, hook.id, { active: false }, 3_000);
        assert.equal((await store.getDelivery(hook.id, delivery.id))?.status, 'cancelled');
        assert.deepEqual(await store.claimDue(claimOptions()), []);
        assert.equal(await store.requestRedelivery(hook.id, delivery.id, 4_000), 'inactive');
        assert.equal(await store.createReplay({ webhookId: hook.id, since: 0, until: null, onlyFailed: false }, 4_000), 'inactive');
        assert.deepEqual(await store.claimDue(claimOptions()), [], 'nothing was queued for the inactive webhook');
        await store.updateWebhook(scope, hook.id, { active: true }, 4_500);
        const manual = await store.requestRedelivery(hook.id, delivery.id, 4_600);
        assert.notEqual(manual, null, 'the delivery exists');
        assert.equal(typeof manual, 'object', `the redelivery is queued once the webhook is active again, got ${String(manual)}`);
        await store.deleteWebhook(scope, hook.id, 5_000);
        assert.deepEqual(await store.claimDue(claimOptions()), [], 'deleted webhooks get nothing');
      }));

    test('expired lease is reclaimed', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id)]);
        const [first] = await store.claimDue(claimOptions({ now: 10_000, leaseMs: 5_000, maxInFlightPerWebhook: 1 }));
        assert.ok(first);
        assert.deepEqual(await store.claimDue(claimOptions({ now: 14_999, leaseMs: 5_000, workerId: 'worker-b' })), []);
        const [second] = await store.claimDue(claimOptions({ now: 15_000, leaseMs: 5_000, workerId: 'worker-b', maxInFlightPerWebhook: 1 }));
        assert.ok(second, 'a lease that has expired no longer counts or holds the delivery');
        assert.equal(second.id, first.id);
        assert.ok(second.leaseToken.startsWith('worker-b:'));
        assert.notEqual(second.leaseToken, first.leaseToken);
        assert.ok(second.body.equals(first.body));
      }));

    test('complete records attempt and moves on', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id)]);
        const [claimed] = await store.claimDue(claimOptions());
        const result = attemptResult(claimed, 'delivered', { startedAt: 10_100 });
        await store.completeAttempts([result], 10_200);
        const detail = await store.getDelivery(hook.id, claimed.id);
        assert.ok(detail);
        assert.equal(detail.status, 'delivered');
        assert.equal(detail.attempts, 1);
        assert.equal(detail.nextAttemptAt, null);
        assert.equal(detail.lastStatusCode, 200);
        assert.equal(detail.lastError, null);
        assert.equal(detail.updatedAt, 10_200);
        assert.equal(detail.attemptsLog.length, 1);
        const attempt = detail.attemptsLog[0];
        assert.deepEqual({ ...attempt, responseBody: null }, { ...result.attempt, responseBody: null });
        assert.ok(attempt.responseBody?.equals(Buffer.from([0, 1, 2, 255])));
        const after = await store.getWebhook(scope, hook.id);
        assert.deepEqual(after?.lastDelivery, { id: claimed.id, event: 'push', status: 'delivered', statusCode: 200, at: 10_100 });
        assert.equal(after?.failingSince, null);
        assert.equal(await store.queueSize(), 0);
        assert.equal(await store.nextDueAt(), null);
        await store.completeAttempts([], 1);
      }));

    test('retrying then failing updates webhook', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id)]);
        const [claimed] = await store.claimDue(claimOptions());
        await store.completeAttempts([attemptResult(claimed, 'retrying', { startedAt: 10_100, statusCode: null, nextAttemptAt: 70_000 })], 10_200);
        let detail = await store.getDelivery(hook.id, claimed.id);
        assert.equal(detail?.status, 'retrying');
        assert.equal(detail?.nextAttemptAt, 70_000);
        assert.equal(detail?.lastError, 'no response within 10 s');
        assert.equal(detail?.attemptsLog[0].errorCode, 'timeout');
        assert.equal(detail?.attemptsLog[0].responseHeaders, null);
        assert.equal((await store.getWebhook(scope, hook.id))?.failingSince, 10_100);
        assert.equal(await store.nextDueAt(), 70_000);
        assert.equal(await store.queueSize(), 1);
        assert.deepEqual(await store.claimDue(claimOptions({ now: 69_999 })), []);
        const [again] = await store.claimDue(claimOptions({ now: 70_000 }));
        assert.equal(again.status, 'retrying');
        assert.equal(again.attempts, 1);
        await store.completeAttempts([attemptResult(again, 'failed', { startedAt: 70_100, statusCode: 404 })], 70_200);
        detail = await store.getDelivery(hook.id, claimed.id);
        assert.equal(detail?.status, 'failed');
        assert.deepEqual(detail?.attemptsLog.map((a) => a.attempt), [1, 2]);
        const webhook = await store.getWebhook(scope, hook.id);
        assert.equal(webhook?.failingSince, 10_100, 'failing_since keeps the first failure');
        assert.deepEqual(webhook?.lastDelivery, { id: claimed.id, event: 'push', status: 'failed', statusCode: 404, at: 70_100 });
        assert.deepEqual(await store.listFailingWebhooks(10_100), [hook.id]);
        assert.deepEqual(await store.listFailingWebhooks(10_099), []);
      }));

    test('complete batch folds webhook state in order', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id), ingestItem(repo.id), ingestItem(repo.id)]);
        const [a, b, c] = await store.claimDue(claimOptions());
        await store.completeAttempts(
          [
            attemptResult(a, 'failed', { startedAt: 20_000, statusCode: 400 }),
            attemptResult(b, 'delivered', { startedAt: 20_100 }),
            attemptResult(c, 'failed', { startedAt: 20_200, statusCode: 401 }),
          ],
          21_000,
        );
        const webhook = await store.getWebhook(scope, hook.id);
        assert.equal(webhook?.failingSince, 20_200, 'a success clears it and the next failure starts it again');
        assert.deepEqual(webhook?.lastDelivery, { id: c.id, event: 'push', status: 'failed', statusCode: 401, at: 20_200 });
      }));

    test('lost lease records attempt only', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id)]);
        const [stale] = await store.claimDue(claimOptions({ now: 10_000, leaseMs: 1_000 }));
        const [fresh] = await store.claimDue(claimOptions({ now: 11_000, leaseMs: 30_000, workerId: 'worker-b' }));
        assert.equal(fresh.id, stale.id);
        await store.completeAttempts([attemptResult(stale, 'failed', { startedAt: 10_100, statusCode: 400 })], 12_000);
        let detail = await store.getDelivery(hook.id, stale.id);
        assert.equal(detail?.status, 'pending', 'the stale result leaves the delivery alone');
        assert.equal(detail?.attempts, 0);
        assert.equal(detail?.attemptsLog.length, 1, 'but its attempt is recorded');
        assert.equal((await store.getWebhook(scope, hook.id))?.lastDelivery, null);
        assert.deepEqual(await store.claimDue(claimOptions({ now: 12_000, workerId: 'worker-c' })), [], 'the fresh lease still holds');
        await store.completeAttempts([attemptResult(fresh, 'delivered', { startedAt: 11_100 })], 12_500);
        detail = await store.getDelivery(hook.id, stale.id);
        assert.equal(detail?.status, 'delivered');
        assert.equal(detail?.attempts, 1);
        assert.deepEqual(detail?.attemptsLog.map((a) => [a.attempt, a.outcome]), [[1, 'failed'], [2, 'delivered']]);
      }));

    /** Makes a repository with two webhooks and claims the two deliveries of one event. */
    async function twoHooksClaimed(store: Store) {
      const repo = await makeRepo(store);
      const scope = { kind: 'repo' as const, repoId: repo.id };
      const first = await makeHook(store, scope);
      const second = await makeHook(store, scope);
      await store.ingest([ingestItem(repo.id)]);
      const claimed = await store.claimDue(claimOptions());
      assert.equal(claimed.length, 2);
      return { scope, first, second, claimed };
    }

    test('retry for removed webhook is cancelled', () =>
      withStore(async (store) => {
        const { scope, first: deactivated, second: removed, claimed } = await twoHooksClaimed(store);
        await store.updateWebhook(scope, deactivated.id, { active: false }, 10_500);
        await store.deleteWebhook(scope, removed.id, 10_500);
        for (const delivery of claimed) assert.equal((await store.getDelivery(delivery.webhookId, delivery.id))?.status, 'pending', 'leased rows are left to their worker');
        await store.completeAttempts(claimed.map((d) => attemptResult(d, 'retrying')), 11_000);
        for (const delivery of claimed) {
          const detail = await store.getDelivery(delivery.webhookId, delivery.id);
          assert.equal(detail?.status, 'cancelled');
          assert.equal(detail?.nextAttemptAt, null);
          assert.equal(detail?.attemptsLog[0].outcome, 'retrying');
        }
        assert.equal(await store.queueSize(), 0);
      }));

    test('deactivation marks the last delivery cancelled', () =>
      withStore(async (store) => {
        const { scope, first: hook, second: other, claimed } = await twoHooksClaimed(store);
        await store.completeAttempts(claimed.map((d) => attemptResult(d, 'retrying', { nextAttemptAt: 50_000 })), 10_100);
        assert.equal((await store.getWebhook(scope, hook.id))?.lastDelivery?.status, 'retrying');
        await store.updateWebhook(scope, hook.id, { active: false }, 10_200);
        const last = (await store.getWebhook(scope, hook.id))?.lastDelivery;
        assert.equal(last?.status, 'cancelled', 'the webhook shows what became of its last delivery');
        assert.equal(last?.id, claimed.find((d) => d.webhookId === hook.id)?.id);
        assert.equal((await store.getWebhook(scope, other.id))?.lastDelivery?.status, 'retrying', 'other webhooks keep theirs');
        await store.updateWebhook(scope, hook.id, { active: true }, 10_300);
        assert.equal((await store.getWebhook(scope, hook.id))?.lastDelivery?.status, 'cancelled', 'activating again does not revive it');
      }));

    test('deactivation cancels waiting deliveries', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id), ingestItem(repo.id), ingestItem(repo.id)]);
        const [leased] = await store.claimDue(claimOptions({ limit: 1 }));
        await store.completeAttempts([attemptResult(leased, 'delivered')], 10_100);
        const redelivery = await store.requestRedelivery(hook.id, leased.id, 10_200);
        assert.ok(redelivery);
        assert.notEqual(redelivery, 'in_progress');
        const [held] = await store.claimDue(claimOptions({ limit: 1, now: 10_300 }));
        assert.notEqual(held.id, leased.id, 'the pending ones come first by due time');
        await store.disableWebhook(hook.id, 'failing', 10_400);
        const page = await store.listDeliveries({ webhookId: hook.id, limit: 10 });
        const byId = new Map(page.items.map((d) => [d.id, d]));
        assert.equal(byId.get(held.id)?.status, 'pending', 'the leased delivery is left to its worker');
        assert.equal(byId.get(leased.id)?.status, 'delivered', 'a queued manual attempt is dropped but the status kept');
        assert.equal(byId.get(leased.id)?.nextAttemptAt, null);
        const cancelled = page.items.filter((d) => d.status === 'cancelled');
        assert.equal(cancelled.length, 1);
        assert.equal(cancelled[0].updatedAt, 10_400);
        assert.equal(await store.requestRedelivery(hook.id, leased.id, 10_450), 'inactive');
        await store.updateWebhook(scope, hook.id, { active: true }, 10_460);
        assert.equal(await store.requestRedelivery(hook.id, held.id, 10_500), 'in_progress');
        const again = await store.requestRedelivery(hook.id, leased.id, 10_500);
        assert.ok(again, 'a dropped manual attempt can be asked for again');
        assert.notEqual(again, 'in_progress', 'a dropped manual attempt can be asked for again');
      }));

    test('given-back manual attempt of an inactive webhook', () =>
      withStore(async (store) => {
        // A redelivery in flight when its webhook is deactivated, whose worker then gives the lease back.
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id)]);
        const [first] = await store.claimDue(claimOptions());
        await store.completeAttempts([attemptResult(first, 'delivered')], 10_100);
        assert.ok(await store.requestRedelivery(hook.id, first.id, 10_200));
        const [manual] = await store.claimDue(claimOptions({ now: 10_300 }));
        assert.equal(manual.manual, true);
        await store.updateWebhook(scope, hook.id, { active: false }, 10_400);
        await store.releaseLeases([{ deliveryId: manual.id, leaseToken: manual.leaseToken }]);
        assert.deepEqual(await store.claimDue(claimOptions({ now: 10_500 })), [], 'an inactive webhook gets no attempt, manual or not');
        assert.equal(await store.cancelAbandonedDeliveries(10_600), 1);
        const detail = await store.getDelivery(hook.id, first.id);
        assert.equal(detail?.status, 'delivered', 'the dropped manual attempt keeps the status');
        assert.equal(detail?.nextAttemptAt, null);
        await store.updateWebhook(scope, hook.id, { active: true }, 10_700);
        assert.deepEqual(await store.claimDue(claimOptions({ now: 10_800 })), [], 'activating again does not revive it');
      }));

    test('given-back attempt of a deleted repository', () =>
      withStore(async (store) => {
        // A push in flight when its repository is deleted, whose worker then gives the lease back.
        const repo = await makeRepo(store, 'user');
        const repoHook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        const ownerHook = await makeHook(store, { kind: 'owner', owner: 'user' });
        await store.ingest([ingestItem(repo.id, { createdAt: 2_000 })]);
        const pushes = await store.claimDue(claimOptions());
        assert.equal(pushes.length, 2);
        await store.ingest([ingestItem(repo.id, { createdAt: 10_050, event: 'repo.deleted' })]);
        assert.equal(await store.deleteRepository(repo.id, 10_100), true);
        await store.releaseLeases(pushes.map((d) => ({ deliveryId: d.id, leaseToken: d.leaseToken })));
        const claimed = await store.claimDue(claimOptions({ now: 10_200 }));
        const own = claimed.filter((d) => d.webhookId === repoHook.id).map((d) => d.event);
        assert.deepEqual(own, ['repo.deleted'], 'the own webhook gets only repo.deleted');
        assert.deepEqual(claimed.filter((d) => d.webhookId === ownerHook.id).map((d) => d.event).sort(), ['push', 'repo.deleted'], 'the owner webhook gets both');
        assert.equal(await store.cancelAbandonedDeliveries(10_300), 1);
        const ownDeliveries = await store.listDeliveries({ webhookId: repoHook.id, limit: 10 });
        assert.deepEqual(Object.fromEntries(ownDeliveries.items.map((d) => [d.event, d.status])), { push: 'cancelled', 'repo.deleted': 'pending' });
      }));

    test('redelivery queues a manual attempt', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id)]);
        const [claimed] = await store.claimDue(claimOptions());
        assert.equal(await store.requestRedelivery(hook.id, claimed.id, 10_050), 'in_progress', 'refused while leased');
        await store.completeAttempts([attemptResult(claimed, 'retrying', { nextAttemptAt: 80_000 })], 10_100);
        assert.equal(await store.requestRedelivery(hook.id + 1, claimed.id, 10_200), null);
        assert.equal(await store.requestRedelivery(hook.id, 'missing', 10_200), null);
        const summary = await store.requestRedelivery(hook.id, claimed.id, 10_200);
        assert.ok(summary);
        assert.notEqual(summary, 'in_progress');
        assert.equal(summary.status, 'retrying');
        assert.equal(summary.nextAttemptAt, 10_200);
        assert.equal(summary.updatedAt, 10_200);
        assert.equal(await store.requestRedelivery(hook.id, claimed.id, 10_300), 'in_progress', 'one manual attempt at a time');
        const [manual] = await store.claimDue(claimOptions({ now: 10_300 }));
        assert.equal(manual.manual, true);
        assert.equal(manual.resumeAt, 80_000, 'the scheduled retry is kept for a failed manual attempt');
        assert.ok(manual.body.equals(claimed.body));
        const result = attemptResult(manual, 'delivered', { startedAt: 10_400 });
        await store.completeAttempts([result], 10_500);
        const detail = await store.getDelivery(hook.id, claimed.id);
        assert.equal(detail?.status, 'delivered');
        assert.deepEqual(detail?.attemptsLog.map((a) => a.trigger), ['scheduled', 'manual']);
        assert.equal(detail?.attempts, 2);
      }));

    test('newest event sequence number', () =>
      withStore(async (store) => {
        assert.equal(await store.newestEventSeq(), 0);
        const repo = await makeRepo(store);
        await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id), ingestItem(repo.id)]);
        const page = await store.listEvents({ repoId: repo.id, limit: 10 });
        assert.equal(await store.newestEventSeq(), Math.max(...page.items.map((e) => e.seq)));
      }));

    test('redelivering pending keeps its attempt', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id)]);
        const [waiting] = (await store.listDeliveries({ webhookId: hook.id, limit: 10 })).items;
        assert.equal(waiting.status, 'pending');
        assert.notEqual(waiting.nextAttemptAt, null);
        assert.ok(await store.requestRedelivery(hook.id, waiting.id, 10_200));
        const [manual] = await store.claimDue(claimOptions({ now: 10_300 }));
        assert.equal(manual.manual, true);
        assert.equal(manual.resumeAt, waiting.nextAttemptAt, 'the automatic first attempt is kept for after the manual one');
      }));

    test('manual attempts skip schedule count', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id)]);
        const [first] = await store.claimDue(claimOptions());
        assert.equal(first.scheduledAttempts, 0);
        await store.completeAttempts([attemptResult(first, 'retrying', { nextAttemptAt: 80_000 })], 10_100);
        assert.ok(await store.requestRedelivery(hook.id, first.id, 10_200));
        const [manual] = await store.claimDue(claimOptions({ now: 10_300 }));
        assert.equal(manual.manual, true);
        assert.equal(manual.attempts, 1);
        assert.equal(manual.scheduledAttempts, 1);
        await store.completeAttempts([attemptResult(manual, 'retrying', { nextAttemptAt: 80_000 })], 10_400);
        const [second] = await store.claimDue(claimOptions({ now: 80_000 }));
        assert.equal(second.id, first.id);
        assert.equal(second.manual, false);
        assert.equal(second.attempts, 2, 'the manual attempt is in the attempt count');
        assert.equal(second.scheduledAttempts, 1, 'but not in the count the retry schedule uses');
      }));

    test('release gives leases back', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id), ingestItem(repo.id)]);
        const [a, b] = await store.claimDue(claimOptions());
        await store.releaseLeases([
          { deliveryId: a.id, leaseToken: a.leaseToken },
          { deliveryId: b.id, leaseToken: 'someone-else:token' },
        ]);
        await store.releaseLeases([]);
        const again = await store.claimDue(claimOptions({ workerId: 'worker-b' }));
        assert.deepEqual(again.map((d) => d.id), [a.id], 'only the lease whose token matched was released');
        assert.equal(again[0].attempts, 0);
      }));

    test('postpone moves the next attempt', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id), ingestItem(repo.id)]);
        const [a, b] = await store.claimDue(claimOptions());
        await store.postponeDeliveries(
          [
            { deliveryId: a.id, leaseToken: a.leaseToken },
            { deliveryId: b.id, leaseToken: 'someone-else:token' },
          ],
          40_000,
          'not sent: no key',
          10_100,
        );
        await store.postponeDeliveries([], 40_000, 'nothing', 10_100);
        const postponed = (await store.listDeliveries({ webhookId: hook.id, limit: 10 })).items.find((d) => d.id === a.id)!;
        assert.equal(postponed.status, 'pending');
        assert.equal(postponed.attempts, 0);
        assert.equal(postponed.nextAttemptAt, 40_000);
        assert.equal(postponed.lastError, 'not sent: no key');
        assert.equal(postponed.updatedAt, 10_100);
        assert.deepEqual((await store.getDelivery(hook.id, a.id))!.attemptsLog, []);
        const untouched = (await store.listDeliveries({ webhookId: hook.id, limit: 10 })).items.find((d) => d.id === b.id)!;
        assert.equal(untouched.lastError, null, 'a lease whose token does not match is left alone');
        assert.deepEqual(await store.claimDue(claimOptions({ now: 39_999, workerId: 'worker-b' })), [], 'not due before the new time, and b is still leased');
        const due = await store.claimDue(claimOptions({ now: 40_000, workerId: 'worker-b' }));
        assert.deepEqual(due.map((d) => d.id), [a.id]);
        assert.equal(due[0].attempts, 0);
      }));

    test('abandoned deliveries get cancelled', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const deleted = await makeHook(store, scope);
        const paused = await makeHook(store, scope);
        const untouched = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id)]);
        const claimed = await store.claimDue(claimOptions({ leaseMs: 1_000 }));
        assert.equal(claimed.length, 3);
        assert.equal(await store.deleteWebhook(scope, deleted.id, 10_100), true);
        assert.notEqual(await store.updateWebhook(scope, paused.id, { active: false }, 10_100), null);
        const leaseOf = (hookId: number) => claimed.find((d) => d.webhookId === hookId)!;
        // The deleted webhook's lease comes back at shutdown; the deactivated one's lease runs out.
        await store.releaseLeases([{ deliveryId: leaseOf(deleted.id).id, leaseToken: leaseOf(deleted.id).leaseToken }]);
        await store.releaseLeases([{ deliveryId: leaseOf(untouched.id).id, leaseToken: leaseOf(untouched.id).leaseToken }]);
        assert.equal(await store.cancelAbandonedDeliveries(10_200), 1, 'the lease of the deactivated webhook still runs');
        assert.equal(await store.cancelAbandonedDeliveries(11_001), 1);
        assert.equal(await store.cancelAbandonedDeliveries(11_002), 0);

        const statusOf = async (hookId: number) => (await store.listDeliveries({ webhookId: hookId, limit: 10 })).items[0].status;
        assert.equal(await statusOf(deleted.id), 'cancelled');
        assert.equal(await statusOf(paused.id), 'cancelled');
        assert.equal(await statusOf(untouched.id), 'pending');
        assert.equal(await store.queueSize(), 1);
      }));

    test('replays queue manual attempts', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id, { createdAt: 1_000 }), ingestItem(repo.id, { createdAt: 2_000 }), ingestItem(repo.id, { createdAt: 3_000 })]);
        const claimed = await store.claimDue(claimOptions());
        await store.completeAttempts(
          [attemptResult(claimed[0], 'failed', { statusCode: 400 }), attemptResult(claimed[1], 'delivered'), attemptResult(claimed[2], 'failed', { statusCode: 400 })],
          10_100,
        );
        const replay = await store.createReplay({ webhookId: hook.id, since: 1_000, until: 3_000, onlyFailed: true }, 10_200);
        assert.equal(replay.total, 1);
        assert.equal(replay.completed, 0);
        assert.equal(replay.onlyFailed, true);
        assert.equal(replay.until, 3_000);
        const all = await store.createReplay({ webhookId: hook.id, since: 0, until: null, onlyFailed: false }, 10_300);
        assert.equal(all.total, 2, 'the delivery already queued by the first replay is left alone');
        const queued = await store.claimDue(claimOptions({ now: 10_400 }));
        assert.equal(queued.length, 3);
        await store.completeAttempts(queued.map((d) => attemptResult(d, 'delivered')), 10_500);
        const done = await store.getReplay(hook.id, replay.id);
        assert.equal(done?.completed, 1);
        const listed = await store.listReplays(hook.id, { limit: 30 });
        assert.deepEqual(listed.items.map((r) => [r.id, r.total, r.completed]), [
          [all.id, 2, 2],
          [replay.id, 1, 1],
        ]);
        assert.equal(listed.nextCursor, null);
        const first = await store.listReplays(hook.id, { limit: 1 });
        assert.deepEqual(first.items.map((r) => r.id), [all.id]);
        assert.ok(first.nextCursor, 'a full page gives a cursor');
        const second = await store.listReplays(hook.id, { limit: 1, cursor: first.nextCursor });
        assert.deepEqual(second.items.map((r) => r.id), [replay.id]);
        assert.equal(second.nextCursor, null);
        assert.equal(await store.getReplay(hook.id + 1, replay.id), null);
      }));

    test('redelivery leaves finished replays alone', () =>
      withStore(async (store) => {
        const { repo, hook, replay } = await replayOfTwoFailures(store);
        const replayed = await store.claimDue(claimOptions({ now: 10_300 }));
        await store.completeAttempts(replayed.map((d) => attemptResult(d, 'delivered')), 10_400);
        assert.equal((await store.getReplay(hook.id, replay.id))?.completed, 2);

        // A later redelivery of one of its deliveries is not part of the replay.
        assert.ok(await store.requestRedelivery(hook.id, replayed[0].id, 10_500));
        const after = await store.getReplay(hook.id, replay.id);
        assert.deepEqual([after?.total, after?.completed], [2, 2]);
        assert.equal(await store.queueSize(), 1, 'a delivered delivery queued for a redelivery counts as waiting');
        const waiting = (await store.listDeliveries({ webhookId: hook.id, limit: 10 })).items.find((d) => d.id === replayed[0].id)!;
        assert.deepEqual([waiting.status, waiting.nextAttemptAt], ['delivered', 10_500]);
        await store.updateWebhook({ kind: 'repo', repoId: repo.id }, hook.id, { active: false }, 10_600);
        const cancelled = await store.getReplay(hook.id, replay.id);
        assert.deepEqual([cancelled?.completed, cancelled?.cancelled], [2, 0], 'cancelling the redelivery does not count against the replay');
      }));

    test('replay counts skipped deliveries', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
        await store.ingest([ingestItem(repo.id), ingestItem(repo.id), ingestItem(repo.id)]);
        const [inFlight] = await store.claimDue(claimOptions({ limit: 1 }));
        const replay = await store.createReplay({ webhookId: hook.id, since: 0, until: null, onlyFailed: false }, 10_200);
        assert.ok(replay !== 'inactive');
        assert.equal(replay.total, 2);
        assert.equal(replay.skipped, 1, 'the delivery in flight');
        const again = await store.createReplay({ webhookId: hook.id, since: 0, until: null, onlyFailed: false }, 10_300);
        assert.ok(again !== 'inactive');
        assert.equal(again.total, 0);
        assert.equal(again.skipped, 3, 'one in flight and two queued by the first replay');
        assert.equal((await store.getReplay(hook.id, again.id))?.skipped, 3);
        await store.completeAttempts([attemptResult(inFlight, 'delivered')], 10_400);
        const onlyFailed = await store.createReplay({ webhookId: hook.id, since: 0, until: null, onlyFailed: true }, 10_500);
        assert.ok(onlyFailed !== 'inactive');
        assert.equal(onlyFailed.skipped, 0, 'queued deliveries that did not fail are outside a failed-only replay');
      }));

    test('replay progress counts cancelled attempts', () =>
      withStore(async (store) => {
        const repo = await makeRepo(store);
        const scope = { kind: 'repo' as const, repoId: repo.id };
        const hook = await makeHook(store, scope);
        await store.ingest([ingestItem(repo.id), ingestItem(repo.id), ingestItem(repo.id)]);
        await store.completeAttempts((await store.claimDue(claimOptions())).map((d) => attemptResult(d, 'delivered')), 10_100);
        const replay = await store.createReplay({ webhookId: hook.id, since: 0, until: null, onlyFailed: false }, 10_200);
        assert.ok(replay !== 'inactive');
        assert.equal(replay.total, 3);
        const [first] = await store.claimDue(claimOptions({ now: 10_300, limit: 1 }));
        await store.completeAttempts([attemptResult(first, 'delivered')], 10_400);
        await store.updateWebhook(scope, hook.id, { active: false }, 10_500);
        const progress = await store.getReplay(hook.id, replay.id);
        assert.deepEqual([progress?.completed, progress?.cancelled], [1, 2]);
        assert.equal(await store.queueSize(), 0);
      }));

    test('repository deletion cancels queued replays', () =>
      withStore(async (store) => {
        const { repo, hook, replay } = await replayOfTwoFailures(store);
        assert.equal(replay.total, 2);
        assert.equal(await store.deleteRepository(repo.id, 10_300), true);
        assert.deepEqual(await store.claimDue(claimOptions({ now: 10_400 })), []);
        const statuses = (await store.listDeliveries({ webhookId: hook.id, limit: 10 })).items.map((d) => d.status);
        assert.deepEqual(statuses, ['failed', 'failed'], 'the replayed deliveries keep their last result');
        assert.equal((await store.getReplay(hook.id, replay.id))?.cancelled, 2);
      }));

    test('concurrent claimers keep the limit', () =>
      withStore(async (store) => {
        const sibling = await backend.openSibling();
        try {
          const limit = 3;
          const hooks = [];
          for (let i = 0; i < 3; i++) {
            const repo = await makeRepo(store);
            hooks.push(await makeHook(store, { kind: 'repo', repoId: repo.id }));
            await store.ingest(Array.from({ length: 40 }, () => ingestItem(repo.id, { createdAt: 1_000 })));
          }
          const live = new Map<number, number>();
          let worst = 0;
          let delivered = 0;
          const claimer = async (handle: Store, workerId: string) => {
            for (let round = 0; round < 200 && delivered < 120; round++) {
              const claimed = await handle.claimDue(claimOptions({ workerId, limit: 4, maxInFlightPerWebhook: limit }));
              for (const d of claimed) live.set(d.webhookId, (live.get(d.webhookId) ?? 0) + 1);
              worst = Math.max(worst, ...live.values());
              await new Promise((resolve) => setImmediate(resolve));
              for (const d of claimed) live.set(d.webhookId, (live.get(d.webhookId) ?? 0) - 1);
              await handle.completeAttempts(claimed.map((d) => attemptResult(d, 'delivered')), 11_000);
              delivered += claimed.length;
            }
          };
          await Promise.all([claimer(store, 'w1'), claimer(sibling, 'w2'), claimer(store, 'w3'), claimer(sibling, 'w4')]);
          assert.equal(delivered, 120);
          assert.ok(worst <= limit, `at most ${limit} leased per webhook at once, saw ${worst}`);
          assert.equal(await store.queueSize(), 0);
          for (const hook of hooks) {
            const page = await store.listDeliveries({ webhookId: hook.id, limit: 100, status: 'delivered' });
            assert.equal(page.items.length, 40);
            assert.ok(page.items.every((d) => d.attempts === 1), 'no delivery was attempted twice');
          }
        } finally {
          await sibling.close();
        }
      }));
  });
}

async function makeHookOrLimit(store: Store, scope: { kind: 'repo'; repoId: number }): Promise<unknown> {
  return store.createWebhook(
    { scope, url: 'http://127.0.0.1:9/hook', events: ['*'], filters: null, active: true, secret: 'a-secret-of-enough-length', insecureSsl: false },
    1_000,
    3,
  );
}

conformance(sqliteBackend());
conformance(postgresBackend());

describe('postgres work notifications', () => {
  const backend = postgresBackend();
  after(() => backend.dispose());

  test('listener hears ingest, ping, redelivery, release', async () => {
    const store = await backend.open();
    const listener = await backend.openSibling();
    let heard = 0;
    const waitForMore = async (before: number, what: string) => {
      const deadline = Date.now() + 5_000;
      while (heard <= before) {
        if (Date.now() > deadline) throw new Error(`no work announcement after ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const stop = await listener.listenForWork!(() => heard++);
    try {
      const repo = await makeRepo(store);
      const hook = await makeHook(store, { kind: 'repo', repoId: repo.id });
      let before = heard;
      await store.ingest([ingestItem(repo.id)]);
      await waitForMore(before, 'ingest');
      before = heard;
      await store.createDirectDelivery({ webhookId: hook.id, event: 'ping', planned: { id: randomUUID(), webhookId: hook.id, body: Buffer.from('{}') } }, 1_000);
      await waitForMore(before, 'a ping');
      const claimed = await store.claimDue(claimOptions());
      before = heard;
      await store.releaseLeases(claimed.map((d) => ({ deliveryId: d.id, leaseToken: d.leaseToken })));
      await waitForMore(before, 'a release');
      const again = await store.claimDue(claimOptions());
      await store.completeAttempts(again.map((d) => attemptResult(d, 'delivered')), 11_000);
      before = heard;
      await store.requestRedelivery(hook.id, again[0].id, 12_000);
      await waitForMore(before, 'a redelivery');
    } finally {
      await stop();
      await listener.close();
      await store.close();
    }
  });

  test('listener reconnects after the server drops it', async () => {
    const store = await backend.open();
    const listener = await backend.openSibling();
    let heard = 0;
    const stop = await listener.listenForWork!(() => heard++);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      const schema = (store as unknown as { schema: string }).schema;
      const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`dits_webhooks_listener:${schema}`]);
      assert.equal(killed.rowCount, 1);
      const repo = await makeRepo(store);
      await makeHook(store, { kind: 'repo', repoId: repo.id });
      // Keep creating work until the new connection hears it; each round is one more chance after the reconnect.
      const deadline = Date.now() + 10_000;
      const start = heard;
      while (heard === start && Date.now() < deadline) {
        await store.ingest([ingestItem(repo.id)]);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(heard > start, 'the listener reconnected and heard new work');
      const reconnected = await admin.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [`dits_webhooks_listener:${schema}`]);
      assert.equal(Number(reconnected.rows[0].n), 1);
    } finally {
      await admin.end();
      await stop();
      await listener.close();
      await store.close();
    }
  });

  test('listener ignores other schemas', async () => {
    const store = await backend.open();
    const listener = await backend.openSibling();
    let heard = 0;
    const stop = await listener.listenForWork!(() => heard++);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query("SELECT pg_notify('dits_webhooks_work', 'some_other_schema')");
      const schema = (store as unknown as { schema: string }).schema;
      await admin.query('SELECT pg_notify($1, $2)', ['dits_webhooks_work', schema]);
      const deadline = Date.now() + 5_000;
      while (heard === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      // Notifications from one session arrive in order, so the own-schema one coming through means the other was seen first.
      assert.equal(heard, 1);
    } finally {
      await admin.end();
      await stop();
      await listener.close();
      await store.close();
    }
  });
});

describe('postgres migrations', () => {
  const schema = uniqueSchema('migrate');
  after(() => dropSchema(schema));

  test('concurrent starts migrate once', async () => {
    const stores = Array.from({ length: 4 }, () => new PostgresStore(TEST_DATABASE_URL, { schema, poolSize: 2 }));
    try {
      await Promise.all(stores.map((store) => store.migrate()));
      const { rows } = await stores[0].pool.query('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows.map((r: { version: number }) => r.version), POSTGRES_MIGRATIONS.map((m) => m.version));
      await stores[1].migrate();
      const repo = await makeRepo(stores[2]);
      assert.equal((await stores[3].getRepository(repo.id))?.id, repo.id);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  test('newer schema version is rejected', async () => {
    const store = new PostgresStore(TEST_DATABASE_URL, { schema, poolSize: 1 });
    const latest = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version;
    try {
      await store.migrate();
      await store.pool.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [latest + 1]);
      await assert.rejects(store.migrate(), new RegExp(`has schema version ${latest + 1}, newer than the ${latest} this release knows`));
    } finally {
      await store.pool.query('DELETE FROM schema_migrations WHERE version = $1', [latest + 1]);
      await store.close();
    }
  });

  test('invalid schema name rejected', () => {
    assert.throws(() => new PostgresStore(TEST_DATABASE_URL, { schema: 'Bad-Name; DROP' }), /schema name must be 1 to 63 lower-case letters/);
  });
});

describe('postgres event order', () => {
  const schema = uniqueSchema('order');
  after(() => dropSchema(schema));

  test('one repository ingests one transaction at a time', async () => {
    const store = new PostgresStore(TEST_DATABASE_URL, { schema, poolSize: 3 });
    const holder = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await holder.connect();
    try {
      await store.migrate();
      const busy = await makeRepo(store);
      const other = await makeRepo(store);
      // Stands in for another process's ingestion of `busy` that has not committed yet.
      await holder.query('BEGIN');
      await holder.query(`SET LOCAL search_path TO ${schema}`);
      await holder.query(`SELECT pg_advisory_xact_lock(hashtextextended('dits_webhooks.events:' || current_schema() || ':' || $1, 0))`, [busy.id]);
      let stored = false;
      const waiting = store.ingest([ingestItem(busy.id)]).then((results) => {
        stored = true;
        return results;
      });
      const [unrelated] = await store.ingest([ingestItem(other.id)]);
      assert.equal(unrelated.ok, true, 'another repository is not held up');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(stored, false, 'the second transaction of the repository waited');
      await holder.query('COMMIT');
      const [result] = await waiting;
      assert.equal(result.ok, true);
      const events = await store.listEvents({ repoId: busy.id, afterSeq: 0, limit: 10 });
      assert.equal(events.items.length, 1);
    } finally {
      await holder.end();
      await store.close();
    }
  });
});
