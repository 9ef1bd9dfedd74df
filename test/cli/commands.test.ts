/**
 * End-to-end tests of the `dits-webhook` management commands, `emit`,
 * `verify` and `listen`: the built binary against a running service on
 * SQLite, with real loopback receivers.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import pg from 'pg';
import { request } from 'undici';
import { verifyHubSignature, verifyStandardWebhook } from '../../src/signing/verify.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { TEST_DATABASE_URL } from '../store/backends.js';
import { cliEnv, makeHome, prepareCli, RunningCli, runCli, type CliResult } from './cli-harness.js';

const ZERO_SHA = '0'.repeat(40);
const HEAD_SHA = 'a'.repeat(40);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

let service: TestService;
let command: string[];
let home: string;
let env: NodeJS.ProcessEnv;
const receivers: Receiver[] = [];

function cli(args: string[], childEnv: NodeJS.ProcessEnv = env, input?: string): Promise<CliResult> {
  return runCli(command, args, childEnv, input);
}

function parseJson(result: CliResult): any {
  assert.equal(result.code, 0, `exit status 0 expected; stderr: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function startReceiver(): Promise<Receiver> {
  const receiver = await Receiver.start();
  receivers.push(receiver);
  return receiver;
}

let repoCounter = 0;

/** Creates a repository through the API, so that tests of other commands need no CLI run for set-up. */
async function createRepo(owner = 'studio'): Promise<{ id: number; fullName: string }> {
  const name = `project-${++repoCounter}`;
  const response = await service.api('POST', '/v1/repos', { owner, name });
  assert.equal(response.status, 201, response.text);
  return { id: response.json.id, fullName: `${owner}/${name}` };
}

async function createHook(repoId: number, body: Record<string, unknown>): Promise<any> {
  const response = await service.api('POST', `/v1/repos/${repoId}/webhooks`, body);
  assert.equal(response.status, 201, response.text);
  return response.json;
}

function pushFields(): string[] {
  const commit = { id: HEAD_SHA, message: 'Add footage', author: { name: 'Alice', email: 'alice@example.com' }, added: ['shots/a.mov'] };
  return ['--field', 'ref=refs/heads/main', '--field', `before=${ZERO_SHA}`, '--field', `after=${HEAD_SHA}`, '--field', `commits=${JSON.stringify([commit])}`];
}

async function ingestPush(repoId: number): Promise<void> {
  const commit = { id: HEAD_SHA, message: 'Add footage', author: { name: 'Alice', email: 'alice@example.com' } };
  const response = await service.api('POST', `/v1/repos/${repoId}/events`, { event: 'push', sender: { login: 'alice' }, ref: 'refs/heads/main', before: ZERO_SHA, after: HEAD_SHA, commits: [commit] });
  assert.equal(response.status, 202, response.text);
}

async function deliveriesOf(repoId: number, hookId: number): Promise<any[]> {
  return (await service.api('GET', `/v1/repos/${repoId}/webhooks/${hookId}/deliveries?limit=100`)).json.data;
}

/** Sends raw request bytes to a loopback URL and returns the first line of the response. */
function statusLineOf(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw));
    let received = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error('no response within 5 s')));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\r\n')) {
        resolve(received.slice(0, received.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

/** Returns a loopback port that was free a moment ago and has no listener now. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

before(async () => {
  // prepareCli builds with tsc and uses dist/cli/main.js; it falls back to tsx only when the built binary does not run.
  [command, service] = await Promise.all([prepareCli(), startTestService()]);
  home = makeHome();
  env = cliEnv(home, { DITS_WEBHOOKS_URL: service.url, DITS_WEBHOOKS_TOKEN: service.adminToken });
});

after(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await service.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('repo commands', () => {
  test('repo create, list, show and delete', async () => {
    const created = await cli(['repo', 'create', 'alice/film', '--description', 'Feature film']);
    assert.equal(created.code, 0, created.stderr);
    const match = /Created repository alice\/film \(id (\d+), public\)/.exec(created.stdout);
    assert.ok(match, created.stdout);
    const id = match[1];

    const [duplicate, privateRepo] = await Promise.all([cli(['repo', 'create', 'alice/film']), cli(['repo', 'create', 'bob/secret', '--private', '--json'])]);
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /already exists, and names compare without regard to case.*\(repo_exists, HTTP 409\)/);
    assert.match(duplicate.stderr, /^ {2}- name: alice\/film is taken by alice\/film \(id \d+\)$/m);
    assert.equal(parseJson(privateRepo).private, true);

    const [table, bobOnly, shown] = await Promise.all([cli(['repo', 'list']), cli(['repo', 'list', '--owner', 'bob', '--json']), cli(['repo', 'show', 'alice/film'])]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID +FULL NAME +VISIBILITY +DEFAULT BRANCH +CREATED$/m);
    assert.match(table.stdout, new RegExp(`^${id} +alice/film +public +main `, 'm'));
    assert.match(table.stdout, / bob\/secret +private /);
    assert.deepEqual(parseJson(bobOnly).data.map((repo: { full_name: string }) => repo.full_name), ['bob/secret']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^Description: +Feature film$/m);
    assert.match(shown.stdout, new RegExp(`^ID: +${id}$`, 'm'));

    const deleted = await cli(['repo', 'delete', id]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`Deleted repository alice/film \\(id ${id}\\)`));
    const afterDelete = await cli(['repo', 'show', id]);
    assert.equal(afterDelete.code, 1);
    assert.match(afterDelete.stderr, /\(repo_not_found, HTTP 404\)/);
    assert.match(afterDelete.stderr, /dits-webhook repo list/);
    assert.equal(afterDelete.stdout, '');
  });

  test('repo create asks for owner/name only', async () => {
    const [noSlash, id] = await Promise.all([cli(['repo', 'create', 'noslash']), cli(['repo', 'create', '12'])]);
    for (const [value, result] of [['noslash', noSlash], ['12', id]] as const) {
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`repository "${value}" is not owner/name; pass the owner login and repository name, such as alice/film `));
      assert.doesNotMatch(result.stderr, /\bid\b/, 'no id is suggested for create');
    }
  });
});

describe('webhook commands', () => {
  test('create prints a generated secret once', async () => {
    const receiver = await startReceiver();
    const repo = await createRepo();
    const created = await cli(['create', '--repo', repo.fullName, '--url', receiver.url, '--events', 'push,lock.*']);
    assert.equal(created.code, 0, created.stderr);
    const secret = /^Secret: (whsec_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(secret, created.stdout);
    assert.equal(created.stdout.split(secret).length, 2, 'the secret appears exactly once');
    const hookId = /Created webhook (\d+)/.exec(created.stdout)?.[1];
    assert.ok(hookId);

    // The ping sent at creation is signed with the printed secret, so it is the webhook's real secret.
    await receiver.waitFor(1);
    const ping = receiver.requests[0];
    assert.equal(ping.headers['x-dits-event'], 'ping');
    assert.ok(verifyHubSignature(secret, ping.body, header(ping.headers['x-hub-signature-256'])));

    const [shown, listed] = await Promise.all([cli(['show', hookId, '--repo', String(repo.id)]), cli(['list', '--repo', repo.fullName])]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^Events: +push, lock\.\*$/m);
    assert.ok(!shown.stdout.includes(secret));
    assert.match(listed.stdout, new RegExp(`^${hookId} +${receiver.url.replace(/[.]/g, '\\.')} +push,lock\\.\\* +active `, 'm'));
  });

  test('create with a given secret, filters and --inactive', async () => {
    const receiver = await startReceiver();
    const repo = await createRepo();
    const args = ['create', '--repo', String(repo.id), '--url', receiver.url, '--secret', 'a-secret-of-enough-length', '--inactive'];
    args.push('--branches', 'main,release/*', '--paths-include', '*.{mov,mp4}', '--paths-exclude', 'tmp/**', '--json');
    const [repoResult, ownerResult] = await Promise.all([cli(args), cli(['create', '--owner', 'studio', '--url', receiver.url, '--events', 'repo.created', '--inactive', '--json'])]);
    const hook = parseJson(repoResult);
    assert.equal(hook.active, false);
    assert.equal(hook.secret, undefined);
    assert.deepEqual(hook.filters, { branches: ['main', 'release/*'], paths: { include: ['*.{mov,mp4}'], exclude: ['tmp/**'] } });
    assert.deepEqual(await deliveriesOf(repo.id, hook.id), [], 'an inactive webhook gets no ping');

    const ownerHook = parseJson(ownerResult);
    assert.deepEqual([ownerHook.type, ownerHook.owner, ownerHook.events], ['owner', 'studio', ['repo.created']]);
    const ownerList = parseJson(await cli(['list', '--owner', 'studio', '--json']));
    assert.ok(ownerList.data.some((listed: { id: number }) => listed.id === ownerHook.id));
  });

  test('empty list hint keeps the scope', async () => {
    const [ownerList, repoList] = await Promise.all([cli(['list', '--owner', 'no-hooks-owner']), cli(['list', '--repo', String((await createRepo()).id)])]);
    assert.equal(ownerList.code, 0, ownerList.stderr);
    assert.match(ownerList.stdout, /No webhooks\. Add one with: dits-webhook create --owner no-hooks-owner --url/);
    assert.match(repoList.stdout, /No webhooks\. Add one with: dits-webhook create --repo \d+ --url/);
  });

  test('create rejects empty filter flags', async () => {
    const receiver = await startReceiver();
    const repo = await createRepo();
    const base = ['create', '--repo', String(repo.id), '--url', receiver.url, '--secret', 'a-secret-of-enough-length'];
    const flags = ['--branches', '--tags', '--paths-include', '--paths-exclude'];
    const results = await Promise.all(flags.map((flag) => cli([...base, flag, ''])));
    for (const [index, flag] of flags.entries()) {
      assert.equal(results[index].code, 2, `${flag}: ${results[index].stderr}`);
      assert.match(results[index].stderr, new RegExp(`${flag} is empty; pass at least one glob, such as .*, or leave ${flag} out`));
    }
    const listed = parseJson(await cli(['list', '--repo', String(repo.id), '--json']));
    assert.deepEqual(listed.data, [], 'no webhook was created');
  });

  test('update rotates the secret, toggles active and merges filters', async () => {
    const receiver = await startReceiver();
    const repo = await createRepo();
    const oldSecret = 'old-secret-0123456789';
    const newSecret = 'new-secret-0123456789';
    const hook = await createHook(repo.id, { url: receiver.url, events: ['push'], secret: oldSecret, active: false, filters: { paths: { include: ['assets/**'] } } });
    const scope = ['--repo', repo.fullName];

    const rotated = await cli(['update', String(hook.id), ...scope, '--secret', newSecret, '--active', '--branches', 'main']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const stored = (await service.api('GET', `/v1/repos/${repo.id}/webhooks/${hook.id}`)).json;
    assert.ok(stored.previous_secret_expires_at);
    assert.ok(rotated.stdout.includes(`The old secret keeps signing until ${stored.previous_secret_expires_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`), rotated.stdout);
    assert.ok(!rotated.stdout.includes(newSecret), 'a given secret is not echoed');
    assert.ok(!rotated.stdout.includes('stopped signing now'), 'the first rotation ends no secret');
    assert.deepEqual(stored.filters, { branches: ['main'], paths: { include: ['assets/**'] } });
    assert.equal(stored.active, true);

    const pinged = await cli(['ping', String(hook.id), ...scope]);
    assert.equal(pinged.code, 0, pinged.stderr);
    const deliveryId = new RegExp(`Ping sent to webhook ${hook.id}: delivery (${UUID.source})`).exec(pinged.stdout)?.[1];
    assert.ok(deliveryId, pinged.stdout);
    await waitUntil(() => receiver.requests.find((r) => r.headers['x-dits-delivery'] === deliveryId), 10_000, 'the ping');
    const ping = receiver.requests.find((r) => r.headers['x-dits-delivery'] === deliveryId)!;
    assert.ok(verifyHubSignature(newSecret, ping.body, header(ping.headers['x-hub-signature-256'])), 'X-Hub-Signature-256 uses the new secret');
    verifyStandardWebhook(oldSecret, ping.body, ping.headers);
    verifyStandardWebhook(newSecret, ping.body, ping.headers);

    // A second rotation within the overlap keeps only the secret it replaces, and the output names the one that stopped.
    const again = await cli(['update', String(hook.id), ...scope, '--secret', 'third-secret-0123456789']);
    assert.equal(again.code, 0, again.stderr);
    const olderUntil = stored.previous_secret_expires_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    assert.ok(again.stdout.includes(`The secret before the old one, which was to sign until ${olderUntil}, stopped signing now`), again.stdout);
    // The current secret sent again, as desired-state tools do, rotates nothing and ends nothing.
    const same = await cli(['update', String(hook.id), ...scope, '--secret', 'third-secret-0123456789']);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /The secret is unchanged: the one sent is the current secret\./);
    assert.doesNotMatch(same.stdout, /stopped signing now|uses the new secret/);

    assert.equal((await cli(['update', String(hook.id), ...scope, '--inactive'])).code, 0);
    const inactivePing = await cli(['ping', String(hook.id), ...scope]);
    assert.equal(inactivePing.code, 1);
    assert.match(inactivePing.stderr, /\(webhook_inactive, HTTP 422\)/);
    assert.match(inactivePing.stderr, /dits-webhook update <hook> --active/);

    const deleted = await cli(['delete', String(hook.id), ...scope]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const missing = await cli(['show', String(hook.id), ...scope]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /webhook_not_found/);
  });

  test('update --secret without a value generates and prints one', async () => {
    const receiver = await startReceiver();
    const repo = await createRepo();
    const hook = await createHook(repo.id, { url: receiver.url, events: ['push'], secret: 'first-secret-0123456789', active: false });
    const rotated = await cli(['update', String(hook.id), '--repo', String(repo.id), '--secret', '--active']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const secret = /^New secret: (whsec_\S+)$/m.exec(rotated.stdout)?.[1];
    assert.ok(secret, rotated.stdout);
    const pinged = await cli(['ping', String(hook.id), '--repo', String(repo.id)]);
    assert.equal(pinged.code, 0, pinged.stderr);
    await receiver.waitFor(1);
    assert.ok(verifyHubSignature(secret, receiver.requests[0].body, header(receiver.requests[0].headers['x-hub-signature-256'])));
  });
});

describe('delivery commands', () => {
  test('delivery show marks an incomplete body', async () => {
    const receiver = await startReceiver();
    // The receiver promises 100 bytes, sends 5 and closes: far below the size limit, the body is still incomplete.
    receiver.respondWith((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('short');
      setTimeout(() => res.destroy(), 50);
    });
    const repo = await createRepo();
    const hook = await createHook(repo.id, { url: receiver.url, events: ['push'], secret: 'incomplete-secret-0123' });
    await ingestPush(repo.id);
    const delivery = await waitUntil(async () => (await deliveriesOf(repo.id, hook.id)).find((d) => d.event === 'push' && d.status !== 'pending'), 10_000, 'the push attempt');
    const shown = await cli(['delivery', 'show', String(hook.id), delivery.id, '--repo', String(repo.id)]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^ {2}Response body \(incomplete: cut at the size limit, or the receiver stopped sending\):\n {4}short$/m);
  });

  test('deliveries lists and filters, delivery show and redeliver', async () => {
    const receiver = await startReceiver();
    receiver.respondStatus(200, { 'content-type': 'text/plain' }, 'thanks from receiver');
    const repo = await createRepo();
    const hook = await createHook(repo.id, { url: receiver.url, events: ['push'], secret: 'delivery-secret-0123' });
    await ingestPush(repo.id);
    await ingestPush(repo.id);
    await waitUntil(async () => (await deliveriesOf(repo.id, hook.id)).filter((d) => d.status === 'delivered').length === 3, 10_000, 'three delivered deliveries');
    const scope = ['--repo', String(repo.id)];
    const hookId = String(hook.id);

    const [table, pushes, failed, firstPage, everything, badStatus] = await Promise.all([
      cli(['deliveries', hookId, ...scope]),
      cli(['deliveries', hookId, ...scope, '--event', 'push', '--json']),
      cli(['deliveries', hookId, ...scope, '--status', 'failed']),
      cli(['deliveries', hookId, ...scope, '--limit', '1']),
      cli(['deliveries', hookId, ...scope, '--limit', '1', '--all', '--json']),
      cli(['deliveries', hookId, ...scope, '--status', 'bogus']),
    ]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID +EVENT +STATUS +ATTEMPTS +CODE +CREATED +NEXT ATTEMPT$/m);
    assert.equal(table.stdout.match(/ delivered +1 +200 /g)?.length, 3);
    const pushList = parseJson(pushes).data;
    assert.equal(pushList.length, 2);
    assert.ok(pushList.every((d: { event: string }) => d.event === 'push'));
    assert.equal(failed.stdout.trim(), 'No deliveries match.');
    assert.equal(firstPage.stdout.match(new RegExp(UUID.source, 'g'))?.length, 1);
    assert.match(firstPage.stdout, /More deliveries: run again with the same --status and --event and with --cursor \S+, or with --all\./);
    const all = parseJson(everything);
    assert.equal(all.data.length, 3);
    assert.equal(all.next_cursor, null);
    assert.equal(badStatus.code, 2);
    assert.match(badStatus.stderr, /--status must be one of pending, delivered/);

    const deliveryId: string = pushList[0].id;
    const shown = await cli(['delivery', 'show', hookId, deliveryId, ...scope]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^ {2}x-dits-delivery: ${deliveryId}$`, 'm'));
    assert.match(shown.stdout, /^ {2}x-hub-signature-256: sha256=[0-9a-f]{64}$/m);
    assert.match(shown.stdout, /^ {4}"ref": "refs\/heads\/main",$/m);
    assert.match(shown.stdout, /^Attempt 1 \(scheduled\) at \S+ \S+: HTTP 200 in \d+ ms, delivered$/m);
    assert.match(shown.stdout, /^ {4}thanks from receiver$/m);
    assert.match(shown.stdout, new RegExp(`^Event: +push \\(event ${UUID.source}\\)$`, 'm'));
    const pingId = (await deliveriesOf(repo.id, hook.id)).find((d) => d.event === 'ping')!.id;
    const ping = await cli(['delivery', 'show', hookId, pingId, ...scope]);
    assert.match(ping.stdout, /^Event: +ping$/m, 'a ping belongs to no stored event');

    const firstSends = receiver.requests.filter((r) => r.headers['x-dits-delivery'] === deliveryId);
    assert.equal(firstSends.length, 1);
    const redelivered = await cli(['redeliver', hookId, deliveryId, '--repo', repo.fullName]);
    assert.equal(redelivered.code, 0, redelivered.stderr);
    assert.match(redelivered.stdout, new RegExp(`Redelivery of ${deliveryId} \\(push\\) queued`));
    await waitUntil(() => receiver.requests.filter((r) => r.headers['x-dits-delivery'] === deliveryId).length === 2, 10_000, 'the redelivery');
    const again = receiver.requests.filter((r) => r.headers['x-dits-delivery'] === deliveryId)[1];
    assert.ok(again.body.equals(firstSends[0].body), 'a redelivery sends identical bytes');
    await waitUntil(async () => (await cli(['delivery', 'show', hookId, deliveryId, ...scope])).stdout.includes('Attempt 2 (manual)'), 10_000, 'attempt 2 in delivery show');
  });
});

describe('emit', () => {
  test('push and lock.acquired reach a receiver', async () => {
    const receiver = await startReceiver();
    const repo = await createRepo();
    const hook = await createHook(repo.id, { url: receiver.url, events: ['push', 'lock.*'], secret: 'emit-secret-0123456789' });
    await receiver.waitFor(1);

    const args = ['emit', 'push', '--repo', repo.fullName, ...pushFields(), '--idempotency-key', 'push-key-1'];
    const first = await cli(args);
    assert.equal(first.code, 0, first.stderr);
    const eventId = new RegExp(`^Event (${UUID.source}) \\(push\\) accepted: 1 delivery\\.$`, 'm').exec(first.stdout)?.[1];
    assert.ok(eventId, first.stdout);
    const replay = await cli(args);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, new RegExp(`Event ${eventId} \\(push\\) was already accepted with this idempotency key; nothing new was created`));

    const payloadFile = join(home, 'lock.json');
    writeFileSync(payloadFile, JSON.stringify({ sender: { login: 'alice' }, lock: { id: 7, owner: { login: 'alice' }, locked_at: '2026-01-02T03:04:05Z' } }));
    const lock = await cli(['emit', 'lock.acquired', '--repo', String(repo.id), '--file', payloadFile, '--field', 'lock.path=edit.prproj', '--field', 'lock.reason="color grade"']);
    assert.equal(lock.code, 0, lock.stderr);
    assert.match(lock.stdout, /\(lock\.acquired\) accepted: 1 delivery\./);
    const repeatedFile = join(home, 'repeated.json');
    writeFileSync(repeatedFile, '{"sender": {"login": "alice"}, "ref": "refs/heads/a", "ref": "refs/heads/b"}');
    const repeated = await cli(['emit', 'push', '--repo', String(repo.id), '--file', repeatedFile]);
    assert.equal(repeated.code, 2);
    assert.match(repeated.stderr, /--file .*repeated\.json sets key "ref" twice in one object; keep one/);
    const bigFile = join(home, 'big.json');
    writeFileSync(bigFile, '{"sender": {"login": "alice"}, "build": 12345678901234567890}');
    const big = await cli(['emit', 'push', '--repo', String(repo.id), '--file', bigFile]);
    assert.equal(big.code, 2, big.stderr);
    assert.match(big.stderr, /--file .*big\.json: the number 12345678901234567890 at byte offset \d+ is an integer beyond 2\^53 - 1, which JSON cannot carry exactly; write it as a string/);

    await receiver.waitFor(3);
    const pushes = receiver.requests.filter((r) => r.headers['x-dits-event'] === 'push');
    assert.equal(pushes.length, 1, 'the replayed emit created no second delivery');
    const push = JSON.parse(pushes[0].body.toString('utf8'));
    assert.equal(push.ref, 'refs/heads/main');
    assert.equal(push.after, HEAD_SHA);
    assert.equal(push.sender.login, userInfo().username, 'the local user is the default sender');
    assert.deepEqual(push.commits[0].added, ['shots/a.mov']);
    const locked = JSON.parse(receiver.requests.find((r) => r.headers['x-dits-event'] === 'lock.acquired')!.body.toString('utf8'));
    assert.deepEqual(
      { id: locked.lock.id, path: locked.lock.path, owner: locked.lock.owner.login, reason: locked.lock.reason, sender: locked.sender.login },
      { id: 7, path: 'edit.prproj', owner: 'alice', reason: 'color grade', sender: 'alice' },
    );
    assert.equal((await deliveriesOf(repo.id, hook.id)).length, 3);
  });

  test('emit reports server validation details and usage errors', async () => {
    const repo = await createRepo();
    const [invalid, badField] = await Promise.all([
      cli(['emit', 'lock.acquired', '--repo', String(repo.id), '--field', 'lock.id=7', '--sender', 'alice']),
      cli(['emit', 'push', '--repo', String(repo.id), '--field', 'no-equals-sign']),
    ]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /\(invalid_request, HTTP 400\)/);
    assert.match(invalid.stderr, /^ {2}- lock\.path: /m);
    assert.match(invalid.stderr, /^ {2}- lock\.locked_at: /m);
    assert.equal(badField.code, 2);
    assert.match(badField.stderr, /--field must look like key=value/);
  });
});

describe('token commands', () => {
  test('token names follow the server', async () => {
    const [spaces, long, bidi] = await Promise.all([
      cli(['token', 'create', '--name', '   ', '--scopes', 'read']),
      cli(['token', 'create', '--name', '🎬'.repeat(60), '--scopes', 'read']),
      cli(['token', 'create', '--name', 'evil\u202etxt.exe', '--scopes', 'read']),
    ]);
    assert.equal(spaces.code, 1);
    assert.match(spaces.stderr, /name: expected a name of 1 to 100 characters, not only spaces/);
    assert.match(spaces.stderr, /invalid_request, HTTP 400/);
    assert.equal(long.code, 0, `60 emoji are 60 characters; stderr: ${long.stderr}`);
    assert.equal(bidi.code, 1);
    assert.match(bidi.stderr, /without control characters, bidirectional controls or line separators, got the string "evil\\u202etxt\.exe"/, 'the name is printed escaped');
    assert.ok(!bidi.stderr.includes('\u202e'), 'no raw right-to-left override reaches the terminal');
  });

  test('token create, list and revoke', async () => {
    const created = await cli(['token', 'create', '--name', 'ci-reader', '--scopes', 'read,events:write']);
    assert.equal(created.code, 0, created.stderr);
    const token = /^Token: (dwt_\S+)$/m.exec(created.stdout)?.[1];
    const tokenId = /Created token (\d+) \(ci-reader\)/.exec(created.stdout)?.[1];
    assert.ok(token, created.stdout);
    assert.ok(tokenId, created.stdout);

    const readerEnv = { ...env, DITS_WEBHOOKS_TOKEN: token };
    const [listed, readable, forbidden, shown, shownJson] = await Promise.all([
      cli(['token', 'list']),
      cli(['repo', 'list'], readerEnv),
      cli(['repo', 'create', 'reader/attempt'], readerEnv),
      cli(['token', 'show'], readerEnv),
      cli(['token', 'show', '--json'], readerEnv),
    ]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^Token ${tokenId} \\(ci-reader\\), prefix dwt_\\S+\\.\\.\\., scopes read, events:write; created `));
    assert.deepEqual(parseJson(shownJson).scopes, ['read', 'events:write']);
    assert.equal(shownJson.stdout.includes(token!), false, 'the token itself is not printed');
    assert.match(listed.stdout, new RegExp(`^${tokenId} +ci-reader +read,events:write +dwt_\\S+\\.\\.\\. .* active$`, 'm'));
    assert.equal(readable.code, 0, readable.stderr);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /insufficient_scope/);

    const revoked = await cli(['token', 'revoke', tokenId]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const [afterRevoke, relisted] = await Promise.all([cli(['repo', 'list'], readerEnv), cli(['token', 'list', '--json'])]);
    assert.equal(afterRevoke.code, 1);
    assert.match(afterRevoke.stderr, /\(unauthorized, HTTP 401\)/);
    assert.match(afterRevoke.stderr, /--token or DITS_WEBHOOKS_TOKEN/);
    assert.ok(parseJson(relisted).data.find((t: { id: number }) => t.id === Number(tokenId)).revoked_at);
  });
});

describe('verify', () => {
  test('valid and invalid signatures in both schemes', async () => {
    const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    const body = '{"event":"push","delivery_id":"d-1"}';
    const bodyFile = join(home, 'body.json');
    writeFileSync(bodyFile, body);
    const hub = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
    const timestamp = new Date();
    // The standardwebhooks library signs independently of this project's code.
    const standard = new Webhook(secret).sign('msg_1', timestamp, body);
    const standardArgs = (signature: string) => ['--webhook-id', 'msg_1', '--webhook-timestamp', String(Math.floor(timestamp.getTime() / 1000)), '--webhook-signature', signature];
    const base = ['verify', '--secret', secret, '--body-file', bodyFile];

    const [hubValid, hubInvalid, standardValid, standardInvalid, fromStdin, neither, emptySecret] = await Promise.all([
      cli([...base, '--signature', hub]),
      cli([...base, '--signature', 'sha256=' + '0'.repeat(64)]),
      cli([...base, ...standardArgs(standard)]),
      cli([...base, ...standardArgs('v1,' + Buffer.alloc(32).toString('base64'))]),
      cli(['verify', '--secret', secret, '--body-file', '-', '--signature', hub], env, body),
      cli(base),
      cli(['verify', '--secret', '', '--body-file', bodyFile, '--signature', hub]),
    ]);
    assert.deepEqual([hubValid.code, hubValid.stdout], [0, 'valid\n']);
    assert.equal(hubInvalid.code, 1);
    assert.match(hubInvalid.stdout, /^invalid: X-Hub-Signature-256 does not match the body and secret; use the exact body bytes/);
    assert.deepEqual([standardValid.code, standardValid.stdout], [0, 'valid\n']);
    assert.equal(standardInvalid.code, 1);
    assert.match(standardInvalid.stdout, /^invalid: Standard Webhooks signature: no webhook-signature entry matches the body/);
    assert.deepEqual([fromStdin.code, fromStdin.stdout], [0, 'valid\n']);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /pass --signature 'sha256=\.\.\.'/);
    assert.equal(emptySecret.code, 2);
    assert.match(emptySecret.stderr, /--secret is empty/);
  });
});

describe('listen', () => {
  test('receives a delivery, checks signatures and forwards identical bytes', async () => {
    const target = await startReceiver();
    target.respondStatus(202);
    const secret = 'listen-secret-0123456789';
    const listener = RunningCli.start(command, ['listen', '--port', '0', '--secret', secret, '--forward', target.url], env);
    try {
      const first = await listener.waitForLine(/./);
      const url = /^Listening on (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(first)?.[1];
      assert.ok(url, first);

      const repo = await createRepo();
      const hook = await createHook(repo.id, { url: url + 'hook', events: ['push'], secret });
      await ingestPush(repo.id);
      await target.waitFor(2);
      const pushLine = await listener.waitForLine(/ push /);
      assert.match(pushLine, new RegExp(`^\\S+Z {2}push {2}${UUID.source} {2}hub ok, standard ok -> forwarded 202$`));
      await listener.waitForLine(/ ping .* hub ok, standard ok -> forwarded 202$/);

      const deliveries = await deliveriesOf(repo.id, hook.id);
      for (const summary of deliveries) {
        const detail = (await service.api('GET', `/v1/repos/${repo.id}/webhooks/${hook.id}/deliveries/${summary.id}`)).json;
        const forwarded = target.requests.find((r) => r.headers['x-dits-delivery'] === summary.id);
        assert.ok(forwarded, `delivery ${summary.id} was forwarded`);
        assert.equal(forwarded.body.toString('utf8'), detail.request.body, 'forwarded body bytes equal the delivered ones');
        for (const name of ['x-dits-event', 'x-dits-hook-id', 'x-hub-signature-256', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-type']) {
          assert.equal(forwarded.headers[name], detail.request.headers[name], `header ${name}`);
        }
      }

      const forged = await request(url + 'hook', {
        method: 'POST',
        body: '{"event":"push"}',
        headers: { 'content-type': 'application/json', 'x-dits-event': 'push', 'x-hub-signature-256': 'sha256=' + '0'.repeat(64), 'webhook-id': 'x', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' },
      });
      await forged.body.dump();
      assert.equal(forged.statusCode, 401);
      await listener.waitForLine(/hub INVALID, standard INVALID -> answered 401$/);
      assert.equal(target.requests.length, 2, 'a request that fails both checks is not forwarded');
    } finally {
      assert.equal(await listener.stop(), 0);
    }
  });

  test('--json prints each request as a JSON line', async () => {
    const listener = RunningCli.start(command, ['listen', '--port', '0', '--json', '--path', '/in'], env);
    try {
      const first = JSON.parse(await listener.waitForLine(/./));
      assert.match(first.listening, /^http:\/\/127\.0\.0\.1:\d+\/in$/);
      const sent = await request(first.listening, { method: 'POST', body: '{"event":"ping","n":1}', headers: { 'x-dits-event': 'ping' } });
      await sent.body.dump();
      assert.equal(sent.statusCode, 200);
      const elsewhere = await request(first.listening.replace(/\/in$/, '/other'), { method: 'POST', body: '{}' });
      await elsewhere.body.dump();
      assert.equal(elsewhere.statusCode, 404);
      const getRequest = await request(first.listening, { method: 'GET' });
      await getRequest.body.dump();
      assert.equal(getRequest.statusCode, 405);
      const oversized = await request(first.listening, { method: 'POST', body: Buffer.alloc(33 * 1024 * 1024, 0x20), headers: { 'x-dits-delivery': 'big-1' } }).catch((error: Error) => error);
      if (!(oversized instanceof Error)) {
        await oversized.body.dump();
        assert.equal(oversized.statusCode, 413);
      }
      const announced = await statusLineOf(first.listening, 'POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 40000000\r\nX-Dits-Delivery: big-2\r\n\r\n{');
      assert.match(announced, /^HTTP\/1\.1 413 /, 'a Content-Length over the limit gets 413 before the body arrives');
      await waitUntil(() => /ignored GET \/in: .*responded 405/.test(listener.stderr), 10_000, 'stderr line for the 405');
      await waitUntil(() => /rejected POST \/in big-1: body larger than 33554432 bytes; responded 413/.test(listener.stderr), 10_000, 'stderr line for the 413');
      const line = JSON.parse(await listener.waitForLine(/"n":1/));
      assert.deepEqual({ path: line.path, event: line.headers['x-dits-event'], body: line.body, signatures: line.signatures, status: line.status }, { path: '/in', event: 'ping', body: { event: 'ping', n: 1 }, signatures: null, status: 200 });
    } finally {
      assert.equal(await listener.stop(), 0);
    }
  });

  test('listen rejects an empty --secret', async () => {
    // An unset shell variable in --secret "$SECRET" must not start a receiver that checks nothing.
    const [empty, blank] = await Promise.all([cli(['listen', '--port', '0', '--secret', '']), cli(['listen', '--port', '0', '--secret', '  '])]);
    for (const result of [empty, blank]) {
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /--secret is empty; pass the webhook secret/);
      assert.equal(result.stdout, '', 'the receiver did not start');
    }
  });

  test('listen rejects a remote forward target', async () => {
    // The target is only parsed: the command exits before any connection or DNS lookup.
    const remoteForward = await cli(['listen', '--port', '0', '--forward', 'http://example.com/hook']);
    assert.equal(remoteForward.code, 2);
    assert.match(remoteForward.stderr, /is not a loopback address; .*--allow-remote-forward/);
  });
});

describe('errors and settings', () => {
  test('migrate reads the service config file of --config', async () => {
    const dataDir = join(home, 'migrate-config-data');
    const configFile = join(home, 'migrate-config.json');
    writeFileSync(configFile, JSON.stringify({ dataDir }));
    const result = await cli(['migrate', '--config', configFile]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Created a new, empty database at .*migrate-config-data.*dits-webhooks\.db; if the service's data is elsewhere, pass its --data-dir/);
    assert.match(result.stdout, /Migrations applied \(sqlite\)/);
    const again = await cli(['migrate', '--config', configFile]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'Migrations applied (sqlite).\n', 'an existing database is only migrated');
    assert.ok(existsSync(join(dataDir, 'dits-webhooks.db')), 'the database was created in the dataDir of the config file');
  });

  test('migrate rejects a bad database URL', async () => {
    const result = await cli(['migrate', '--database', 'notaurl']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--database: must start with postgres:\/\/ or postgresql:\/\//);
  });

  test('migrate names sslmode when TLS fails', async (t) => {
    const probe = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await probe.connect();
    const ssl = (await probe.query('SHOW ssl')).rows[0].ssl;
    await probe.end();
    if (ssl !== 'off') {
      t.skip('this PostgreSQL server accepts TLS, so sslmode=require connects');
      return;
    }
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('sslmode', 'require');
    const result = await cli(['migrate', '--database', url.toString()]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot reach the PostgreSQL database of databaseUrl \(The server does not support SSL connections\); check sslmode and the other TLS parameters of the URL in --database/);
  });

  test('two store flags rejected', async () => {
    for (const command of ['serve', 'migrate']) {
      const dataDir = join(home, `two-stores-${command}`);
      const result = await cli([command, '--data-dir', dataDir, '--database', 'postgres://postgres@127.0.0.1:5432/test']);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^ {2}--data-dir: names a SQLite folder, but databaseUrl is set \(from --database\), so the service would use PostgreSQL and ignore the folder; drop one of the two$/m);
      assert.equal(existsSync(dataDir), false, `${command} created nothing`);
      const fromEnv = await cli([command, '--data-dir', dataDir], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' });
      assert.equal(fromEnv.code, 2, fromEnv.stderr);
      assert.match(fromEnv.stderr, /^ {2}--data-dir: names a SQLite folder, but databaseUrl is set \(from DATABASE_URL\), so the service would use PostgreSQL and ignore the folder; drop one of the two$/m);
      assert.equal(existsSync(dataDir), false, `${command} created nothing`);
    }
  });

  test('usage errors exit 2', async () => {
    const [unknown, missingUrl, badLimit, badRepo, bothScopes, bothSsl] = await Promise.all([
      cli(['frobnicate']),
      cli(['create', '--repo', '1', '--events', 'push']),
      cli(['deliveries', '1', '--repo', '1', '--limit', '500']),
      cli(['repo', 'show', 'not a repo']),
      cli(['list', '--repo', '1', '--owner', 'studio']),
      cli(['update', '3', '--repo', '1', '--insecure-ssl', '--no-insecure-ssl']),
    ]);
    assert.equal(bothSsl.code, 2);
    assert.match(bothSsl.stderr, /pass --insecure-ssl or --no-insecure-ssl, not both/);
    assert.equal(bothScopes.code, 2);
    assert.match(bothScopes.stderr, /pass either --repo or --owner, not both/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    assert.match(unknown.stderr, /dits-webhook --help/);
    assert.equal(missingUrl.code, 2);
    assert.match(missingUrl.stderr, /required option '--url <url>' not specified/);
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /--limit must be a page size from 1 to 100, got "500"/);
    assert.equal(badRepo.code, 2);
    assert.match(badRepo.stderr, /is neither an id nor owner\/name/);
  });

  test('unreachable server exits 1 with a hint', async () => {
    const port = await closedPort();
    const result = await cli(['repo', 'list'], cliEnv(home, { DITS_WEBHOOKS_URL: `http://127.0.0.1:${port}` }));
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `error: cannot reach the server at http://127.0.0.1:${port}: connection refused; start it with \`dits-webhook serve\` or set DITS_WEBHOOKS_URL\n`);
  });

  test('response of another shape exits 1', async () => {
    // A loopback server that responds to every request with JSON that the API never returns.
    const odd = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"data":"notalist"}');
    });
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
      const result = await cli(['repo', 'list'], cliEnv(home, { DITS_WEBHOOKS_URL: url, DITS_WEBHOOKS_TOKEN: 't' }));
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error: the server's response does not have the shape the Dits Webhooks API returns \(.+\); check that --url or DITS_WEBHOOKS_URL points at the API\n$/);
    } finally {
      await new Promise((resolve) => odd.close(resolve));
    }
  });

  test('config file, environment and flags in order', async () => {
    const configHome = makeHome();
    try {
      mkdirSync(join(configHome, '.config', 'dits-webhook'), { recursive: true });
      writeFileSync(join(configHome, '.config', 'dits-webhook', 'config.json'), JSON.stringify({ url: service.url, token: service.adminToken }));
      const deadUrl = `http://127.0.0.1:${await closedPort()}`;
      const [fromFile, envWins, flagWins, missingConfig] = await Promise.all([
        cli(['repo', 'list', '--json'], cliEnv(configHome)),
        cli(['repo', 'list'], cliEnv(configHome, { DITS_WEBHOOKS_URL: deadUrl })),
        cli(['--url', service.url, 'repo', 'list', '--json'], cliEnv(configHome, { DITS_WEBHOOKS_URL: deadUrl })),
        cli(['repo', 'list', '--config', join(configHome, 'absent.json')], cliEnv(configHome)),
      ]);
      assert.ok(Array.isArray(parseJson(fromFile).data));
      assert.equal(envWins.code, 1);
      assert.ok(envWins.stderr.startsWith(`error: cannot reach the server at ${deadUrl}: connection refused`), envWins.stderr);
      assert.ok(Array.isArray(parseJson(flagWins).data));
      assert.equal(missingConfig.code, 2);
      assert.match(missingConfig.stderr, /config file .*absent\.json does not exist/);

      const brokenConfig = join(configHome, 'broken.json');
      writeFileSync(brokenConfig, '{\n  "url": nope\n}\n');
      const broken = await cli(['repo', 'list', '--config', brokenConfig], cliEnv(configHome));
      assert.equal(broken.code, 2);
      assert.match(broken.stderr, /config file .*broken\.json is not valid JSON/);
      assert.match(broken.stderr.split('\n')[0], /"\{\\u000a {2}"url": nope\\u000a\}\\u000a" is not valid JSON\); write an object such as/, 'the quoted file text stays on the first line');
    } finally {
      rmSync(configHome, { recursive: true, force: true });
    }
  });
});
