import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { accountLogin, idempotencyKey, sendableBody } from '../../src/watch/event-request.js';
import type { EventRequest } from '../../src/watch/event-request.js';

const PUSH: EventRequest = { body: { event: 'push', ref: 'refs/heads/main' }, identity: ['refs/heads/main', 'a'.repeat(64), 'b'.repeat(64)] };

describe('idempotencyKey', () => {
  const BASE = '0123456789abcdef';
  test('same input, same key', () => assert.equal(idempotencyKey('repo:1', BASE, 5, PUSH), idempotencyKey('repo:1', BASE, 5, { ...PUSH })));
  test('key is sha256 hex', () => assert.match(idempotencyKey('repo:1', BASE, 5, PUSH), /^[0-9a-f]{64}$/));
  test('no baseline keeps the earlier key', () => {
    const earlier = createHash('sha256').update(JSON.stringify(['repo:1', 5, 'push', ...PUSH.identity])).digest('hex');
    assert.equal(idempotencyKey('repo:1', '', 5, PUSH), earlier);
  });

  const variants: Array<[string, string, string, number, EventRequest]> = [
    ['another repository', 'repo:2', BASE, 5, PUSH],
    ['another baseline', 'repo:1', 'fedcba9876543210', 5, PUSH],
    ['no baseline', 'repo:1', '', 5, PUSH],
    ['another sequence number', 'repo:1', BASE, 6, PUSH],
    ['another event name', 'repo:1', BASE, 5, { ...PUSH, body: { ...PUSH.body, event: 'push.force' } }],
    ['another identity', 'repo:1', BASE, 5, { ...PUSH, identity: ['refs/heads/main', 'a'.repeat(64), 'c'.repeat(64)] }],
  ];
  for (const [name, repoKey, baseline, sequence, request] of variants) {
    test(`${name} changes the key`, () => assert.notEqual(idempotencyKey(repoKey, baseline, sequence, request), idempotencyKey('repo:1', BASE, 5, PUSH)));
  }
});

describe('accountLogin', () => {
  const cases: Array<[string, string, string]> = [
    ['plain name', 'Ada Editor', 'Ada Editor'],
    ['surrounding spaces', '  ada  ', 'ada'],
    ['empty', '', 'unknown'],
    ['spaces only', '   ', 'unknown'],
    ['longer than 100 characters', 'x'.repeat(150), 'x'.repeat(100)],
    ['control characters inside', 'Gus\u0007Grader\u007f', 'Gus\ufffdGrader\ufffd'],
    ['NUL inside', 'a\u0000b', 'a\ufffdb'],
    ['surrounding newline', '\nada\r\n', 'ada'],
    ['emoji at the 100th unit', 'x'.repeat(99) + '\u{1f3ac}', 'x'.repeat(99)],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.equal(accountLogin(input), expected));
  }
});

describe('sendableBody', () => {
  test('replaces NUL and lone surrogates everywhere', () => {
    const body = {
      event: 'push' as const,
      ref: 'refs/heads/main',
      commits: [{ message: 'Cut\u0000two', author: { name: 'Ada \ud800 Editor' }, added: ['shot\u00001.exr', 'end\udc00'] }],
      head_commit: null,
      total_commits_count: 1,
      forced: false,
      ['key\u0000']: 'value',
    };
    assert.deepEqual(sendableBody(body), {
      event: 'push',
      ref: 'refs/heads/main',
      commits: [{ message: 'Cut\ufffdtwo', author: { name: 'Ada \ufffd Editor' }, added: ['shot\ufffd1.exr', 'end\ufffd'] }],
      head_commit: null,
      total_commits_count: 1,
      forced: false,
      ['key\ufffd']: 'value',
    });
  });

  test('keeps surrogate pairs and control characters', () => {
    const body = { event: 'push' as const, message: 'Take \u{1f3ac}\tdone\n' };
    assert.deepEqual(sendableBody(body), body);
  });

  test('leaves the input unchanged', () => {
    const body = { event: 'push' as const, message: 'a\u0000' };
    sendableBody(body);
    assert.equal(body.message, 'a\u0000');
  });

  test('key __proto__ stays a field', () => {
    const body = JSON.parse('{"event":"lock.acquired","lock":{"__proto__":"x\\u0000"}}');
    const lock = sendableBody(body).lock as Record<string, unknown>;
    assert.deepEqual(Object.keys(lock), ['__proto__']);
    assert.equal(Object.getPrototypeOf(lock), Object.prototype);
    assert.equal(JSON.stringify(lock), '{"__proto__":"x\ufffd"}');
  });
});
