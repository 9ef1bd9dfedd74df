import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EventName, exampleEventFields } from '../../src/events/catalog.js';
import { validateEventFields } from '../../src/events/normalize.js';
import { MAX_FIELD_ERRORS, pointerToFieldPath } from '../../src/events/validate.js';

type Fields = Record<string, unknown>;

/** Returns the example fields of `name` after `change` edited them. */
function exampleWith(name: EventName, change: (fields: Fields) => void): Fields {
  const fields = exampleEventFields(name);
  change(fields);
  return fields;
}

function commitAt(fields: Fields, index: number): Fields {
  return (fields.commits as Fields[])[index];
}

function pushWithCommits(count: number): Fields {
  return exampleWith('push', (fields) => {
    const commit = commitAt(fields, 0);
    fields.commits = Array.from({ length: count }, (_, i) => ({ ...commit, id: `c${i}` }));
  });
}

describe('validateEventFields rejections', () => {
  const cases: Array<[name: string, event: EventName, fields: Fields, field: string, message: RegExp]> = [
    ['push without ref', 'push', exampleWith('push', (f) => delete f.ref), 'ref', /is required but missing\. Send a full ref name/],
    ['push without sender', 'push', exampleWith('push', (f) => delete f.sender), 'sender', /is required but missing\. Send an account object/],
    ['ref without refs/', 'push', exampleWith('push', (f) => (f.ref = 'main')), 'ref', /expected a full ref name .* got the string "main"/],
    ['ref with control character', 'push', exampleWith('push', (f) => (f.ref = 'refs/heads/a\u0001b')), 'ref', /without control characters/],
    ['ref with ..', 'push', exampleWith('push', (f) => (f.ref = 'refs/heads/../x')), 'ref', /"\.\."/],
    ['ref with empty part', 'push', exampleWith('push', (f) => (f.ref = 'refs/heads/a//b')), 'ref', /empty, "\." or "\.\." parts/],
    ['login with escape', 'push', exampleWith('push', (f) => (f.sender = { login: 'a\u001b[2J' })), 'sender.login', /without control characters, bidirectional controls or line separators/],
    ['lone surrogate', 'push', exampleWith('push', (f) => (commitAt(f, 0).message = 'fix \ud83d')), 'commits[0].message', /lone UTF-16 surrogate/],
    ['ref with C1 control', 'push', exampleWith('push', (f) => (f.ref = 'refs/heads/a\u0085')), 'ref', /without control characters/],
    ['lone surrogate in key', 'push', exampleWith('push', (f) => (f['\ud800'] = 1)), '["\\ud800"]', /lone UTF-16 surrogate/],
    ['NUL in key', 'push', exampleWith('push', (f) => (f['x\u0000'] = 1)), '["x\\u0000"]', /NUL characters/],
    ['NUL in message', 'push', exampleWith('push', (f) => (commitAt(f, 0).message = 'a\u0000b')), 'commits[0].message', /NUL characters/],
    ['push.tag on a branch ref', 'push.tag', exampleWith('push.tag', (f) => (f.ref = 'refs/heads/main')), 'ref', /expected a tag ref/],
    ['empty before', 'push', exampleWith('push', (f) => (f.before = '')), 'before', /expected a commit id of 1 to 128 characters.* got an empty string/],
    ['numeric after', 'push', exampleWith('push', (f) => (f.after = 5)), 'after', /got the number 5/],
    ['id longer than 128', 'push', exampleWith('push', (f) => (f.after = 'a'.repeat(129))), 'after', /got a string of 129 characters/],
    ['forced as string', 'push', exampleWith('push', (f) => (f.forced = 'yes')), 'forced', /expected a boolean.* got the string "yes"/],
    ['commits as object', 'push', exampleWith('push', (f) => (f.commits = {})), 'commits', /expected an array of the pushed commits.* got an object/],
    [
      'author email as number',
      'push',
      exampleWith('push', (f) => {
        f.commits = pushWithCommits(4).commits;
        commitAt(f, 3).author = { name: 'Octocat', email: 5 };
      }),
      'commits[3].author.email',
      /expected a string or null, got the number 5/,
    ],
    ['commit without message', 'push', exampleWith('push', (f) => delete commitAt(f, 0).message), 'commits[0].message', /is required but missing/],
    [
      'commit timestamp not RFC 3339',
      'push',
      exampleWith('push', (f) => (commitAt(f, 0).timestamp = '2026-01-02 03:04')),
      'commits[0].timestamp',
      /expected an RFC 3339 date-time .* got the string "2026-01-02 03:04"/,
    ],
    [
      'added with an empty path',
      'push',
      exampleWith('push', (f) => (commitAt(f, 0).added = ['ok.mov', ''])),
      'commits[0].added[1]',
      /expected a non-empty string, got an empty string/,
    ],
    ['negative total', 'push', exampleWith('push', (f) => (f.total_commits_count = -1)), 'total_commits_count', /non-negative integer.* got the number -1/],
    ['total below commits', 'push', exampleWith('push', (f) => (f.total_commits_count = 0)), 'total_commits_count', /at least the number of listed commits \(1\), got 0/],
    ['zeros on both sides', 'push', exampleWith('push', (f) => ((f.before = '0'.repeat(40)), (f.after = '0'.repeat(40)), (f.commits = []))), 'after', /expected a commit id, got all zeros while before is all zeros too/],
    ['created against before', 'push', exampleWith('push', (f) => (f.created = true)), 'created', /expected false, since before is not all zeros, got true; omit created/],
    ['deleted against after', 'push', exampleWith('push', (f) => ((f.after = '0'.repeat(40)), (f.deleted = false))), 'deleted', /expected true, since after is all zeros, got false/],
    ['forced push creating a ref', 'push', exampleWith('push', (f) => ((f.before = '0'.repeat(40)), (f.forced = true))), 'forced', /expected a push that rewrote history to move a ref, got before all zeros/],
    ['push.force deleting a ref', 'push.force', exampleWith('push.force', (f) => ((f.after = '0'.repeat(40)), (f.commits = []))), 'forced', /got after all zeros/],
    ['unforced push.force', 'push.force', exampleWith('push.force', (f) => (f.forced = false)), 'forced', /expected true or no value: a push.force rewrote history; send the event as push/],
    ['head_commit as string', 'push', exampleWith('push', (f) => (f.head_commit = 'abc')), 'head_commit', /or null when the push has no commits, got the string "abc"/],
    ['pusher without name', 'push', exampleWith('push', (f) => (f.pusher = { email: 'a@example.com' })), 'pusher.name', /is required but missing/],
    ['empty login', 'push', exampleWith('push', (f) => (f.sender = { login: '' })), 'sender.login', /login of 1 to 100 characters without control characters, bidirectional controls or line separators, got an empty string/],
    ['login of 101 characters', 'push', exampleWith('push', (f) => (f.sender = { login: 'x'.repeat(101) })), 'sender.login', /got a string of 101 characters/],
    ['unknown sender type', 'push', exampleWith('push', (f) => (f.sender = { login: 'a', type: 'robot' })), 'sender.type', /one of "user", "bot", "organization", got the string "robot"/],
    ['fractional sender id', 'push', exampleWith('push', (f) => (f.sender = { login: 'a', id: 1.5 })), 'sender.id', /positive integer .* got the number 1.5/],
    ['sender id beyond 2^53', 'push', exampleWith('push', (f) => (f.sender = { login: 'a', id: 2 ** 53 })), 'sender.id', /no larger than 2\^53 - 1/],
    ['repository sent by client', 'push', exampleWith('push', (f) => (f.repository = { id: 1 })), 'repository', /is set by the server.*Remove it/],
    ['delivery_id sent by client', 'repo.created', exampleWith('repo.created', (f) => (f.delivery_id = 'x')), 'delivery_id', /is set by the server/],
    ['empty idempotency key', 'repo.created', exampleWith('repo.created', (f) => (f.id = '')), 'id', /idempotency key of 1 to 255 characters/],
    ['renamed without from', 'repo.renamed', exampleWith('repo.renamed', (f) => (f.changes = { name: {} })), 'changes.name.from', /is required but missing/],
    ['visibility from as string', 'repo.visibility_changed', exampleWith('repo.visibility_changed', (f) => (f.changes = { private: { from: 'true' } })), 'changes.private.from', /expected a boolean/],
    ['archived as string', 'repo.archived', exampleWith('repo.archived', (f) => (f.archived = 'yes')), 'archived', /expected a boolean, true when archived/],
    ['branch ref on a tag', 'branch.created', exampleWith('branch.created', (f) => (f.ref = 'refs/tags/v1')), 'ref', /expected a branch ref/],
    ['branch name differs from ref', 'branch.deleted', exampleWith('branch.deleted', (f) => (f.branch = 'main')), 'branch', /expected the branch name in ref \("feature\/color"\), got "main"/],
    ['tag name differs from ref', 'tag.created', exampleWith('tag.created', (f) => (f.tag = 'v2.0')), 'tag', /expected the tag name in ref \("v1.0"\), got "v2.0"/],
    ['tag without sha', 'tag.deleted', exampleWith('tag.deleted', (f) => delete f.sha), 'sha', /is required but missing/],
    ['lock path with a bidi mark', 'lock.acquired', exampleWith('lock.acquired', (f) => ((f.lock as Fields).path = 'a\u200fb.mov')), 'lock.path', /as Dits recorded it, .* without control characters or bidirectional controls/],
    ['ref with a bidi override', 'push', exampleWith('push', (f) => (f.ref = 'refs/heads/ma\u202ein')), 'ref', /without control characters, bidirectional controls/],
    ['ref with a right-to-left mark', 'push', exampleWith('push', (f) => (f.ref = 'refs/heads/x\u200fy')), 'ref', /without control characters, bidirectional controls/],
    ['lock without path', 'lock.acquired', exampleWith('lock.acquired', (f) => delete (f.lock as Fields).path), 'lock.path', /is required but missing/],
    ['lock reason as number', 'lock.released', exampleWith('lock.released', (f) => ((f.lock as Fields).reason = 5)), 'lock.reason', /expected a string or null, got the number 5/],
    ['lock id zero', 'lock.expired', exampleWith('lock.expired', (f) => ((f.lock as Fields).id = 0)), 'lock.id', /positive integer or a string/],
    ['lock owner as string', 'lock.acquired', exampleWith('lock.acquired', (f) => ((f.lock as Fields).owner = 'octocat')), 'lock.owner', /expected an account object/],
    ['broken lock without broken_by', 'lock.broken', exampleWith('lock.broken', (f) => delete f.broken_by), 'broken_by', /is required but missing/],
    ['member without login', 'member.added', exampleWith('member.added', (f) => (f.member = { id: 1 })), 'member.login', /is required but missing/],
    ['role change without changes', 'member.role_changed', exampleWith('member.role_changed', (f) => delete f.changes), 'changes', /is required but missing/],
    ['comment without body', 'comment.created', exampleWith('comment.created', (f) => delete (f.comment as Fields).body), 'comment.body', /is required but missing/],
    ['comment line zero', 'comment.deleted', exampleWith('comment.deleted', (f) => ((f.comment as Fields).line = 0)), 'comment.line', /a line number from 1, or null, got the number 0/],
    ['edit without old body', 'comment.updated', exampleWith('comment.updated', (f) => (f.changes = { body: { from: 1 } })), 'changes.body.from', /expected a string, got the number 1/],
  ];
  for (const [name, event, fields, field, message] of cases) {
    it(name, () => {
      const errors = validateEventFields(event, fields);
      const match = errors.find((error) => error.field === field);
      assert.ok(match, `expected an error on ${field}, got ${JSON.stringify(errors)}`);
      assert.match(match.message, message);
    });
  }
});

describe('validateEventFields acceptance', () => {
  const cases: Array<[name: string, event: EventName, fields: Fields]> = [
    ['extra top-level and nested fields', 'push', exampleWith('push', (f) => {
      f.custom = { build: 7 };
      commitAt(f, 0).distinct = true;
      (f.sender as Fields).avatar_url = 'https://example.com/a.png';
    })],
    ['git zero id of 40 characters', 'push', exampleWith('push', (f) => (f.before = '0'.repeat(40)))],
    ['null head_commit and no commits', 'push', exampleWith('push', (f) => {
      f.commits = [];
      f.head_commit = null;
    })],
    ['null author email', 'push', exampleWith('push', (f) => (commitAt(f, 0).author = { name: 'A', email: null }))],
    ['date-time with offset and microseconds', 'push', exampleWith('push', (f) => (commitAt(f, 0).timestamp = '2025-12-14T22:21:30.704512+02:00'))],
    ['idempotency key', 'push', exampleWith('push', (f) => (f.id = 'watcher-1:refs/heads/main:abc'))],
    ['integer lock id', 'lock.acquired', exampleWith('lock.acquired', (f) => ((f.lock as Fields).id = 7))],
    ['lock without expiry', 'lock.acquired', exampleWith('lock.acquired', (f) => ((f.lock as Fields).expires_at = null))],
    ['member removed without role', 'member.removed', exampleWith('member.removed', (f) => delete f.role)],
    ['ping without sender', 'ping', exampleEventFields('ping')],
  ];
  for (const [name, event, fields] of cases) {
    it(name, () => {
      assert.deepEqual(validateEventFields(event, fields), []);
    });
  }
});

describe('validateEventFields ref names', () => {
  it('accepts names that Dits files can have', () => {
    for (const name of ['sp ace', 'a..b', '.hidden', 'x.lock', 'ünï', 'q?x', 'feature/x']) {
      assert.deepEqual(validateEventFields('push', exampleWith('push', (f) => (f.ref = `refs/heads/${name}`))), [], name);
    }
  });
});

describe('validateEventFields limits', () => {
  it('reports several problems at once', () => {
    const errors = validateEventFields('push', { sender: { login: '' }, ref: 'main' });
    assert.deepEqual(errors.map((error) => error.field).sort(), ['after', 'before', 'ref', 'sender.login']);
  });

  it('reports a field once per message', () => {
    const errors = validateEventFields('push', exampleWith('push', (f) => (f.sender = { login: '', id: -7.5 })));
    assert.deepEqual(errors.map((error) => error.field).sort(), ['sender.id', 'sender.login']);
  });

  it(`caps the errors at ${MAX_FIELD_ERRORS}`, () => {
    const fields = pushWithCommits(150);
    for (const commit of fields.commits as Fields[]) commit.message = 1;
    const errors = validateEventFields('push', fields);
    assert.equal(errors.length, MAX_FIELD_ERRORS);
    assert.equal(errors[0].field, 'commits[0].message');
  });

  it('rejects a body that is not an object', () => {
    const errors = validateEventFields('push', [] as unknown as Fields);
    assert.equal(errors[0].field, 'body');
    assert.match(errors[0].message, /got an array of 0 items/);
  });
});

describe('pointerToFieldPath', () => {
  const cases: Array<[pointer: string, expected: string]> = [
    ['', ''],
    ['/ref', 'ref'],
    ['/commits/3/author/email', 'commits[3].author.email'],
    ['/commits/0/added/12', 'commits[0].added[12]'],
    ['/a~1b', '["a/b"]'],
    ['/lock/x~0y', 'lock["x~y"]'],
    ['/changes/my-field/from', 'changes["my-field"].from'],
  ];
  for (const [pointer, expected] of cases) {
    it(`${JSON.stringify(pointer)} becomes ${JSON.stringify(expected)}`, () => {
      assert.equal(pointerToFieldPath(pointer), expected);
    });
  }
});
