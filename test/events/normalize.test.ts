import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EventName, exampleEventFields } from '../../src/events/catalog.js';
import { DEFAULT_INGEST_LIMITS, isZeroObjectId, normalizeEventFields } from '../../src/events/normalize.js';
import { PUSH_FIELD_ORDER } from '../../src/events/schemas-push.js';

type Fields = Record<string, unknown>;

const LIMITS = { maxCommitsPerPush: 2048 };
const ZERO_ID = '0'.repeat(64);

function commit(id: string, files: Partial<Record<'added' | 'modified' | 'removed', string[]>> = {}): Fields {
  return { id, message: `commit ${id}`, author: { name: 'Octocat', email: 'octocat@example.com' }, ...files };
}

function push(overrides: Fields = {}): Fields {
  return { ...exampleEventFields('push'), ...overrides };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

describe('isZeroObjectId', () => {
  const cases: Array<[input: unknown, expected: boolean]> = [
    [ZERO_ID, true],
    ['0'.repeat(40), true],
    ['0', true],
    ['', false],
    ['00a0', false],
    [0, false],
    [null, false],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} is ${expected}`, () => {
      assert.equal(isZeroObjectId(input), expected);
    });
  }
});

describe('normalizeEventFields push derivations', () => {
  const cases: Array<[name: string, event: EventName, fields: Fields, expected: Fields]> = [
    ['update', 'push', push(), { created: false, deleted: false, forced: false }],
    ['zero before creates', 'push', push({ before: ZERO_ID }), { created: true, deleted: false }],
    ['zero after deletes', 'push', push({ after: '0'.repeat(40), commits: [] }), { created: false, deleted: true, head_commit: null }],
    ['explicit created kept', 'push', push({ before: ZERO_ID, created: true }), { created: true }],
    ['explicit deleted kept', 'push', push({ deleted: true }), { deleted: true }],
    ['explicit forced kept', 'push', push({ forced: true }), { forced: true }],
    ['push.force is forced', 'push.force', push({ forced: false }), { forced: true }],
    ['push.force without forced', 'push.force', push({ forced: undefined }), { forced: true }],
    ['missing commits become empty', 'push', push({ commits: undefined }), { commits: [], head_commit: null, total_commits_count: 0 }],
    ['pusher from sender', 'push', push(), { pusher: { name: 'octocat' } }],
    ['explicit pusher kept', 'push', push({ pusher: { name: 'ci', email: 'ci@example.com' } }), { pusher: { name: 'ci', email: 'ci@example.com' } }],
    ['total defaults to length', 'push', push({ commits: [commit('a'), commit('b')] }), { total_commits_count: 2 }],
    ['explicit total kept', 'push', push({ commits: [commit('a')], total_commits_count: 40 }), { total_commits_count: 40 }],
    ['explicit null head kept', 'push', push({ head_commit: null }), { head_commit: null }],
    ['explicit head kept', 'push', push({ head_commit: { id: 'h', message: 'm' } }), { head_commit: { id: 'h', message: 'm' } }],
  ];
  for (const [name, event, fields, expected] of cases) {
    it(name, () => {
      const output = normalizeEventFields(event, fields, LIMITS);
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(output[key], value, key);
    });
  }

  it('defaults head_commit to the last commit with file lists', () => {
    const output = normalizeEventFields('push', push({ commits: [commit('a'), commit('b', { added: ['x.psd'] })] }), LIMITS);
    assert.deepEqual(output.head_commit, { ...commit('b', { added: ['x.psd'] }), modified: [], removed: [] });
  });

  it('fills missing file lists with empty arrays', () => {
    const output = normalizeEventFields('push', push({ commits: [commit('a', { modified: ['edit.prproj'] })] }), LIMITS);
    const [first] = output.commits as Fields[];
    assert.deepEqual(first.added, []);
    assert.deepEqual(first.modified, ['edit.prproj']);
    assert.deepEqual(first.removed, []);
  });

  it('reuses commits that already have their file lists', () => {
    const complete = commit('a', { added: [], modified: [], removed: [] });
    const commits = [complete];
    const output = normalizeEventFields('push', push({ commits }), LIMITS);
    assert.equal(output.commits, commits);
    assert.equal(output.head_commit, complete);
  });
});

describe('normalizeEventFields commit limit', () => {
  const commits = ['a', 'b', 'c', 'd', 'e'].map((id) => commit(id, { added: [`${id}.mov`], modified: [], removed: [] }));
  const output = normalizeEventFields('push', push({ commits }), { maxCommitsPerPush: 2 });

  it('keeps the first commits', () => {
    assert.deepEqual(
      (output.commits as Fields[]).map((c) => c.id),
      ['a', 'b'],
    );
  });

  it('counts every pushed commit', () => {
    assert.equal(output.total_commits_count, 5);
  });

  it('keeps the real head commit', () => {
    assert.equal((output.head_commit as Fields).id, 'e');
  });

  it('leaves pushes at the limit whole', () => {
    const atLimit = normalizeEventFields('push', push({ commits: commits.slice(0, 2) }), { maxCommitsPerPush: 2 });
    assert.equal((atLimit.commits as Fields[]).length, 2);
  });

  it('defaults to 2048 commits', () => {
    assert.equal(DEFAULT_INGEST_LIMITS.maxCommitsPerPush, 2048);
    const many = Array.from({ length: 2050 }, (_, i) => commit(`c${i}`));
    const normalized = normalizeEventFields('push', push({ commits: many }));
    assert.equal((normalized.commits as Fields[]).length, 2048);
    assert.equal(normalized.total_commits_count, 2050);
  });
});

describe('normalizeEventFields key order', () => {
  it('writes push keys in delivery order, then extra keys', () => {
    const fields = { custom: 1, total_commits_count: 1, sender: { login: 'a' }, id: 'key-1', after: 'b', before: 'a', ref: 'refs/heads/main', commits: [commit('a')] };
    const output = normalizeEventFields('push', fields, LIMITS);
    assert.deepEqual(Object.keys(output), [...PUSH_FIELD_ORDER, 'custom']);
  });

  it('gives the same bytes whatever the input key order', () => {
    const fields = exampleEventFields('push');
    const reversed = Object.fromEntries(Object.entries(fields).reverse());
    assert.equal(JSON.stringify(normalizeEventFields('push', reversed, LIMITS)), JSON.stringify(normalizeEventFields('push', fields, LIMITS)));
  });

  it('writes declared keys of other events in schema order', () => {
    const fields = { note: 'x', broken_by: { login: 'b' }, sender: { login: 'b' }, lock: exampleEventFields('lock.broken').lock };
    const output = normalizeEventFields('lock.broken', fields, LIMITS);
    assert.deepEqual(Object.keys(output), ['lock', 'broken_by', 'note']);
  });

  const excluded = ['sender', 'id', 'event', 'delivery_id', 'timestamp', 'repository'];
  for (const event of ['push', 'repo.created', 'tag.created'] as const) {
    it(`leaves out ${excluded.join(', ')} for ${event}`, () => {
      const fields: Fields = { ...exampleEventFields(event), id: 'k', event, delivery_id: 'd', timestamp: 't', repository: {} };
      const output = normalizeEventFields(event, fields, LIMITS);
      for (const key of excluded) assert.equal(Object.hasOwn(output, key), false, key);
    });
  }

  it('copies a __proto__ key as data', () => {
    const fields = JSON.parse('{"sender": {"login": "a"}, "__proto__": {"polluted": true}}') as Fields;
    const output = normalizeEventFields('repo.created', fields, LIMITS);
    assert.equal(Object.getPrototypeOf(output), Object.prototype);
    assert.equal((output as { polluted?: boolean }).polluted, undefined);
    assert.equal(JSON.stringify(output), '{"__proto__":{"polluted":true}}');
  });
});

describe('normalizeEventFields input', () => {
  it('leaves a push input unchanged', () => {
    const fields = push({ before: ZERO_ID, commits: ['a', 'b', 'c'].map((id) => commit(id)) });
    const before = structuredClone(fields);
    deepFreeze(fields);
    normalizeEventFields('push', fields, { maxCommitsPerPush: 2 });
    assert.deepEqual(fields, before);
  });

  it('leaves other inputs unchanged', () => {
    const fields = deepFreeze(exampleEventFields('comment.updated'));
    const before = structuredClone(fields);
    const output = normalizeEventFields('comment.updated', fields, LIMITS);
    assert.deepEqual(fields, before);
    assert.notEqual(output, fields);
  });
});
