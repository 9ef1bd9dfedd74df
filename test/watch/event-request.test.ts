import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { accountLogin, idempotencyKey } from '../../src/watch/event-request.js';
import type { EventRequest } from '../../src/watch/event-request.js';

const PUSH: EventRequest = { body: { event: 'push', ref: 'refs/heads/main' }, identity: ['refs/heads/main', 'a'.repeat(64), 'b'.repeat(64)] };

describe('idempotencyKey', () => {
  test('same input, same key', () => assert.equal(idempotencyKey('repo:1', 5, PUSH), idempotencyKey('repo:1', 5, { ...PUSH })));
  test('key is sha256 hex', () => assert.match(idempotencyKey('repo:1', 5, PUSH), /^[0-9a-f]{64}$/));

  const variants: Array<[string, string, number, EventRequest]> = [
    ['another repository', 'repo:2', 5, PUSH],
    ['another sequence number', 'repo:1', 6, PUSH],
    ['another event name', 'repo:1', 5, { ...PUSH, body: { ...PUSH.body, event: 'push.force' } }],
    ['another identity', 'repo:1', 5, { ...PUSH, identity: ['refs/heads/main', 'a'.repeat(64), 'c'.repeat(64)] }],
  ];
  for (const [name, repoKey, sequence, request] of variants) {
    test(`${name} changes the key`, () => assert.notEqual(idempotencyKey(repoKey, sequence, request), idempotencyKey('repo:1', 5, PUSH)));
  }
});

describe('accountLogin', () => {
  const cases: Array<[string, string, string]> = [
    ['plain name', 'Ada Editor', 'Ada Editor'],
    ['surrounding spaces', '  ada  ', 'ada'],
    ['empty', '', 'unknown'],
    ['spaces only', '   ', 'unknown'],
    ['longer than 100 characters', 'x'.repeat(150), 'x'.repeat(100)],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.equal(accountLogin(input), expected));
  }
});
