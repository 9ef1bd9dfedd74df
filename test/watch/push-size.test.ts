import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capFileLists, listedPathBytes } from '../../src/watch/push-size.js';
import { halveFileLists, LONG_MESSAGE_CHARS, MIN_CUT_MESSAGE_CHARS, shrinkPush } from '../../src/watch/event-sender.js';

const paths = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}/${String(i).padStart(4, '0')}.exr`);

test('small pushes stay as they are', () => {
  const commits = [{ id: 'a', added: paths('a', 3), modified: [], removed: ['old.exr'] }];
  const { commits: capped, omitted } = capFileLists(commits, { maxPathsPerCommit: 10, maxPathBytes: 10_000 });
  assert.equal(omitted, 0);
  assert.equal(capped[0], commits[0], 'an unchanged commit is the same object');
});

test('paths per commit capped', () => {
  const commits = [{ id: 'a', added: paths('a', 5), modified: paths('m', 5), removed: paths('r', 5) }];
  const { commits: capped, omitted } = capFileLists(commits, { maxPathsPerCommit: 7, maxPathBytes: 1_000_000 });
  assert.equal(omitted, 8);
  assert.deepEqual(capped[0].added, paths('a', 5));
  assert.deepEqual(capped[0].modified, paths('m', 2));
  assert.deepEqual(capped[0].removed, []);
  assert.equal(capped[0].files_truncated, true);
  assert.equal(commits[0].added.length, 5, 'the input is not changed');
});

test('newest commits keep their paths first', () => {
  const commits = [
    { id: 'old', added: paths('o', 4) },
    { id: 'new', added: paths('n', 4) },
  ];
  const perPath = listedPathBytes([{ added: ['o/0000.exr'] }]);
  assert.equal(perPath, Buffer.byteLength('o/0000.exr') + 3);
  const { commits: capped, omitted } = capFileLists(commits, { maxPathsPerCommit: 100, maxPathBytes: perPath * 5 });
  assert.deepEqual(capped[1].added, paths('n', 4));
  assert.equal(capped[1].files_truncated, undefined);
  assert.deepEqual(capped[0].added, paths('o', 1));
  assert.equal(capped[0].files_truncated, true);
  assert.equal(omitted, 3);
});

test('halving a rejected push', () => {
  const head = { id: 'h', message: 'm', added: paths('h', 10) };
  const body = { event: 'push' as const, commits: [head], head_commit: head, ref: 'refs/heads/main' };
  const smaller = halveFileLists(body);
  assert.ok(smaller);
  const before = listedPathBytes([head, head]);
  const after = listedPathBytes([...(smaller.body.commits as object[]), smaller.body.head_commit as object]);
  assert.ok(after <= before / 2, `${after} bytes after, ${before} before`);
  assert.ok(smaller.omitted > 0);
  assert.equal(smaller.body.ref, 'refs/heads/main', 'other fields stay');
  assert.equal(halveFileLists({ event: 'push', commits: [{ id: 'x', added: [] }], head_commit: null }), null, 'nothing left to cut');
  assert.equal(halveFileLists({ event: 'branch.created', ref: 'refs/heads/x' }), null);
});

test('shrinking cuts paths, then commits, then messages', () => {
  const commit = (id: string, message: string, added: string[] = []) => ({ id, message, added, modified: [], removed: [] });
  const withPaths = { event: 'push' as const, commits: [commit('a', 'm', paths('a', 4))], head_commit: null, total_commits_count: 1 };
  assert.equal(shrinkPush(withPaths)?.kind, 'paths');

  const many = Array.from({ length: 5 }, (_, i) => commit(`c${i}`, `message ${i}`));
  const listed = { event: 'push' as const, commits: many, head_commit: many[4], total_commits_count: 7 };
  const fewer = shrinkPush(listed);
  assert.equal(fewer?.kind, 'commits');
  assert.deepEqual((fewer!.body.commits as { id: string }[]).map((c) => c.id), ['c0', 'c1', 'c2'], 'the oldest commits stay, as the server keeps them');
  assert.equal(fewer!.body.total_commits_count, 7, 'the real number of commits stays');
  assert.deepEqual(fewer!.body.head_commit, many[4], 'the newest commit stays the head');
  const counted = shrinkPush({ event: 'push', commits: many, head_commit: many[4] });
  assert.equal(counted!.body.total_commits_count, 5, 'a push without a count gets the listed number');

  const long = 'x'.repeat(3000) + '\u{1F3AC}'.repeat(1000);
  const single = { event: 'push' as const, commits: [commit('h', long)], head_commit: commit('h', long), total_commits_count: 1 };
  const shorter = shrinkPush(single);
  assert.equal(shorter?.kind, 'messages');
  const [cut] = shorter!.body.commits as { message: string; message_truncated?: true }[];
  assert.equal(cut.message.length, long.length / 2);
  assert.ok(long.startsWith(cut.message));
  assert.equal(cut.message_truncated, true);
  assert.deepEqual(shorter!.body.head_commit, cut, 'the head commit is cut the same way');
  // 901 code units: half is 450, and unit 449 opens a surrogate pair.
  const split = shrinkPush({ event: 'push', commits: [commit('s', 'y'.repeat(301) + '\u{1F3AC}'.repeat(300))], head_commit: null });
  const splitMessage = (split!.body.commits as { message: string }[])[0].message;
  assert.equal(splitMessage, 'y'.repeat(301) + '\u{1F3AC}'.repeat(74), 'a cut never splits a surrogate pair');

  const shortMessages = { event: 'push' as const, commits: [commit('s', 'z'.repeat(MIN_CUT_MESSAGE_CHARS))], head_commit: null };
  assert.equal(shrinkPush(shortMessages), null, 'nothing left to cut');
});

test('a very long message is cut before commits leave the list', () => {
  const commit = (id: string, message: string) => ({ id, message, added: [], modified: [], removed: [] });
  const commits = Array.from({ length: 60 }, (_, i) => commit(`c${i}`, `message ${i}`));
  const huge = commit('c60', 'x'.repeat(100_000));
  const body = { event: 'push' as const, commits: [...commits, huge], head_commit: huge, total_commits_count: 61 };
  const first = shrinkPush(body);
  assert.equal(first?.kind, 'messages');
  assert.equal((first!.body.commits as unknown[]).length, 61, 'every commit stays listed');
  assert.equal((first!.body.head_commit as { message: string }).message.length, LONG_MESSAGE_CHARS);
  assert.equal(shrinkPush(first!.body)?.kind, 'commits', 'below the long-message length, commits go next');
});
