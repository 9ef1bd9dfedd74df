import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ZERO_ID } from '../../src/watch/dits-format.js';
import type { RefHeads } from '../../src/watch/dits-format.js';
import { createObjectReader } from '../../src/watch/object-store.js';
import { diffRefs } from '../../src/watch/ref-events.js';
import type { RefEventContext } from '../../src/watch/ref-events.js';
import { DEFAULT_AUTHOR, DitsRepoFixture } from './dits-fixture.js';
import { captureLogger } from './test-support.js';

const COLORIST = { name: 'Cy Colorist', email: 'cy@example.com' };
const ADA = { login: DEFAULT_AUTHOR.name, type: 'user' };

function refs(heads: Record<string, string>, tags: Record<string, string> = {}): RefHeads {
  return { heads: new Map(Object.entries(heads)), tags: new Map(Object.entries(tags)) };
}

describe('diffRefs', () => {
  const fixture = DitsRepoFixture.create();
  after(() => fixture.cleanup());
  const c1 = fixture.writeCommit({ message: 'Initial footage', files: { 'a.mp4': 'A1', 'b.prproj': 'B1' } });
  const c2 = fixture.writeCommit({ parent: c1, message: 'Grade shot 1', files: { 'a.mp4': 'A2', 'b.prproj': 'B1', 'c.wav': 'C1' } });
  const c3 = fixture.writeCommit({ parent: c2, message: 'Swap project file', files: { 'a.mp4': 'A2', 'c.wav': 'C1', 'd.txt': 'D1' }, committer: COLORIST });
  const d2 = fixture.writeCommit({ parent: c1, message: 'Drop project', files: { 'a.mp4': 'A1' } });

  const commitOf = (id: string, message: string, timestampOf: string, files: { added: string[]; modified: string[]; removed: string[] }, committer = DEFAULT_AUTHOR) => ({
    id,
    message,
    timestamp: timestampOf,
    author: DEFAULT_AUTHOR,
    committer,
    ...files,
  });
  const timestamps = fixture.timestamps;
  const reader = createObjectReader(fixture.ditsDir);
  const context = (overrides: Partial<RefEventContext> = {}): RefEventContext & { lines: ReturnType<typeof captureLogger>['lines'] } => {
    const { logger, lines } = captureLogger();
    return { reader, limits: { maxListed: 2048, maxRead: 100_000 }, configuredLogin: null, fallbackLogin: 'os-user', logger, lines, ...overrides };
  };

  test('shared history built once', async () => {
    const base = createObjectReader(fixture.ditsDir);
    let manifestReads = 0;
    const counting = { readCommit: (id: string) => base.readCommit(id), readManifest: (id: string) => (manifestReads++, base.readManifest(id)) };
    const first = await diffRefs(refs({}), refs({ one: c3 }), context({ reader: counting }));
    const readsForFirst = manifestReads;
    assert.ok(readsForFirst > 0);
    const second = await diffRefs(refs({}), refs({ two: c3 }), context({ reader: counting }));
    assert.equal(manifestReads, readsForFirst, 'the second branch reuses the commits built for the first');
    assert.deepEqual(second[1].body.commits, first[1].body.commits);
  });

  test('new branch with new commits', async () => {
    const events = await diffRefs(refs({ main: c1 }), refs({ main: c1, feature: c2 }), context());
    assert.deepEqual(events.map((e) => e.body), [
      { event: 'branch.created', ref: 'refs/heads/feature', branch: 'feature', sha: c2, sender: ADA },
      {
        event: 'push',
        ref: 'refs/heads/feature',
        before: ZERO_ID,
        after: c2,
        created: true,
        deleted: false,
        forced: false,
        commits: [commitOf(c2, 'Grade shot 1', timestamps.get(c2)!, { added: ['c.wav'], modified: ['a.mp4'], removed: [] })],
        head_commit: commitOf(c2, 'Grade shot 1', timestamps.get(c2)!, { added: ['c.wav'], modified: ['a.mp4'], removed: [] }),
        pusher: { name: DEFAULT_AUTHOR.name },
        total_commits_count: 1,
        sender: ADA,
      },
    ]);
  });

  test('new branch at a known commit', async () => {
    const events = await diffRefs(refs({ main: c2 }), refs({ main: c2, release: c1 }), context());
    assert.deepEqual(events.map((e) => e.body), [{ event: 'branch.created', ref: 'refs/heads/release', branch: 'release', sha: c1, sender: ADA }]);
  });

  test('known-commit branch above missing ancestor', async () => {
    // The walk from the known head meets an unreadable ancestor, while the new branch's own head reads fine.
    const hiding = { readCommit: (id: string) => (id === c1 ? Promise.resolve(null) : reader.readCommit(id)), readManifest: (id: string) => reader.readManifest(id) };
    const events = await diffRefs(refs({ main: c3 }), refs({ main: c3, release: c3 }), context({ reader: hiding }));
    assert.deepEqual(events.map((e) => e.body.event), ['branch.created'], 'no push without commits for a head that reads');
  });

  test('first branch lists its root commit with every file added', async () => {
    const events = await diffRefs(refs({}), refs({ main: c1 }), context());
    assert.deepEqual(events.map((e) => e.body.event), ['branch.created', 'push']);
    assert.deepEqual(events[1].body.commits, [commitOf(c1, 'Initial footage', timestamps.get(c1)!, { added: ['a.mp4', 'b.prproj'], modified: [], removed: [] })]);
  });

  test('fast-forward push of two commits', async () => {
    const events = await diffRefs(refs({ main: c1 }), refs({ main: c3 }), context());
    const c3Payload = commitOf(c3, 'Swap project file', timestamps.get(c3)!, { added: ['d.txt'], modified: [], removed: ['b.prproj'] }, COLORIST);
    assert.deepEqual(events.map((e) => e.body), [
      {
        event: 'push',
        ref: 'refs/heads/main',
        before: c1,
        after: c3,
        created: false,
        deleted: false,
        forced: false,
        commits: [commitOf(c2, 'Grade shot 1', timestamps.get(c2)!, { added: ['c.wav'], modified: ['a.mp4'], removed: [] }), c3Payload],
        head_commit: c3Payload,
        pusher: { name: COLORIST.name },
        total_commits_count: 2,
        sender: { login: COLORIST.name, type: 'user' },
      },
    ]);
    assert.deepEqual(events[0].identity, ['refs/heads/main', c1, c3]);
  });

  test('force push', async () => {
    const events = await diffRefs(refs({ main: c3 }), refs({ main: d2 }), context());
    assert.equal(events.length, 1);
    assert.equal(events[0].body.event, 'push.force');
    assert.equal(events[0].body.forced, true);
    assert.equal(events[0].body.before, c3);
    assert.deepEqual(events[0].body.commits, [commitOf(d2, 'Drop project', timestamps.get(d2)!, { added: [], modified: [], removed: ['b.prproj'] })]);
  });

  test('reset to an ancestor is a force push without commits', async () => {
    const events = await diffRefs(refs({ main: c3 }), refs({ main: c1 }), context());
    assert.equal(events[0].body.event, 'push.force');
    assert.deepEqual(events[0].body.commits, []);
    assert.equal(events[0].body.total_commits_count, 0);
    assert.equal((events[0].body.head_commit as { id: string }).id, c1);
  });

  test('branch deletion', async () => {
    const events = await diffRefs(refs({ main: c1, feature: c2 }), refs({ main: c1 }), context());
    assert.deepEqual(events.map((e) => e.body), [
      { event: 'branch.deleted', ref: 'refs/heads/feature', branch: 'feature', sha: c2, sender: { login: 'os-user', type: 'user' } },
    ]);
  });

  test('tag created, deleted and moved', async () => {
    const events = await diffRefs(refs({ main: c1 }, { v1: c1, v2: c1, old: c1 }), refs({ main: c1 }, { v1: c1, v2: c3, v3: c2 }), context());
    assert.deepEqual(events.map((e) => e.body), [
      { event: 'tag.deleted', ref: 'refs/tags/old', tag: 'old', sha: c1, sender: { login: 'os-user', type: 'user' } },
      { event: 'tag.deleted', ref: 'refs/tags/v2', tag: 'v2', sha: c1, sender: { login: 'os-user', type: 'user' } },
      { event: 'tag.created', ref: 'refs/tags/v2', tag: 'v2', sha: c3, sender: { login: COLORIST.name, type: 'user' } },
      { event: 'tag.created', ref: 'refs/tags/v3', tag: 'v3', sha: c2, sender: ADA },
    ]);
  });

  test('configured login replaces committer and OS user', async () => {
    const events = await diffRefs(refs({ main: c1, old: c1 }), refs({ main: c3 }, { v1: c1 }), context({ configuredLogin: 'render-bot' }));
    assert.deepEqual(events.map((e) => e.body.event), ['push', 'branch.deleted', 'tag.created']);
    for (const event of events) assert.deepEqual(event.body.sender, { login: 'render-bot', type: 'user' });
    assert.deepEqual(events[0].body.pusher, { name: 'render-bot' });
  });
});

describe('diffRefs with missing objects', () => {
  test('missing manifest empties the file lists and marks the commit', async () => {
    const fixture = DitsRepoFixture.create();
    try {
      const c1 = fixture.writeCommit({ message: 'c1', files: { 'a.mp4': '1' } });
      const c2 = fixture.writeCommit({ parent: c1, message: 'c2', files: { 'a.mp4': '2' } });
      const manifest = (await createObjectReader(fixture.ditsDir).readCommit(c1))!.manifest;
      fixture.removeObject('manifests', manifest);
      const { logger, lines } = captureLogger();
      const context = { reader: createObjectReader(fixture.ditsDir), limits: { maxListed: 10, maxRead: 100 }, configuredLogin: null, fallbackLogin: 'os-user', logger };
      const events = await diffRefs(refs({ main: c1 }), refs({ main: c2 }), context);
      const commit = (events[0].body.commits as Array<Record<string, unknown>>)[0];
      assert.equal(commit.id, c2);
      assert.equal(commit.files_unavailable, true);
      assert.deepEqual([commit.added, commit.modified, commit.removed], [[], [], []]);
      assert.ok(lines.some((line) => line.level === 40 && (line.missing_objects as string[]).includes(manifest)));
    } finally {
      fixture.cleanup();
    }
  });

  test('missing head commit sends a push without commits', async () => {
    const fixture = DitsRepoFixture.create();
    try {
      const c1 = fixture.writeCommit({ message: 'c1', files: {} });
      const c2 = fixture.writeCommit({ parent: c1, message: 'c2', files: {} });
      fixture.removeObject('commits', c2);
      const { logger, lines } = captureLogger();
      const context = { reader: createObjectReader(fixture.ditsDir), limits: { maxListed: 10, maxRead: 100 }, configuredLogin: null, fallbackLogin: 'os-user', logger };
      const events = await diffRefs(refs({ main: c1 }), refs({ main: c2 }), context);
      assert.equal(events[0].body.event, 'push');
      assert.equal(events[0].body.forced, false);
      assert.equal(events[0].body.head_commit, null);
      assert.deepEqual(events[0].body.commits, []);
      assert.deepEqual(events[0].body.sender, { login: 'os-user', type: 'user' });
      assert.ok(lines.some((line) => line.msg.startsWith('cannot tell whether the old head is an ancestor')));
    } finally {
      fixture.cleanup();
    }
  });
});

describe('diffRefs with an odd commit', () => {
  test('unparseable timestamp is left out', async () => {
    const fixture = DitsRepoFixture.create();
    try {
      const c1 = fixture.writeCommit({ message: 'c1', files: {}, timestamp: 'yesterday' });
      const { logger } = captureLogger();
      const context = { reader: createObjectReader(fixture.ditsDir), limits: { maxListed: 10, maxRead: 100 }, configuredLogin: null, fallbackLogin: 'os-user', logger };
      const events = await diffRefs(refs({}), refs({ main: c1 }), context);
      const commit = (events[1].body.commits as Array<Record<string, unknown>>)[0];
      assert.equal(commit.id, c1);
      assert.equal('timestamp' in commit, false);
    } finally {
      fixture.cleanup();
    }
  });
});

describe('diffRefs with a bounded walk', () => {
  test('bound makes the count a lower bound', async () => {
    const fixture = DitsRepoFixture.create();
    try {
      let head = fixture.writeCommit({ message: 'c0', files: {} });
      for (let i = 1; i < 6; i++) head = fixture.writeCommit({ parent: head, message: `c${i}`, files: {} });
      const { logger, lines } = captureLogger();
      const context = { reader: createObjectReader(fixture.ditsDir), limits: { maxListed: 2, maxRead: 4 }, configuredLogin: null, fallbackLogin: 'os-user', logger };
      const events = await diffRefs(refs({}), refs({ main: head }), context);
      assert.equal(events[1].body.total_commits_count, 4);
      assert.equal((events[1].body.commits as unknown[]).length, 2);
      assert.ok(lines.some((line) => line.msg === 'the history walk reached its bound; total_commits_count is a lower bound'));
    } finally {
      fixture.cleanup();
    }
  });
});
