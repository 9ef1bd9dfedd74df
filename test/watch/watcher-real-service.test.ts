/**
 * Runs the watcher against the real service (SQLite store, API and delivery
 * worker in this process) with a webhook subscribed to every event. The
 * tests check what reaches a loopback receiver: each delivered body, its
 * headers and its X-Hub-Signature-256. They also count the deliveries of
 * each change across watcher restarts and a service outage.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { verifyHubSignature } from '../../src/signing/verify.js';
import { ZERO_ID } from '../../src/watch/dits-format.js';
import { lockId, secondsToIso } from '../../src/watch/lock-events.js';
import { osLogin, WatchOptionsError } from '../../src/watch/watch-options.js';
import { startWatcher } from '../../src/watch/watcher.js';
import { DELETION_CONFIRM_MS } from '../../src/watch/working-copy-watch.js';
import type { RunningWatcher, WatchOptions } from '../../src/watch/watcher.js';
import { createHook } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import type { ReceivedRequest } from '../support/receiver.js';
import { startTestService, waitUntil } from '../support/service.js';
import type { TestService } from '../support/service.js';
import { DEFAULT_AUTHOR, DitsRepoFixture } from './dits-fixture.js';
import { rejectedTextLock, SENT_COMMITTER_LOGIN, writeRejectedTextCommit } from './rejected-text.js';
import type { FixtureLock, FixturePerson } from './dits-fixture.js';
import { captureLogger, waitFor, withDeadline } from './test-support.js';
import type { LogLine } from './test-support.js';

const SECRET = 'watcher-real-service-secret';
const OWNER = 'studio';
const NAME = 'project';
const T0 = Date.parse('2026-01-02T03:00:00Z');
const ADA = { login: DEFAULT_AUTHOR.name, type: 'user' };
const BASE_FILES = { 'a.mp4': 'A1', 'b.prproj': 'B1' };
/** Worker poll interval; new events wake the worker at once, so this only bounds retries after the service restarts. */
const SERVICE_OVERRIDES = { pollIntervalMs: 50 };

type Body = Record<string, any>;

interface Harness {
  /** The running service; the function that `takeServiceDown` returns replaces it. */
  svc: TestService;
  receiver: Receiver;
  fixture: DitsRepoFixture;
  repoId: number;
  hookId: number;
  /** The first commit, on `main` before the watcher starts. */
  c1: string;
  logs: LogLine[];
  clock: { ms: number };
  outboxPath: string;
  start(extra?: Partial<WatchOptions>): Promise<RunningWatcher>;
  stopWatcher(): Promise<void>;
  /** Delivered bodies without `delivery_id`, `timestamp` and `repository`, each checked by `openDelivery` first. */
  deliveries(): Body[];
  waitForDeliveries(count: number): Promise<Body[]>;
  /** Waits until every delivery the service created for the webhook is delivered and received; returns how many there are. */
  settle(): Promise<number>;
  /** Closes the service, keeping its data folder, and returns a function that starts a new service on that folder and port. */
  takeServiceDown(): Promise<() => Promise<void>>;
}

/**
 * Checks one received request against the delivery contract and returns its
 * body without the envelope fields, which the checks here have covered.
 */
function openDelivery(request: ReceivedRequest, repoId: number, hookId: number): Body {
  const text = request.body.toString('utf8');
  const signature = request.headers['x-hub-signature-256'] as string;
  assert.ok(verifyHubSignature(SECRET, request.body, signature), `X-Hub-Signature-256 ${signature} verifies for ${text.slice(0, 120)}`);
  assert.equal(verifyHubSignature('another-secret-of-enough-length', request.body, signature), false, 'another secret does not verify');

  const body = JSON.parse(text) as Body;
  assert.equal(JSON.stringify(body), text, 'the body is compact JSON.stringify output, so a re-serialising handler gets the signed bytes');
  assert.equal(request.headers['x-dits-event'], body.event);
  assert.equal(request.headers['x-dits-delivery'], body.delivery_id);
  assert.equal(request.headers['x-dits-hook-id'], String(hookId));
  assert.equal(request.headers['content-type'], 'application/json');

  const { delivery_id: deliveryId, timestamp, repository, ...fields } = body;
  assert.equal(typeof deliveryId, 'string');
  assert.ok(!Number.isNaN(Date.parse(timestamp)), `timestamp ${timestamp} is a date`);
  assert.equal(repository.id, repoId);
  assert.equal(repository.full_name, `${OWNER}/${NAME}`);
  return fields;
}

/**
 * Orders bodies by event name and the fields that tell events of one name
 * apart. Receipt order is not compared: the worker starts attempts in event
 * order, but several can be in flight at once and finish in any order.
 */
function sorted(bodies: Body[]): Body[] {
  const key = (body: Body) => [body.event, body.ref ?? '', body.lock?.path ?? '', body.lock?.owner?.login ?? '', body.after ?? body.sha ?? ''].join(' ');
  return [...bodies].sort((a, b) => key(a).localeCompare(key(b)));
}

function countByEvent(bodies: Body[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const body of bodies) counts[body.event] = (counts[body.event] ?? 0) + 1;
  return counts;
}

async function issueWriteToken(svc: TestService): Promise<string> {
  const res = await svc.api('POST', '/v1/tokens', { name: 'watcher', scopes: ['write'] });
  assert.equal(res.status, 201, res.text);
  return res.json.token as string;
}

async function harness(t: TestContext): Promise<Harness> {
  const receiver = await Receiver.start();
  const firstService = await startTestService({ keepData: true, overrides: SERVICE_OVERRIDES });
  const { repoId, hookId } = await createHook(firstService, receiver.url, { owner: OWNER, name: NAME, events: ['*'], secret: SECRET });
  const token = await issueWriteToken(firstService);
  const fixture = DitsRepoFixture.create(NAME);
  const c1 = fixture.writeCommit({ message: 'Initial footage', files: BASE_FILES });
  fixture.setRef('heads/main', c1);
  const { logger, lines } = captureLogger();
  let running: RunningWatcher | null = null;

  const h: Harness = {
    svc: firstService,
    receiver,
    fixture,
    repoId,
    hookId,
    c1,
    logs: lines,
    clock: { ms: T0 },
    outboxPath: join(fixture.ditsDir, 'webhooks-outbox.jsonl'),
    async start(extra = {}) {
      running = await startWatcher({
        dirs: [fixture.dir],
        serverUrl: h.svc.url,
        token,
        owner: OWNER,
        create: true,
        pollIntervalMs: 25,
        debounceMs: 5,
        backoff: { initialMs: 10, maxMs: 100 },
        requestTimeoutMs: 2000,
        logger,
        now: () => h.clock.ms,
        ...extra,
      });
      return running;
    },
    async stopWatcher() {
      await running?.stop();
      running = null;
    },
    deliveries: () => receiver.requests.map((request) => openDelivery(request, repoId, hookId)),
    async waitForDeliveries(count) {
      await receiver.waitFor(count);
      return h.deliveries();
    },
    async settle() {
      const total = await waitUntil(
        async () => {
          const res = await h.svc.api('GET', `/v1/repos/${repoId}/webhooks/${hookId}/deliveries?limit=100`);
          const list = res.json.data as Array<{ status: string }>;
          const done = list.every((delivery) => delivery.status === 'delivered') && receiver.requests.length >= list.length;
          return done ? { count: list.length } : null;
        },
        10_000,
        'every delivery of the webhook to be delivered',
      );
      assert.equal(receiver.requests.length, total.count, 'each delivery reached the receiver once');
      return total.count;
    },
    async takeServiceDown() {
      const { dataDir, adminToken } = h.svc;
      const port = Number(new URL(h.svc.url).port);
      await h.svc.close();
      return async () => {
        h.svc = await startTestService({ dataDir, adminToken, keepData: true, overrides: { ...SERVICE_OVERRIDES, port } });
      };
    },
  };
  t.after(async () => {
    await h.stopWatcher();
    await h.svc.close();
    rmSync(h.svc.dataDir, { recursive: true, force: true });
    await receiver.close();
    fixture.cleanup();
  });
  return h;
}

function commitBody(fixture: DitsRepoFixture, id: string, message: string, files: { added?: string[]; modified?: string[]; removed?: string[] }, committer: FixturePerson = DEFAULT_AUTHOR): Body {
  return {
    id,
    message,
    timestamp: fixture.timestamps.get(id),
    author: DEFAULT_AUTHOR,
    committer,
    added: files.added ?? [],
    modified: files.modified ?? [],
    removed: files.removed ?? [],
  };
}

function pushBody(fields: { ref?: string; before: string; after: string; commits: Body[]; created?: boolean; forced?: boolean; login?: string }): Body {
  const login = fields.login ?? DEFAULT_AUTHOR.name;
  return {
    event: fields.forced ? 'push.force' : 'push',
    sender: { login, type: 'user' },
    ref: fields.ref ?? 'refs/heads/main',
    before: fields.before,
    after: fields.after,
    created: fields.created ?? false,
    deleted: false,
    forced: fields.forced ?? false,
    commits: fields.commits,
    head_commit: fields.commits.at(-1) ?? null,
    pusher: { name: login },
    total_commits_count: fields.commits.length,
  };
}

function lockBody(path: string, lock: FixtureLock): Body {
  return {
    id: lockId({ path, owner: lock.owner, acquiredAt: lock.acquired_at, expiresAt: lock.expires_at, reason: lock.reason }),
    path,
    owner: { login: lock.owner },
    locked_at: secondsToIso(lock.acquired_at),
    expires_at: secondsToIso(lock.expires_at),
    reason: lock.reason,
  };
}

async function flushed(watcher: RunningWatcher): Promise<void> {
  await withDeadline(watcher.flushed(), 'the watcher to send every queued event', 10_000);
}

function outboxEventLines(h: Harness): string[] {
  let text = '';
  try {
    text = readFileSync(h.outboxPath, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line.includes('"type":"event"'));
}

describe('watcher against the real service', () => {
  test('new branch', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Rough cut', files: { ...BASE_FILES, 'cut.prproj': 'R1' } });
    h.fixture.setRef('heads/feature', c2);

    const bodies = await h.waitForDeliveries(2);
    assert.deepEqual(sorted(bodies), [
      { event: 'branch.created', sender: ADA, ref: 'refs/heads/feature', branch: 'feature', sha: c2 },
      pushBody({ ref: 'refs/heads/feature', before: ZERO_ID, after: c2, created: true, commits: [commitBody(h.fixture, c2, 'Rough cut', { added: ['cut.prproj'] })] }),
    ]);

    // A branch at a commit that main already has: its commits are not new, so no push.
    h.fixture.setRef('heads/release', h.c1);
    const more = await h.waitForDeliveries(3);
    assert.deepEqual(sorted(more)[1], { event: 'branch.created', sender: ADA, ref: 'refs/heads/release', branch: 'release', sha: h.c1 });
    await flushed(watcher);
    assert.equal(await h.settle(), 3);
  });

  test('fast-forward push of two commits', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const grader = { name: 'Gus Grader', email: 'gus@example.com' };
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Grade shot 1\n\nWarmer look.', files: { 'a.mp4': 'A2', 'b.prproj': 'B1', 'c.wav': 'C1' } });
    const c3 = h.fixture.writeCommit({ parent: c2, message: 'Replace project', files: { 'a.mp4': 'A2', 'c.wav': 'C1', 'd.otio': 'D1' }, committer: grader });
    h.fixture.setRef('heads/main', c3);

    const bodies = await h.waitForDeliveries(1);
    assert.deepEqual(bodies, [
      pushBody({
        before: h.c1,
        after: c3,
        login: grader.name,
        commits: [
          commitBody(h.fixture, c2, 'Grade shot 1\n\nWarmer look.', { added: ['c.wav'], modified: ['a.mp4'] }),
          commitBody(h.fixture, c3, 'Replace project', { added: ['d.otio'], removed: ['b.prproj'] }, grader),
        ],
      }),
    ]);
    await flushed(watcher);
    assert.equal(await h.settle(), 1);
  });

  test('force push', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Take 2', files: { ...BASE_FILES, 'take2.mov': 'T2' } });
    h.fixture.setRef('heads/main', c2);
    await h.waitForDeliveries(1);

    const d2 = h.fixture.writeCommit({ parent: h.c1, message: 'Take 2, redone', files: { 'a.mp4': 'A1', 'take2.mov': 'T2b' } });
    h.fixture.setRef('heads/main', d2);
    const bodies = await h.waitForDeliveries(2);
    assert.deepEqual(bodies[1], pushBody({ before: c2, after: d2, forced: true, commits: [commitBody(h.fixture, d2, 'Take 2, redone', { added: ['take2.mov'], removed: ['b.prproj'] })] }));
    await flushed(watcher);
    assert.equal(await h.settle(), 2);
    assert.deepEqual(countByEvent(h.deliveries()), { push: 1, 'push.force': 1 });
  });

  test('branch deletion', async (t) => {
    const h = await harness(t);
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Try', files: BASE_FILES });
    h.fixture.setRef('heads/feature/try', c2);
    const watcher = await h.start();
    h.fixture.deleteRef('heads/feature/try');

    const bodies = await h.waitForDeliveries(1);
    assert.deepEqual(bodies, [{ event: 'branch.deleted', sender: { login: osLogin(), type: 'user' }, ref: 'refs/heads/feature/try', branch: 'feature/try', sha: c2 }]);
    await flushed(watcher);
    assert.equal(await h.settle(), 1);
  });

  test('tag created and deleted', async (t) => {
    const h = await harness(t);
    const watcher = await h.start({ sender: 'release-bot' });
    h.fixture.setRef('tags/v1.0', h.c1);
    await h.waitForDeliveries(1);
    h.fixture.deleteRef('tags/v1.0');

    const bodies = await h.waitForDeliveries(2);
    const bot = { login: 'release-bot', type: 'user' };
    assert.deepEqual(sorted(bodies), [
      { event: 'tag.created', sender: bot, ref: 'refs/tags/v1.0', tag: 'v1.0', sha: h.c1 },
      { event: 'tag.deleted', sender: bot, ref: 'refs/tags/v1.0', tag: 'v1.0', sha: h.c1 },
    ]);
    await flushed(watcher);
    assert.equal(await h.settle(), 2);
  });

  test('lock acquired, released, broken and expired', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const now = T0 / 1000;
    const alice: FixtureLock = { owner: 'alice', acquired_at: now, expires_at: now + 8 * 3600, reason: 'Editing the intro' };
    const bob: FixtureLock = { owner: 'bob', acquired_at: now + 60, expires_at: now + 60 + 8 * 3600, reason: null };
    const asAlice = { login: 'alice', type: 'user' };
    const asBob = { login: 'bob', type: 'user' };

    h.fixture.writeLocks({ 'edit.prproj': alice });
    assert.deepEqual((await h.waitForDeliveries(1))[0], { event: 'lock.acquired', sender: asAlice, lock: lockBody('edit.prproj', alice) });
    h.fixture.writeLocks({});
    assert.deepEqual((await h.waitForDeliveries(2))[1], { event: 'lock.released', sender: asAlice, lock: lockBody('edit.prproj', alice) });
    h.fixture.writeLocks({ 'scene.blend': alice });
    assert.deepEqual((await h.waitForDeliveries(3))[2], { event: 'lock.acquired', sender: asAlice, lock: lockBody('scene.blend', alice) });

    h.fixture.writeLocks({ 'scene.blend': bob });
    const afterBreak = await h.waitForDeliveries(5);
    assert.deepEqual(sorted(afterBreak.slice(3)), [
      { event: 'lock.acquired', sender: asBob, lock: lockBody('scene.blend', bob) },
      { event: 'lock.broken', sender: asBob, lock: lockBody('scene.blend', alice), broken_by: { login: 'bob' } },
    ]);

    h.clock.ms = (bob.expires_at + 1) * 1000;
    assert.deepEqual((await h.waitForDeliveries(6))[5], { event: 'lock.expired', sender: asBob, lock: lockBody('scene.blend', bob) });

    // Expiry is reported once, however many scans see the expired entry.
    await flushed(watcher);
    await flushed(watcher);
    assert.equal(await h.settle(), 6);
    assert.deepEqual(countByEvent(h.deliveries()), { 'lock.acquired': 3, 'lock.released': 1, 'lock.broken': 1, 'lock.expired': 1 });
  });

  test('restart between changes', async (t) => {
    const h = await harness(t);
    let watcher = await h.start();
    h.fixture.setRef('tags/v1', h.c1);
    await h.waitForDeliveries(1);
    await flushed(watcher);
    await h.stopWatcher();

    // Changes while the watcher is down.
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Offline edit', files: { ...BASE_FILES, 'notes.md': 'N1' } });
    h.fixture.setRef('heads/main', c2);
    h.fixture.deleteRef('tags/v1');

    watcher = await h.start();
    // A deletion is reported once a second scan, DELETION_CONFIRM_MS later, still misses the ref.
    await h.waitForDeliveries(3);
    await flushed(watcher);
    assert.equal(await h.settle(), 3);
    assert.deepEqual(sorted(h.deliveries()), [
      pushBody({ before: h.c1, after: c2, commits: [commitBody(h.fixture, c2, 'Offline edit', { added: ['notes.md'] })] }),
      { event: 'tag.created', sender: ADA, ref: 'refs/tags/v1', tag: 'v1', sha: h.c1 },
      { event: 'tag.deleted', sender: { login: osLogin(), type: 'user' }, ref: 'refs/tags/v1', tag: 'v1', sha: h.c1 },
    ]);

    // A restart without changes sends nothing.
    await h.stopWatcher();
    watcher = await h.start();
    await flushed(watcher);
    assert.equal(await h.settle(), 3);
    assert.deepEqual(countByEvent(h.deliveries()), { 'tag.created': 1, push: 1, 'tag.deleted': 1 });
    const events = await h.svc.api('GET', `/v1/repos/${h.repoId}/events`);
    const names = (events.json.data as Array<{ event: string }>).map((event) => event.event).sort();
    assert.deepEqual(names, ['push', 'repo.created', 'tag.created', 'tag.deleted'], 'the service stored each event once, after the repo.created of the set-up');
  });

  test('service down for a while', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const bringBack = await h.takeServiceDown();

    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Made offline', files: { ...BASE_FILES, 'x.exr': 'X1' } });
    h.fixture.setRef('heads/main', c2);
    await waitFor(() => h.logs.some((line) => line.msg.startsWith('sending the event failed') && (line.error as { code?: string }).code === 'ECONNREFUSED'), 'a refused connection in the log');
    h.fixture.setRef('tags/v2', c2);
    await waitFor(() => outboxEventLines(h).length === 2, 'both events in the outbox');
    const outboxBeforeSend = readFileSync(h.outboxPath, 'utf8');
    assert.equal(h.receiver.requests.length, 0);

    await bringBack();
    await flushed(watcher);
    assert.equal(await h.settle(), 2);
    assert.deepEqual(sorted(h.deliveries()), [
      pushBody({ before: h.c1, after: c2, commits: [commitBody(h.fixture, c2, 'Made offline', { added: ['x.exr'] })] }),
      { event: 'tag.created', sender: ADA, ref: 'refs/tags/v2', tag: 'v2', sha: c2 },
    ]);

    // As if the watcher had died after the service accepted both events but before it recorded that:
    // the resent events carry the same idempotency keys, and the service creates no second delivery.
    await h.stopWatcher();
    writeFileSync(h.outboxPath, outboxBeforeSend);
    const resent = await h.start();
    await flushed(resent);
    assert.equal(h.logs.filter((line) => line.msg === 'event sent').length, 4, 'both events were sent twice');
    assert.equal(await h.settle(), 2);
    assert.deepEqual(countByEvent(h.deliveries()), { push: 1, 'tag.created': 1 });
  });

  test('rejected text is replaced', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const commit = writeRejectedTextCommit(h.fixture, h.c1, BASE_FILES);
    h.fixture.setRef('heads/main', commit.id);
    const { path, lock, sentPath, sentOwner, sentReason } = rejectedTextLock(T0 / 1000);
    h.fixture.writeLocks({ [path]: lock });

    await h.waitForDeliveries(2);
    await flushed(watcher);
    assert.equal(await h.settle(), 2);
    assert.ok(!h.logs.some((line) => line.msg === 'the server rejected the event; it is dropped'));
    assert.deepEqual(sorted(h.deliveries()), [
      {
        event: 'lock.acquired',
        sender: { login: sentOwner, type: 'user' },
        lock: { ...lockBody(path, lock), path: sentPath, owner: { login: sentOwner }, reason: sentReason },
      },
      pushBody({ before: h.c1, after: commit.id, commits: [commit.sent], login: SENT_COMMITTER_LOGIN }),
    ]);
  });

  test('rejected ref names are skipped', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    h.fixture.setRef('heads/bad\tname', h.c1);
    h.fixture.setRef('tags/v\u007f1', h.c1);
    h.fixture.setRef('heads/my branch', h.c1);
    await h.waitForDeliveries(1);
    for (let i = 0; i < 3; i++) await flushed(watcher);
    h.fixture.deleteRef('heads/bad\tname');
    await new Promise((resolve) => setTimeout(resolve, DELETION_CONFIRM_MS * 2));
    await flushed(watcher);

    assert.equal(await h.settle(), 1);
    assert.deepEqual(h.deliveries(), [{ event: 'branch.created', sender: ADA, ref: 'refs/heads/my branch', branch: 'my branch', sha: h.c1 }]);
    const skipped = h.logs.filter((line) => line.msg.startsWith('skipping a ref whose name the server rejects')).map((line) => line.ref);
    assert.deepEqual(skipped.sort(), ['refs/heads/bad\tname', 'refs/tags/v\u007f1'], 'one warning per ref name');
  });

  test('token without needed scopes refused', async (t) => {
    const h = await harness(t);
    const created = await h.svc.api('POST', '/v1/tokens', { name: 'ingest-only', scopes: ['events:write'] });
    assert.equal(created.status, 201, created.text);
    const token = created.json.token as string;
    const rejected: [Partial<WatchOptions>, RegExp][] = [
      [{ token }, /has events:write and lacks read and write, which --owner with --create needs; create a token with dits-webhook token create --scopes write/],
      [{ token, create: false }, /has events:write and lacks read, which --owner needs; .* --scopes events:write,read/],
    ];
    for (const [extra, message] of rejected) {
      await assert.rejects(h.start(extra), (error: unknown) => error instanceof WatchOptionsError && error.details[0].field === 'token' && message.test(error.details[0].message));
    }
    // Mapped by id, the watcher needs events:write alone.
    const watcher = await h.start({ token, owner: undefined, create: false, repo: h.repoId });
    h.fixture.setRef('tags/scoped', h.c1);
    await h.waitForDeliveries(1);
    await withDeadline(watcher.stop(), 'the watcher to stop');
  });

  test('owner in other letter case', async (t) => {
    const h = await harness(t);
    await h.start({ owner: OWNER.toUpperCase() });
    h.fixture.setRef('tags/upper', h.c1);
    await h.waitForDeliveries(1);

    assert.equal(await h.settle(), 1);
    assert.deepEqual(h.deliveries(), [{ event: 'tag.created', sender: ADA, ref: 'refs/tags/upper', tag: 'upper', sha: h.c1 }]);
    const repos = await h.svc.api('GET', '/v1/repos?limit=100');
    assert.equal(repos.json.data.length, 1, 'no second repository was created');
  });

  test('unknown repository id waits', async (t) => {
    const h = await harness(t);
    const mappedById = { owner: undefined, create: false };
    let watcher = await h.start({ ...mappedById, repo: h.repoId + 1000 });
    h.fixture.setRef('tags/early', h.c1);
    await waitFor(() => h.logs.some((line) => line.msg.startsWith('the server has no repository for the events')), 'the wait in the log');
    assert.equal((h.logs.find((line) => line.msg.startsWith('the server has no repository for the events'))!.error as { code?: string }).code, 'repo_not_found');
    assert.equal(outboxEventLines(h).length, 1);

    // Restarted with the right id, the watcher sends the event that waited.
    await h.stopWatcher();
    watcher = await h.start({ ...mappedById, repo: h.repoId });
    await flushed(watcher);
    assert.equal(await h.settle(), 1);
    assert.deepEqual(h.deliveries(), [{ event: 'tag.created', sender: ADA, ref: 'refs/tags/early', tag: 'early', sha: h.c1 }]);
    assert.ok(!h.logs.some((line) => line.msg === 'the server rejected the event; it is dropped'));
  });
});
