/**
 * Runs the watcher against a real HTTP ingestion endpoint on 127.0.0.1 and
 * checks the exact events and fields it receives. The endpoint is the
 * contract server in ingestion-server.ts; the assertions are meant to hold
 * unchanged against the real service.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { objectPath, ZERO_ID } from '../../src/watch/dits-format.js';
import { lockId, secondsToIso } from '../../src/watch/lock-events.js';
import { statePathsFor } from '../../src/watch/snapshot.js';
import { osLogin, WatchOptionsError } from '../../src/watch/watch-options.js';
import { startWatcher } from '../../src/watch/watcher.js';
import { DELETION_CONFIRM_MS, HEAD_OBJECT_WAIT_MS, LOCKS_MISSING_GRACE_MS, UNREADABLE_WARN_MS } from '../../src/watch/working-copy-watch.js';
import type { RunningWatcher, WatchOptions } from '../../src/watch/watcher.js';
import { DEFAULT_AUTHOR, DitsRepoFixture } from './dits-fixture.js';
import { rejectedTextLock, SENT_COMMITTER_LOGIN, writeRejectedTextCommit } from './rejected-text.js';
import type { FixtureLock, FixturePerson } from './dits-fixture.js';
import { IngestionServer } from './ingestion-server.js';
import type { StoredRepo } from './ingestion-server.js';
import { captureLogger, waitFor, withDeadline } from './test-support.js';
import type { LogLine } from './test-support.js';

const T0 = Date.parse('2026-01-02T03:00:00Z');
const ADA = { login: DEFAULT_AUTHOR.name, type: 'user' };
const BASE_FILES = { 'a.mp4': 'A1', 'b.prproj': 'B1' };

type Body = Record<string, unknown>;

interface Harness {
  server: IngestionServer;
  repo: StoredRepo;
  fixture: DitsRepoFixture;
  /** The first commit, on `main` before the watcher starts. */
  c1: string;
  logs: LogLine[];
  clock: { ms: number };
  outboxPath: string;
  start(extra?: Partial<WatchOptions>): Promise<RunningWatcher>;
  stop(): Promise<void>;
  received(): Body[];
  waitForEvents(count: number): Promise<Body[]>;
}

async function harness(t: TestContext): Promise<Harness> {
  const server = await IngestionServer.start();
  const fixture = DitsRepoFixture.create('project');
  const repo = server.addRepo('studio', 'project');
  const c1 = fixture.writeCommit({ message: 'Initial footage', files: BASE_FILES });
  fixture.setRef('heads/main', c1);
  const { logger, lines } = captureLogger();
  let running: RunningWatcher | null = null;

  const h: Harness = {
    server,
    repo,
    fixture,
    c1,
    logs: lines,
    clock: { ms: T0 },
    outboxPath: join(fixture.ditsDir, 'webhooks-outbox.jsonl'),
    async start(extra = {}) {
      running = await startWatcher({
        dirs: [fixture.dir],
        serverUrl: server.url,
        token: server.token,
        repo: repo.id,
        pollIntervalMs: 25,
        debounceMs: 5,
        backoff: { initialMs: 10, maxMs: 80 },
        readRetry: { attempts: 3, initialDelayMs: 2 },
        requestTimeoutMs: 2000,
        logger,
        now: () => h.clock.ms,
        ...extra,
      });
      return running;
    },
    async stop() {
      await running?.stop();
      running = null;
    },
    received: () => server.eventsOf(repo.id).map((event) => event.body),
    async waitForEvents(count) {
      await waitFor(() => h.received().length >= count, `${count} events (have ${JSON.stringify(h.received().map((b) => b.event))})`);
      return h.received();
    },
  };
  t.after(async () => {
    await h.stop();
    await server.close();
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
    sender: { login, type: 'user' },
  };
}

async function flushed(watcher: RunningWatcher): Promise<void> {
  await withDeadline(watcher.flushed(), 'the watcher to send every queued event');
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

describe('watcher against an ingestion endpoint', () => {
  test('new branch', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Rough cut', files: { ...BASE_FILES, 'cut.prproj': 'R1' } });
    h.fixture.setRef('heads/feature', c2);

    const events = await h.waitForEvents(2);
    assert.deepEqual(events, [
      { event: 'branch.created', ref: 'refs/heads/feature', branch: 'feature', sha: c2, sender: ADA },
      pushBody({ ref: 'refs/heads/feature', before: ZERO_ID, after: c2, created: true, commits: [commitBody(h.fixture, c2, 'Rough cut', { added: ['cut.prproj'] })] }),
    ]);

    // A branch at a commit that main already has: no push, its commits are not new.
    h.fixture.setRef('heads/release', h.c1);
    const more = await h.waitForEvents(3);
    assert.deepEqual(more[2], { event: 'branch.created', ref: 'refs/heads/release', branch: 'release', sha: h.c1, sender: ADA });
    await flushed(watcher);
    assert.equal(h.received().length, 3);
  });

  test('fast-forward push of two commits', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const grader = { name: 'Gus Grader', email: 'gus@example.com' };
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Grade shot 1\n\nWarmer look.', files: { 'a.mp4': 'A2', 'b.prproj': 'B1', 'c.wav': 'C1' } });
    const c3 = h.fixture.writeCommit({ parent: c2, message: 'Replace project', files: { 'a.mp4': 'A2', 'c.wav': 'C1', 'd.otio': 'D1' }, committer: grader });
    h.fixture.setRef('heads/main', c3);

    const events = await h.waitForEvents(1);
    assert.deepEqual(events, [
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
    assert.equal(h.received().length, 1);
  });

  test('force push', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Take 2', files: { ...BASE_FILES, 'take2.mov': 'T2' } });
    h.fixture.setRef('heads/main', c2);
    await h.waitForEvents(1);

    const d2 = h.fixture.writeCommit({ parent: h.c1, message: 'Take 2, redone', files: { 'a.mp4': 'A1', 'take2.mov': 'T2b' } });
    h.fixture.setRef('heads/main', d2);
    const events = await h.waitForEvents(2);
    assert.deepEqual(events[1], pushBody({ before: c2, after: d2, forced: true, commits: [commitBody(h.fixture, d2, 'Take 2, redone', { added: ['take2.mov'], removed: ['b.prproj'] })] }));
    await flushed(watcher);
    assert.deepEqual(h.received().map((b) => b.event), ['push', 'push.force']);
  });

  test('branch deletion', async (t) => {
    const h = await harness(t);
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Try', files: BASE_FILES });
    h.fixture.setRef('heads/feature/try', c2);
    const watcher = await h.start();
    h.fixture.deleteRef('heads/feature/try');

    const events = await h.waitForEvents(1);
    assert.deepEqual(events, [{ event: 'branch.deleted', ref: 'refs/heads/feature/try', branch: 'feature/try', sha: c2, sender: { login: osLogin(), type: 'user' } }]);
    await flushed(watcher);
    assert.equal(h.received().length, 1);
  });

  test('tag created and deleted', async (t) => {
    const h = await harness(t);
    const watcher = await h.start({ sender: 'release-bot' });
    h.fixture.setRef('tags/v1.0', h.c1);
    await h.waitForEvents(1);
    h.fixture.deleteRef('tags/v1.0');

    const events = await h.waitForEvents(2);
    assert.deepEqual(events, [
      { event: 'tag.created', ref: 'refs/tags/v1.0', tag: 'v1.0', sha: h.c1, sender: { login: 'release-bot', type: 'user' } },
      { event: 'tag.deleted', ref: 'refs/tags/v1.0', tag: 'v1.0', sha: h.c1, sender: { login: 'release-bot', type: 'user' } },
    ]);
    await flushed(watcher);
    assert.equal(h.received().length, 2);
  });

  test('lock acquired, released, broken and expired', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const now = T0 / 1000;
    const alice: FixtureLock = { owner: 'alice', acquired_at: now, expires_at: now + 8 * 3600, reason: 'Editing the intro' };
    const bob: FixtureLock = { owner: 'bob', acquired_at: now + 60, expires_at: now + 60 + 8 * 3600, reason: null };
    const lockBody = (path: string, lock: FixtureLock): Body => ({
      id: lockId({ path, owner: lock.owner, acquiredAt: lock.acquired_at, expiresAt: lock.expires_at, reason: lock.reason }),
      path,
      owner: { login: lock.owner },
      locked_at: secondsToIso(lock.acquired_at),
      expires_at: secondsToIso(lock.expires_at),
      reason: lock.reason,
    });

    h.fixture.writeLocks({ 'edit.prproj': alice });
    await h.waitForEvents(1);
    h.fixture.writeLocks({});
    await h.waitForEvents(2);
    h.fixture.writeLocks({ 'scene.blend': alice });
    await h.waitForEvents(3);
    h.fixture.writeLocks({ 'scene.blend': bob });
    await h.waitForEvents(5);
    h.clock.ms = (bob.expires_at + 1) * 1000;
    const events = await h.waitForEvents(6);

    assert.deepEqual(events, [
      { event: 'lock.acquired', lock: lockBody('edit.prproj', alice), sender: { login: 'alice', type: 'user' } },
      { event: 'lock.released', lock: lockBody('edit.prproj', alice), sender: { login: 'alice', type: 'user' } },
      { event: 'lock.acquired', lock: lockBody('scene.blend', alice), sender: { login: 'alice', type: 'user' } },
      { event: 'lock.broken', lock: lockBody('scene.blend', alice), broken_by: { login: 'bob' }, sender: { login: 'bob', type: 'user' } },
      { event: 'lock.acquired', lock: lockBody('scene.blend', bob), sender: { login: 'bob', type: 'user' } },
      { event: 'lock.expired', lock: lockBody('scene.blend', bob), sender: { login: 'bob', type: 'user' } },
    ]);
    // Expiry is reported once, however many scans see the expired entry.
    await flushed(watcher);
    await flushed(watcher);
    assert.equal(h.received().length, 6);
  });

  test('restart between changes', async (t) => {
    const h = await harness(t);
    let watcher = await h.start();
    h.fixture.setRef('tags/v1', h.c1);
    await h.waitForEvents(1);
    // Flushing first makes the POST count exact: stopping mid-request would leave the event queued, to be replayed under the same key.
    await flushed(watcher);
    await h.stop();

    // Changes while the watcher is down.
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Offline edit', files: { ...BASE_FILES, 'notes.md': 'N1' } });
    h.fixture.setRef('heads/main', c2);
    h.fixture.deleteRef('tags/v1');

    watcher = await h.start();
    // A deletion is reported once a second scan, DELETION_CONFIRM_MS later, still misses the ref.
    await h.waitForEvents(3);
    await flushed(watcher);
    assert.deepEqual(h.received(), [
      { event: 'tag.created', ref: 'refs/tags/v1', tag: 'v1', sha: h.c1, sender: ADA },
      pushBody({ before: h.c1, after: c2, commits: [commitBody(h.fixture, c2, 'Offline edit', { added: ['notes.md'] })] }),
      { event: 'tag.deleted', ref: 'refs/tags/v1', tag: 'v1', sha: h.c1, sender: { login: osLogin(), type: 'user' } },
    ]);

    // A restart without changes sends nothing.
    await h.stop();
    watcher = await h.start();
    await flushed(watcher);
    assert.equal(h.received().length, 3);
    assert.equal(h.server.posts.length, 3);
    assert.equal(new Set(h.server.posts.map((post) => post.idempotencyKey)).size, 3);
  });

  test('new baseline gets new keys', async (t) => {
    const h = await harness(t);
    let watcher = await h.start();
    h.fixture.setRef('tags/v9', h.c1);
    await h.waitForEvents(1);
    await flushed(watcher);
    await h.stop();

    // Deleting the state file starts a new baseline, whose event numbers start over.
    h.fixture.deleteRef('tags/v9');
    rmSync(join(h.fixture.ditsDir, 'webhooks-watch.json'));
    watcher = await h.start();
    h.fixture.setRef('tags/v9', h.c1);
    await h.waitForEvents(2);
    await flushed(watcher);

    const created = { event: 'tag.created', ref: 'refs/tags/v9', tag: 'v9', sha: h.c1, sender: ADA };
    assert.deepEqual(h.received(), [created, created]);
    assert.equal(h.server.posts.length, 2);
    assert.equal(new Set(h.server.posts.map((post) => post.idempotencyKey)).size, 2, 'the second tag.created has a key of its own');
  });

  test('server down for a while', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    await h.server.down();

    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Made offline', files: { ...BASE_FILES, 'x.exr': 'X1' } });
    h.fixture.setRef('heads/main', c2);
    await waitFor(() => h.logs.some((line) => line.msg.startsWith('sending the event failed') && (line.error as { code?: string }).code === 'ECONNREFUSED'), 'a refused connection in the log');
    h.fixture.setRef('tags/v2', c2);
    await waitFor(() => outboxEventLines(h).length === 2, 'both events in the outbox');
    assert.equal(h.server.posts.length, 0);

    await h.server.up();
    await flushed(watcher);
    assert.deepEqual(h.received(), [
      pushBody({ before: h.c1, after: c2, commits: [commitBody(h.fixture, c2, 'Made offline', { added: ['x.exr'] })] }),
      { event: 'tag.created', ref: 'refs/tags/v2', tag: 'v2', sha: c2, sender: ADA },
    ]);
    assert.equal(h.server.posts.length, 2);

    // 503 responses are retried too, and the event is stored once.
    h.server.unavailable = true;
    h.fixture.deleteRef('tags/v2');
    await waitFor(() => h.logs.some((line) => (line.error as { status?: number } | undefined)?.status === 503), 'a 503 answer in the log');
    h.server.unavailable = false;
    await flushed(watcher);
    assert.deepEqual(h.received().map((b) => b.event), ['push', 'tag.created', 'tag.deleted']);
  });

  test('full outbox pauses scanning', async (t) => {
    const h = await harness(t);
    // One waiting event fills this outbox.
    const watcher = await h.start({ outboxPauseBytes: 1 });
    await h.server.down();

    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'First offline', files: { ...BASE_FILES, 'x.exr': 'X1' } });
    h.fixture.setRef('heads/main', c2);
    await waitFor(() => outboxEventLines(h).length === 1, 'the first push in the outbox');
    await waitFor(() => h.logs.some((line) => line.msg.startsWith('the outbox is full')), 'the full-outbox warning');

    // Made while paused: a second push, a tag, a branch made and deleted, a lock taken and released.
    const c3 = h.fixture.writeCommit({ parent: c2, message: 'Second offline', files: { ...BASE_FILES, 'x.exr': 'X2' } });
    h.fixture.setRef('heads/main', c3);
    h.fixture.setRef('tags/v3', c3);
    h.fixture.setRef('heads/scratch', c3);
    const now = T0 / 1000;
    h.fixture.writeLocks({ 'edit.prproj': { owner: 'alice', acquired_at: now, expires_at: now + 3600, reason: null } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    h.fixture.deleteRef('heads/scratch');
    h.fixture.writeLocks({});
    // Six polls of 25 ms, and the outbox still holds only the first push.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(outboxEventLines(h).length, 1);
    assert.equal(h.logs.filter((line) => line.msg.startsWith('the outbox is full')).length, 1);

    await h.server.up();
    await flushed(watcher);
    await flushed(watcher);
    assert.deepEqual(h.received(), [
      pushBody({ before: h.c1, after: c2, commits: [commitBody(h.fixture, c2, 'First offline', { added: ['x.exr'] })] }),
      pushBody({ before: c2, after: c3, commits: [commitBody(h.fixture, c3, 'Second offline', { modified: ['x.exr'] })] }),
      { event: 'tag.created', ref: 'refs/tags/v3', tag: 'v3', sha: c3, sender: ADA },
    ]);
    assert.ok(h.logs.some((line) => line.msg.startsWith('the outbox has room again')));
  });

  test('resend after a crash creates nothing new', async (t) => {
    const h = await harness(t);
    let watcher = await h.start();
    await h.server.down();
    h.fixture.setRef('tags/v3', h.c1);
    await waitFor(() => outboxEventLines(h).length === 1, 'the event in the outbox');
    const outboxBeforeSend = readFileSync(h.outboxPath, 'utf8');
    await h.server.up();
    await flushed(watcher);
    await h.stop();

    // As if the watcher had died after the server accepted the event but before it recorded that.
    writeFileSync(h.outboxPath, outboxBeforeSend);
    watcher = await h.start();
    await flushed(watcher);
    assert.equal(h.server.posts.length, 2);
    assert.equal(h.server.posts[0].idempotencyKey, h.server.posts[1].idempotencyKey);
    assert.deepEqual(h.server.posts.map((post) => post.status), [202, 202]);
    assert.deepEqual(h.received().map((b) => b.event), ['tag.created']);
  });

  test('half-written files are not deletions', async (t) => {
    const h = await harness(t);
    const alice: FixtureLock = { owner: 'alice', acquired_at: T0 / 1000, expires_at: T0 / 1000 + 3600, reason: null };
    h.fixture.writeLocks({ 'edit.prproj': alice });
    const watcher = await h.start();
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Slow write', files: BASE_FILES });

    h.fixture.writeHalf('refs/heads/main', `${c2}\n`);
    h.fixture.writeHalf('locks.json', JSON.stringify({ 'edit.prproj': { path: 'edit.prproj', ...alice } }));
    await flushed(watcher);
    await flushed(watcher);
    assert.deepEqual(h.received(), []);

    h.fixture.setRef('heads/main', c2);
    h.fixture.writeLocks({ 'edit.prproj': alice });
    await flushed(watcher);
    assert.deepEqual(h.received().map((b) => b.event), ['push']);
  });

  test('folder restored in steps reports nothing', async (t) => {
    const h = await harness(t);
    const alice: FixtureLock = { owner: 'alice', acquired_at: T0 / 1000, expires_at: T0 / 1000 + 3600, reason: null };
    h.fixture.writeLocks({ 'edit.prproj': alice });
    h.fixture.setRef('tags/v1', h.c1);
    const watcher = await h.start();
    const backup = join(h.fixture.dir, '..', 'backup');
    cpSync(h.fixture.ditsDir, backup, { recursive: true });
    rmSync(h.fixture.ditsDir, { recursive: true });
    await flushed(watcher);

    // Copied back the way cp copies: objects and HEAD first, refs and locks.json a scan or two later.
    mkdirSync(h.fixture.ditsDir);
    cpSync(join(backup, 'objects'), join(h.fixture.ditsDir, 'objects'), { recursive: true });
    cpSync(join(backup, 'HEAD'), join(h.fixture.ditsDir, 'HEAD'));
    await flushed(watcher);
    cpSync(join(backup, 'refs'), join(h.fixture.ditsDir, 'refs'), { recursive: true });
    await flushed(watcher);
    assert.deepEqual(h.received(), [], 'no deletion or release while refs or locks.json are missing');
    assert.ok(h.logs.some((line) => /has no refs, so it is incomplete/.test(String(line.err))));
    cpSync(join(backup, 'locks.json'), join(h.fixture.ditsDir, 'locks.json'));
    await flushed(watcher);
    await flushed(watcher);
    assert.deepEqual(h.received(), []);
  });

  test('refs vanishing with their folder are not deletions', async (t) => {
    const h = await harness(t);
    for (let i = 0; i < 20; i++) h.fixture.setRef(`heads/topic-${i}`, h.c1);
    const watcher = await h.start();
    const backup = join(h.fixture.dir, '..', 'backup');
    cpSync(h.fixture.ditsDir, backup, { recursive: true });

    // A scan in the middle of `rm -rf`: some ref files are gone, the folder is still there.
    for (let i = 0; i < 10; i++) h.fixture.deleteRef(`heads/topic-${i}`);
    await flushed(watcher);
    rmSync(h.fixture.ditsDir, { recursive: true });
    await new Promise((resolve) => setTimeout(resolve, DELETION_CONFIRM_MS * 2));
    await flushed(watcher);
    assert.deepEqual(h.received(), [], 'nothing while the folder went away');

    cpSync(backup, h.fixture.ditsDir, { recursive: true });
    await flushed(watcher);
    await new Promise((resolve) => setTimeout(resolve, DELETION_CONFIRM_MS * 2));
    await flushed(watcher);
    assert.deepEqual(h.received(), [], 'nothing once it is back');
  });

  test('removed locks.json releases after a grace', async (t) => {
    const h = await harness(t);
    const alice: FixtureLock = { owner: 'alice', acquired_at: T0 / 1000, expires_at: T0 / 1000 + 3600, reason: null };
    h.fixture.writeLocks({ 'edit.prproj': alice });
    const watcher = await h.start();
    rmSync(join(h.fixture.ditsDir, 'locks.json'));
    await flushed(watcher);
    h.clock.ms += LOCKS_MISSING_GRACE_MS - 1;
    await flushed(watcher);
    assert.deepEqual(h.received(), [], 'held while the file may be on its way back');
    h.clock.ms += 1;
    const events = await h.waitForEvents(1);
    assert.deepEqual(events.map((b) => b.event), ['lock.released']);
  });

  test('commit of 3,001 files lists 3,000', async (t) => {
    const h = await harness(t);
    await h.start();
    const files: Record<string, string> = { ...BASE_FILES };
    for (let i = 0; i < 3001; i++) files[`plates/${i}.dpx`] = `p${i}`;
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Ingest plates', files });
    h.fixture.setRef('heads/main', c2);
    const [push] = await h.waitForEvents(1);
    const [commit] = push.commits as { added: string[]; files_truncated?: boolean }[];
    assert.equal(commit.added.length, 3000);
    assert.equal(commit.files_truncated, true);
    assert.equal((push.head_commit as { added: string[] }).added.length, 3000);
    const warning = h.logs.find((line) => line.msg === 'the push changes more files than one event carries; older commits lost file paths first and are flagged files_truncated');
    assert.equal(warning?.paths_omitted, 1);
  });

  test('push too large is sent with shorter file lists', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const files: Record<string, string> = { ...BASE_FILES };
    for (let i = 0; i < 200; i++) files[`renders/shot-${String(i).padStart(3, '0')}/frame-final.exr`] = `v${i}`;
    // Stands in for the service's body limit, which the watcher does not know.
    h.server.override = (body) =>
      JSON.stringify(body).length > 6000 ? { status: 413, body: { error: { code: 'payload_too_large', message: 'body too large', details: [] } } } : null;
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Render all shots', files });
    h.fixture.setRef('heads/main', c2);
    const [push] = await h.waitForEvents(1);
    await flushed(watcher);

    const [commit] = push.commits as { added: string[]; files_truncated?: boolean }[];
    assert.equal(commit.files_truncated, true);
    assert.ok(commit.added.length > 0, 'some paths stay');
    assert.ok(commit.added.length < 200, `${commit.added.length} of 200 paths stayed`);
    assert.ok(JSON.stringify(push).length <= 6000);
    assert.ok(h.logs.some((line) => line.msg === 'the server rejected the push as too large; sending it again with shorter file lists'));
    assert.equal(outboxEventLines(h).length, 0);
  });

  test('oversized push loses commits and message text', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    // Stands in for the service's body limit, which the watcher does not know.
    h.server.override = (body) =>
      JSON.stringify(body).length > 20_000 ? { status: 413, body: { error: { code: 'payload_too_large', message: 'body too large', details: [] } } } : null;
    let parent = h.c1;
    for (let i = 0; i < 8; i++) parent = h.fixture.writeCommit({ parent, message: `Shot ${i}: ${'notes '.repeat(3000)}`, files: { ...BASE_FILES, [`shot-${i}.exr`]: `v${i}` } });
    h.fixture.setRef('heads/main', parent);
    const [push] = await h.waitForEvents(1);
    await flushed(watcher);

    const commits = push.commits as { id: string; message: string; message_truncated?: boolean }[];
    assert.ok(JSON.stringify(push).length <= 20_000);
    assert.equal(push.total_commits_count, 8, 'the real number of commits stays');
    assert.ok(commits.length >= 1, 'at least one commit stays listed');
    assert.ok(commits.length < 8, `${commits.length} of 8 commits listed`);
    assert.match(commits[0].message, /^Shot 0: notes notes/, 'the oldest commits stay listed');
    assert.equal((push.head_commit as { id: string }).id, parent, 'the newest commit stays the head');
    assert.ok(commits.every((commit) => commit.message_truncated === true && commit.message.length < 18_000), 'every message was cut');
    const logged = (message: string) => h.logs.some((line) => line.msg === message);
    assert.ok(logged('the server rejected the push as too large; sending it again with fewer commits listed'));
    assert.ok(logged('the server rejected the push as too large; sending it again with shorter commit messages'));
    assert.equal(h.logs.filter((line) => line.msg === 'the server rejected the event; it is dropped').length, 0);
    assert.equal(outboxEventLines(h).length, 0);
  });

  test('lasting scan problems logged once', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    // A refs folder that is a symbolic link to itself fails every listing with ELOOP, which no retry mends. The
    // scan cannot tell which tags exist, so it reports nothing rather than deletions.
    const tags = join(h.fixture.ditsDir, 'refs', 'tags');
    rmSync(tags, { recursive: true, force: true });
    symlinkSync('tags', tags);
    for (let i = 0; i < 4; i++) await flushed(watcher);
    assert.equal(h.logs.filter((line) => line.msg === 'scanning the working copy failed; the next scan retries').length, 1);

    rmSync(tags);
    mkdirSync(tags);
    writeFileSync(join(h.fixture.ditsDir, 'locks.json'), JSON.stringify({ 'a.psd': { owner: null } }));
    for (let i = 0; i < 4; i++) await flushed(watcher);
    assert.equal(h.logs.filter((line) => line.msg === 'malformed locks.json entries; kept their previous values').length, 1);
    assert.deepEqual(h.received(), []);
  });

  test('event rejected with 422 is dropped', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    h.server.override = (body) => (body.event === 'tag.created' ? { status: 422, body: { error: { code: 'invalid_request', message: 'tag: refused by test', details: [] } } } : null);
    h.fixture.setRef('tags/bad', h.c1);
    await waitFor(() => h.logs.some((line) => line.msg === 'the server rejected the event; it is dropped'), 'the drop in the log');
    const drop = h.logs.find((line) => line.msg === 'the server rejected the event; it is dropped')!;
    assert.equal(drop.status, 422);
    assert.match((drop.error as { message: string }).message, /tag: refused by test/);

    h.fixture.deleteRef('tags/bad');
    await h.waitForEvents(1);
    await flushed(watcher);
    assert.deepEqual(h.received().map((b) => b.event), ['tag.deleted']);
    assert.equal(outboxEventLines(h).length, 0);
  });

  test('second watcher on one copy rejected', async (t) => {
    const h = await harness(t);
    const lockPath = join(h.fixture.ditsDir, 'webhooks-watch.json.lock');
    // The lock names a process that runs: the test runner that started this one.
    writeFileSync(lockPath, `${process.ppid}\n`);
    await assert.rejects(h.start(), (error: Error) => {
      assert.equal(error.name, 'WatchedElsewhereError');
      assert.match(error.message, new RegExp(`^another watcher \\(process ${process.ppid}\\) already watches .*; stop it first, or delete .*webhooks-watch\\.json\\.lock if no watcher runs$`));
      return true;
    });

    // A lock left by a process that has ended is taken over, and removed again at stop.
    const ended = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(lockPath, `${ended}\n`);
    const watcher = await h.start();
    assert.equal(readFileSync(lockPath, 'utf8'), `${process.pid}\n`);
    h.fixture.setRef('tags/v1', h.c1);
    await h.waitForEvents(1);
    await flushed(watcher);
    await h.stop();
    assert.equal(existsSync(lockPath), false, 'the lock file is removed at stop');
  });

  test('refs folder moved away and back', async (t) => {
    const h = await harness(t);
    h.fixture.setRef('heads/main', h.c1);
    h.fixture.setRef('tags/v1', h.c1);
    const watcher = await h.start();
    await flushed(watcher);
    const heads = join(h.fixture.ditsDir, 'refs', 'heads');
    const aside = join(h.fixture.ditsDir, 'heads-aside');
    renameSync(heads, aside);
    await new Promise((resolve) => setTimeout(resolve, DELETION_CONFIRM_MS * 3));
    for (let i = 0; i < 3; i++) await flushed(watcher);
    renameSync(aside, heads);
    for (let i = 0; i < 3; i++) await flushed(watcher);
    await new Promise((resolve) => setTimeout(resolve, DELETION_CONFIRM_MS * 2));
    await flushed(watcher);
    assert.deepEqual(h.received(), [], 'no branch was reported deleted or created');
    assert.ok(h.logs.some((line) => String(line.err ?? '').includes('has no refs/heads')), 'the pause is logged');
  });

  test('wrong server route keeps events queued', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    // A URL with an extra path gets the server's route-not-found response, and a proxy may respond with a redirect.
    let response: { status: number; body: unknown } | null = { status: 404, body: { error: { code: 'route_not_found', message: 'No route', details: [] } } };
    h.server.override = () => response;
    h.fixture.setRef('tags/v1', h.c1);
    await waitFor(() => h.logs.filter((line) => line.event === 'tag.created' && line.retry_in_ms !== undefined).length >= 1, 'a retry after the 404');
    response = { status: 302, body: '' };
    await waitFor(() => h.logs.filter((line) => line.event === 'tag.created' && line.retry_in_ms !== undefined).length >= 2, 'a retry after the redirect');
    assert.equal(h.logs.some((line) => line.msg === 'the server rejected the event; it is dropped'), false, 'nothing was dropped');

    response = null;
    await h.waitForEvents(1);
    await flushed(watcher);
    assert.deepEqual(h.received().map((b) => b.tag), ['v1']);
    assert.equal(outboxEventLines(h).length, 0);
  });

  test('folder removed during a rejected send', async (t) => {
    const h = await harness(t);
    await h.start();
    // The folder disappears while the request is on its way, so the outbox cannot record the rejection.
    h.server.override = (body) => {
      if (body.event !== 'tag.created') return null;
      rmSync(h.fixture.dir, { recursive: true, force: true });
      return { status: 422, body: { error: { code: 'invalid_request', message: 'tag: refused by test', details: [] } } };
    };
    h.fixture.setRef('tags/doomed', h.c1);
    await waitFor(
      () => h.logs.some((line) => line.msg === 'sending the event failed; it stays queued and will be retried' && /recording the outcome in .* failed/.test(String((line.error as { message?: string })?.message))),
      'the failed outbox write in the log',
    );
    assert.ok(h.logs.some((line) => line.msg === 'the server rejected the event; it is dropped'));
  });

  test('unreadable ref file warned once', async (t) => {
    const h = await harness(t);
    await h.start();
    const broken = join(h.fixture.ditsDir, 'refs', 'heads', 'broken');
    writeFileSync(broken, 'not an object id\n');
    const warnings = () => h.logs.filter((line) => line.level === 40 && String(line.msg).startsWith('file unreadable for'));
    // Scans run every 25 ms, and the watcher's clock does not move until the test moves it.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(warnings().length, 0, 'no warning while the write may still be in progress');
    h.clock.ms += UNREADABLE_WARN_MS;
    await waitFor(() => warnings().length === 1, 'the warning about refs/heads/broken');
    assert.equal(warnings()[0].file, join('.dits', 'refs', 'heads', 'broken'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(warnings().length, 1, 'logged once while the file stays unreadable');

    h.fixture.setRef('heads/broken', h.c1);
    await h.waitForEvents(1);
    assert.equal(h.received()[0].ref, 'refs/heads/broken');
  });

  test('looping locks.json link blocks nothing', async (t) => {
    const h = await harness(t);
    h.fixture.writeLocks({});
    await h.start();
    // A symbolic link to itself fails every open with ELOOP, as a file this user may not read fails with EACCES.
    rmSync(join(h.fixture.ditsDir, 'locks.json'));
    symlinkSync('locks.json', join(h.fixture.ditsDir, 'locks.json'));
    h.fixture.setRef('tags/v2', h.c1);
    const [created] = await h.waitForEvents(1);
    assert.equal(created.event, 'tag.created');
    h.clock.ms += UNREADABLE_WARN_MS;
    await waitFor(() => h.logs.some((line) => line.level === 40 && line.file === join('.dits', 'locks.json')), 'the warning about locks.json');
    assert.equal(h.logs.filter((line) => line.msg === 'scanning the working copy failed; the next scan retries').length, 0);
  });

  test('FIFO as locks.json blocks nothing', async (t) => {
    const h = await harness(t);
    h.fixture.writeLocks({});
    await h.start();
    // Opening a FIFO waits for a writer: read that way, it held every later scan and the shutdown.
    rmSync(join(h.fixture.ditsDir, 'locks.json'));
    assert.equal(spawnSync('mkfifo', [join(h.fixture.ditsDir, 'locks.json')]).status, 0);
    h.fixture.setRef('tags/v2', h.c1);
    const [created] = await h.waitForEvents(1);
    assert.equal(created.event, 'tag.created');
    h.clock.ms += UNREADABLE_WARN_MS;
    await waitFor(() => h.logs.some((line) => line.level === 40 && line.file === join('.dits', 'locks.json')), 'the warning about locks.json');
    await withDeadline(h.stop(), 'the watcher to stop');
  });

  test('ref ahead of its commit object waits', async (t) => {
    const h = await harness(t);
    // Polling a minute apart: the notification of the ref change starts the first scan, and only the watcher's own
    // retry notices the object, since objects are not watched.
    const watcher = await h.start({ pollIntervalMs: 60_000 });
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Copied out of order', files: { ...BASE_FILES, 'c.wav': 'C1' } });
    const path = objectPath(h.fixture.ditsDir, 'commits', c2);
    const content = readFileSync(path);
    // A half-written object reads like a missing one.
    writeFileSync(path, content.subarray(0, 40));
    h.fixture.setRef('heads/main', c2);
    for (let i = 0; i < 4; i++) await flushed(watcher);
    assert.deepEqual(h.received(), [], 'no push while the commit cannot be read');

    writeFileSync(path, content);
    const [push] = await h.waitForEvents(1);
    assert.deepEqual(push, pushBody({ before: h.c1, after: c2, commits: [commitBody(h.fixture, c2, 'Copied out of order', { added: ['c.wav'] })] }));
  });

  test('commit object that never comes', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Lost', files: BASE_FILES });
    rmSync(objectPath(h.fixture.ditsDir, 'commits', c2));
    h.fixture.setRef('heads/main', c2);
    for (let i = 0; i < 4; i++) await flushed(watcher);
    assert.deepEqual(h.received(), []);

    h.clock.ms += HEAD_OBJECT_WAIT_MS;
    const [push] = await h.waitForEvents(1);
    assert.equal(push.after, c2);
    assert.deepEqual(push.commits, [], 'sent after the wait with what could be read');
    assert.ok(h.logs.some((line) => line.level === 40 && (line.missing_objects as string[] | undefined)?.includes(c2)), 'the missing object is logged');
  });

  test('new branch on an unopenable commit', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const c2 = h.fixture.writeCommit({ parent: h.c1, message: 'Locked away', files: BASE_FILES });
    // open(2) of a Unix socket fails with ENXIO, as a commit object this user may not read fails with EACCES.
    const path = objectPath(h.fixture.ditsDir, 'commits', c2);
    rmSync(path);
    const socket = createServer();
    await new Promise<void>((resolve) => socket.listen(path, resolve));
    t.after(() => new Promise((resolve) => socket.close(resolve)));
    h.fixture.setRef('heads/feature', c2);
    h.fixture.setRef('tags/v2', h.c1);
    const [tag] = await h.waitForEvents(1);
    assert.equal(tag.event, 'tag.created', 'other refs go on while the commit cannot be read');
    for (let i = 0; i < 4; i++) await flushed(watcher);
    assert.equal(h.received().length, 1, 'the new branch waits for its commit');

    h.clock.ms += HEAD_OBJECT_WAIT_MS;
    const events = await h.waitForEvents(3);
    assert.deepEqual(events.slice(1).map((event) => [event.event, event.ref, event.created ?? null]), [
      ['branch.created', 'refs/heads/feature', null],
      ['push', 'refs/heads/feature', true],
    ]);
    assert.deepEqual(events[2].commits, [], 'the push goes out with what could be read');
    assert.ok(h.logs.some((line) => line.level === 40 && (line.missing_objects as string[] | undefined)?.includes(c2)), 'the unreadable object is logged');
  });

  test('unusable state folder refused', async (t) => {
    const h = await harness(t);
    const file = join(h.fixture.dir, 'not-a-folder');
    writeFileSync(file, 'x');
    for (const stateDir of [file, join(file, 'below')]) {
      await assert.rejects(
        h.start({ stateDir }),
        (error: unknown) =>
          error instanceof WatchOptionsError &&
          error.details.length === 1 &&
          error.details[0].field === '--state-dir' &&
          error.details[0].message.includes(JSON.stringify(stateDir)) &&
          /\((it is not a folder|EEXIST|ENOTDIR)\); pass a folder/.test(error.details[0].message),
      );
    }
    assert.equal(h.server.posts.length, 0);
  });

  test('kernel state folder refused', async (t) => {
    const h = await harness(t);
    // Node's recursive mkdir never returns under /proc, so the check must come first.
    await assert.rejects(
      h.start({ stateDir: '/proc/dits-webhooks-state' }),
      (error: unknown) =>
        error instanceof WatchOptionsError &&
        error.details[0].field === '--state-dir' &&
        error.details[0].message === '"/proc/dits-webhooks-state" is on the kernel file system /proc, which cannot hold files; pass a folder on a disk',
    );
    const link = join(h.fixture.dir, 'proc-link');
    symlinkSync('/proc/self', link);
    await assert.rejects(
      h.start({ stateDir: join(link, 'state') }),
      (error: unknown) => error instanceof WatchOptionsError && /is on the kernel file system \/proc, which cannot hold files/.test(error.details[0].message),
      'a symbolic link into /proc counts as /proc',
    );
    await assert.rejects(
      h.start({ stateDir: `${link}/../state` }),
      (error: unknown) => error instanceof WatchOptionsError && /is on the kernel file system \/proc/.test(error.details[0].message),
      'the kernel follows the link before the .., and so does the check',
    );
    assert.equal(h.server.posts.length, 0);
  });

  test('second watcher through a symbolic link rejected', async (t) => {
    const h = await harness(t);
    const stateDir = join(h.fixture.dir, '..', `state-${process.pid}`);
    const link = `${h.fixture.dir}-link`;
    symlinkSync(h.fixture.dir, link);
    t.after(() => {
      rmSync(link, { force: true });
      rmSync(stateDir, { recursive: true, force: true });
    });
    // The lock of a watcher of the real path, held by a process that runs: the test runner that started this one.
    mkdirSync(stateDir);
    const lockPath = `${statePathsFor(realpathSync(h.fixture.dir), stateDir).snapshot}.lock`;
    writeFileSync(lockPath, `${process.ppid}\n`);
    await assert.rejects(h.start({ dirs: [link], stateDir }), (error: Error) => {
      assert.equal(error.name, 'WatchedElsewhereError');
      assert.match(error.message, new RegExp(`^another watcher \\(process ${process.ppid}\\) already watches `));
      return true;
    });
    // State files under the link's own name, from an earlier version, are still found, and the lock still goes by the real path.
    writeFileSync(statePathsFor(link, stateDir).snapshot, '{}');
    await assert.rejects(h.start({ dirs: [link], stateDir }), (error: Error) => error.name === 'WatchedElsewhereError');
    assert.equal(h.server.posts.length, 0);
  });

  test('owner mapping creates missing repositories', async (t) => {
    const h = await harness(t);
    const other = DitsRepoFixture.create('trailer');
    t.after(() => other.cleanup());
    const o1 = other.writeCommit({ message: 'Trailer start', files: { 't.mov': '1' } });
    other.setRef('heads/main', o1);

    const { logger } = captureLogger();
    const watcher = await startWatcher({
      dirs: [h.fixture.dir, other.dir],
      serverUrl: h.server.url,
      token: h.server.token,
      owner: 'studio',
      create: true,
      pollIntervalMs: 25,
      backoff: { initialMs: 10, maxMs: 80 },
      logger,
    });
    t.after(() => watcher.stop());
    h.fixture.setRef('tags/p1', h.c1);
    other.setRef('tags/t1', o1);
    await flushed(watcher);

    const trailer = h.server.repos.find((repo) => repo.full_name === 'studio/trailer');
    assert.ok(trailer, 'studio/trailer was created');
    assert.deepEqual(h.server.eventsOf(trailer.id).map((e) => e.body.tag), ['t1']);
    assert.deepEqual(h.received().map((b) => b.tag), ['p1']);
  });

  test('unknown repository id waits', async (t) => {
    const h = await harness(t);
    // The contract server numbers repositories from 101, so the next one it adds is 102.
    const watcher = await h.start({ repo: 102 });
    h.fixture.setRef('tags/early', h.c1);
    await waitFor(() => h.server.posts.filter((post) => post.repoId === 102 && post.status === 404).length >= 3, 'three 404 answers');
    const waiting = h.logs.filter((line) => line.msg.startsWith('the server has no repository for the events'));
    assert.equal(waiting.length, 1, 'the wait is logged once');
    assert.equal((waiting[0].error as { code?: string }).code, 'repo_not_found');
    assert.ok(!h.logs.some((line) => line.msg === 'the server rejected the event; it is dropped'));
    assert.equal(outboxEventLines(h).length, 1);

    const later = h.server.addRepo('studio', 'later');
    assert.equal(later.id, 102);
    await flushed(watcher);
    assert.deepEqual(h.server.eventsOf(102).map((event) => event.body.tag), ['early']);
  });

  test('owner mapping finds a recreated repository', async (t) => {
    const h = await harness(t);
    const watcher = await h.start({ repo: undefined, owner: 'studio' });
    h.fixture.setRef('tags/p1', h.c1);
    await flushed(watcher);
    assert.deepEqual(h.received().map((b) => b.tag), ['p1']);

    // Deleted and created again on the server, under a new id.
    h.server.repos.splice(0, 1, { ...h.repo, id: 150 });
    h.fixture.setRef('tags/p2', h.c1);
    await flushed(watcher);
    assert.deepEqual(h.server.eventsOf(150).map((event) => event.body.tag), ['p2']);
    assert.equal(h.logs.filter((line) => line.msg.startsWith('the server has no repository for the events')).length, 1);
  });

  test('rejected ref names are skipped', async (t) => {
    const h = await harness(t);
    h.fixture.setRef('heads/old\tname', h.c1);
    let watcher = await h.start();
    await flushed(watcher);
    await h.stop();

    // A snapshot from a watcher without the name check lists the name, and its file is gone now.
    const snapshotPath = join(h.fixture.ditsDir, 'webhooks-watch.json');
    const stored = JSON.parse(readFileSync(snapshotPath, 'utf8'));
    stored.refs.heads['old\tname'] = h.c1;
    writeFileSync(snapshotPath, JSON.stringify(stored));
    h.fixture.deleteRef('heads/old\tname');

    watcher = await h.start();
    h.fixture.setRef('heads/bad\u0001name', h.c1);
    h.fixture.setRef('tags/v\n1', h.c1);
    h.fixture.setRef('tags/v 1', h.c1);
    await h.waitForEvents(1);
    for (let i = 0; i < 3; i++) await flushed(watcher);
    await new Promise((resolve) => setTimeout(resolve, DELETION_CONFIRM_MS * 2));
    await flushed(watcher);

    assert.deepEqual(h.received(), [{ event: 'tag.created', ref: 'refs/tags/v 1', tag: 'v 1', sha: h.c1, sender: ADA }]);
    const skipped = h.logs.filter((line) => line.msg.startsWith('skipping a ref whose name the server rejects')).map((line) => line.ref);
    assert.deepEqual(skipped.sort(), ['refs/heads/bad\u0001name', 'refs/heads/old\tname', 'refs/tags/v\n1']);
  });

  test('rejected text is replaced', async (t) => {
    const h = await harness(t);
    const watcher = await h.start();
    const commit = writeRejectedTextCommit(h.fixture, h.c1, BASE_FILES);
    h.fixture.setRef('heads/main', commit.id);
    const [push] = await h.waitForEvents(1);
    assert.deepEqual(push, pushBody({ before: h.c1, after: commit.id, commits: [commit.sent], login: SENT_COMMITTER_LOGIN }));

    const { path, lock, sentPath, sentOwner, sentReason } = rejectedTextLock(T0 / 1000);
    h.fixture.writeLocks({ [path]: lock });
    const events = await h.waitForEvents(2);
    assert.deepEqual(events[1], {
      event: 'lock.acquired',
      lock: {
        id: lockId({ path, owner: lock.owner, acquiredAt: lock.acquired_at, expiresAt: lock.expires_at, reason: lock.reason }),
        path: sentPath,
        owner: { login: sentOwner },
        locked_at: secondsToIso(lock.acquired_at),
        expires_at: secondsToIso(lock.expires_at),
        reason: sentReason,
      },
      sender: { login: sentOwner, type: 'user' },
    });
    await flushed(watcher);
    assert.equal(h.received().length, 2);
  });
});
