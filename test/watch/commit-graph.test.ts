import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ancestryOf, findNewCommits } from '../../src/watch/commit-graph.js';
import { createObjectReader } from '../../src/watch/object-store.js';
import { DitsRepoFixture } from './dits-fixture.js';

const LIMITS = { maxListed: 2048, maxRead: 100_000 };

describe('findNewCommits', () => {
  const fixture = DitsRepoFixture.create();
  after(() => fixture.cleanup());
  const commit = (parent: string | null, message: string, extra: { mergeParents?: string[]; timestamp?: string } = {}): string =>
    fixture.writeCommit({ parent, message, files: { 'clip.mp4': message }, ...extra });

  // main: c1 - c2 - c3; side: c1 - d2; feature: c1 - f1, merged into c3 as m.
  const c1 = commit(null, 'c1');
  const c2 = commit(c1, 'c2');
  const c3 = commit(c2, 'c3');
  const d2 = commit(c1, 'd2');
  const f1 = commit(c1, 'f1');
  const m = commit(c3, 'merge feature', { mergeParents: [f1] });
  const reader = () => createObjectReader(fixture.ditsDir);

  const cases: Array<{ name: string; tips: string[]; exclude: string[]; listed: string[]; ancestry: 'ancestor' | 'not-ancestor' }> = [
    { name: 'fast-forward of two commits', tips: [c3], exclude: [c1], listed: [c2, c3], ancestry: 'ancestor' },
    { name: 'diverged history', tips: [d2], exclude: [c3], listed: [d2], ancestry: 'not-ancestor' },
    { name: 'reset to an ancestor', tips: [c2], exclude: [c3], listed: [], ancestry: 'not-ancestor' },
    { name: 'merge of a branch forked before the old head', tips: [m], exclude: [c3], listed: [f1, m], ancestry: 'ancestor' },
    { name: 'unchanged head', tips: [c3], exclude: [c3], listed: [], ancestry: 'ancestor' },
  ];
  for (const testCase of cases) {
    test(testCase.name, async () => {
      const walk = await findNewCommits(reader(), testCase.tips, testCase.exclude, LIMITS);
      assert.deepEqual(walk.listed, testCase.listed);
      assert.equal(walk.total, testCase.listed.length);
      assert.equal(walk.complete, true);
      assert.equal(ancestryOf(walk, testCase.exclude[0]), testCase.ancestry);
    });
  }

  test('without exclusions lists the whole history', async () => {
    const walk = await findNewCommits(reader(), [c3], [], LIMITS);
    assert.deepEqual(walk.listed, [c1, c2, c3]);
  });

  test('list keeps the newest commits', async () => {
    const walk = await findNewCommits(reader(), [c3], [], { maxListed: 2, maxRead: 100 });
    assert.deepEqual(walk.listed, [c2, c3]);
    assert.equal(walk.total, 3);
  });

  test('read bound makes the walk incomplete', async () => {
    const walk = await findNewCommits(reader(), [c3], [d2], { maxListed: 10, maxRead: 3 });
    assert.equal(walk.complete, false);
    assert.equal(ancestryOf(walk, d2), 'unknown');
  });
});

describe('findNewCommits with odd histories', () => {
  test('missing parent object', async () => {
    const fixture = DitsRepoFixture.create();
    try {
      const c1 = fixture.writeCommit({ message: 'c1', files: {} });
      const c2 = fixture.writeCommit({ parent: c1, message: 'c2', files: {} });
      const c3 = fixture.writeCommit({ parent: c2, message: 'c3', files: {} });
      fixture.removeObject('commits', c2);
      const walk = await findNewCommits(createObjectReader(fixture.ditsDir), [c3], [c1], LIMITS);
      assert.deepEqual(walk.listed, [c3]);
      assert.deepEqual(walk.missing, [c2]);
      assert.equal(walk.complete, false);
      assert.equal(ancestryOf(walk, c1), 'unknown');
    } finally {
      fixture.cleanup();
    }
  });

  test('root dated in the future', async () => {
    const fixture = DitsRepoFixture.create();
    try {
      // The root's clock ran years ahead, so it looks newer than the twelve commits above it.
      const root = fixture.writeCommit({ message: 'root', files: {}, timestamp: '2999-12-05T00:00:00.000000Z' });
      let head = root;
      for (let i = 1; i <= 12; i++) {
        head = fixture.writeCommit({ parent: head, message: `c${i}`, files: {}, timestamp: `2026-01-${String(i).padStart(2, '0')}T10:00:00.000000Z` });
      }
      const newBranch = await findNewCommits(createObjectReader(fixture.ditsDir), [root], [head], LIMITS, Date.parse('2026-12-05T00:00:00Z'));
      assert.deepEqual(newBranch.listed, [], 'a branch made at the root brings no new commit');
      assert.equal(newBranch.complete, true);
    } finally {
      fixture.cleanup();
    }
  });

  test('parent dated after its child', async () => {
    const fixture = DitsRepoFixture.create();
    try {
      // p is the common parent of o (old head) and n (new head), but its clock ran ahead of o's.
      const p = fixture.writeCommit({ message: 'p', files: {}, timestamp: '2025-12-14T11:00:00.000000Z' });
      const o = fixture.writeCommit({ parent: p, message: 'o', files: {}, timestamp: '2025-12-14T10:00:00.000000Z' });
      const n = fixture.writeCommit({ parent: p, message: 'n', files: {}, timestamp: '2025-12-14T12:00:00.000000Z' });
      const walk = await findNewCommits(createObjectReader(fixture.ditsDir), [n], [o], LIMITS);
      assert.deepEqual(walk.listed, [n]);
      assert.equal(ancestryOf(walk, o), 'not-ancestor');
    } finally {
      fixture.cleanup();
    }
  });
});
