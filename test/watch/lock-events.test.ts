import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LockEntry } from '../../src/watch/dits-format.js';
import { diffLocks, lockId, nextExpiryMs, secondsToIso } from '../../src/watch/lock-events.js';
import type { LockTable, TrackedLock } from '../../src/watch/lock-events.js';

const T0 = 1_767_322_800; // 2026-01-02T03:00:00Z in Unix seconds
const HOUR = 3600;
const NOW_MS = (T0 + HOUR) * 1000;

function entry(owner: string, acquiredAt = T0, expiresAt = T0 + 8 * HOUR, path = 'edit.prproj', reason: string | null = 'cutting'): LockEntry {
  return { path, owner, acquiredAt, expiresAt, reason };
}

function tracked(lock: LockEntry, expiredNotified = false): TrackedLock {
  return { ...lock, expiredNotified };
}

function table(...locks: TrackedLock[]): LockTable {
  return new Map(locks.map((lock) => [lock.path, lock]));
}

function current(...locks: LockEntry[]): Map<string, LockEntry> {
  return new Map(locks.map((lock) => [lock.path, lock]));
}

function payload(lock: LockEntry): Record<string, unknown> {
  return {
    id: lockId(lock),
    path: lock.path,
    owner: { login: lock.owner },
    locked_at: secondsToIso(lock.acquiredAt),
    expires_at: secondsToIso(lock.expiresAt),
    reason: lock.reason,
  };
}

describe('diffLocks', () => {
  const alice = entry('alice');
  const bob = entry('bob', T0 + 600);

  const cases: Array<{ name: string; before: LockTable; after: Map<string, LockEntry>; now?: number; events: unknown[] }> = [
    {
      name: 'new key is acquired',
      before: table(),
      after: current(alice),
      events: [{ event: 'lock.acquired', lock: payload(alice), sender: { login: 'alice', type: 'user' } }],
    },
    {
      name: 'removed key is released',
      before: table(tracked(alice)),
      after: current(),
      events: [{ event: 'lock.released', lock: payload(alice), sender: { login: 'alice', type: 'user' } }],
    },
    {
      name: 'removed expired key is still released',
      before: table(tracked(entry('alice', T0 - 9 * HOUR, T0 - HOUR), true)),
      after: current(),
      events: [{ event: 'lock.released', lock: payload(entry('alice', T0 - 9 * HOUR, T0 - HOUR)), sender: { login: 'alice', type: 'user' } }],
    },
    {
      name: 'another owner breaks and acquires',
      before: table(tracked(alice)),
      after: current(bob),
      events: [
        { event: 'lock.broken', lock: payload(alice), broken_by: { login: 'bob' }, sender: { login: 'bob', type: 'user' } },
        { event: 'lock.acquired', lock: payload(bob), sender: { login: 'bob', type: 'user' } },
      ],
    },
    {
      name: 'same owner locking again releases and acquires',
      before: table(tracked(alice)),
      after: current(entry('alice', T0 + 60)),
      events: [
        { event: 'lock.released', lock: payload(alice), sender: { login: 'alice', type: 'user' } },
        { event: 'lock.acquired', lock: payload(entry('alice', T0 + 60)), sender: { login: 'alice', type: 'user' } },
      ],
    },
    { name: 'renewal gives no event', before: table(tracked(alice)), after: current(entry('alice', T0, T0 + 20 * HOUR)), events: [] },
    { name: 'new reason gives no event', before: table(tracked(alice)), after: current(entry('alice', T0, T0 + 8 * HOUR, 'edit.prproj', null)), events: [] },
    {
      name: 'passed expiry is reported',
      before: table(tracked(alice)),
      after: current(alice),
      now: (T0 + 8 * HOUR) * 1000,
      events: [{ event: 'lock.expired', lock: payload(alice), sender: { login: 'alice', type: 'user' } }],
    },
    { name: 'reported expiry is not repeated', before: table(tracked(alice, true)), after: current(alice), now: (T0 + 9 * HOUR) * 1000, events: [] },
    {
      name: 'lock already expired when first seen',
      before: table(),
      after: current(entry('alice', T0 - 9 * HOUR, T0 - HOUR)),
      events: [
        { event: 'lock.acquired', lock: payload(entry('alice', T0 - 9 * HOUR, T0 - HOUR)), sender: { login: 'alice', type: 'user' } },
        { event: 'lock.expired', lock: payload(entry('alice', T0 - 9 * HOUR, T0 - HOUR)), sender: { login: 'alice', type: 'user' } },
      ],
    },
  ];

  for (const testCase of cases) {
    test(testCase.name, () => {
      const diff = diffLocks(testCase.before, testCase.after, testCase.now ?? NOW_MS);
      assert.deepEqual(diff.events.map((e) => e.body), testCase.events);
    });
  }

  test('expiry is marked in the new table', () => {
    const diff = diffLocks(table(tracked(alice)), current(alice), (T0 + 8 * HOUR) * 1000);
    assert.equal(diff.locks.get('edit.prproj')?.expiredNotified, true);
  });

  test('renewal arms the expiry again', () => {
    const diff = diffLocks(table(tracked(alice, true)), current(entry('alice', T0, T0 + 20 * HOUR)), NOW_MS);
    assert.equal(diff.locks.get('edit.prproj')?.expiredNotified, false);
  });

  test('paths come out sorted', () => {
    const diff = diffLocks(table(), current(entry('zed', T0, T0 + HOUR, 'z.psd'), entry('amy', T0, T0 + HOUR, 'a.psd')), NOW_MS - HOUR * 1000);
    assert.deepEqual(diff.events.map((e) => (e.body.lock as { path: string }).path), ['a.psd', 'z.psd']);
  });
});

describe('lockId', () => {
  test('same lock gives the same id', () => assert.equal(lockId(entry('alice')), lockId({ ...entry('alice'), reason: null, expiresAt: T0 + 1 })));
  test('owner changes the id', () => assert.notEqual(lockId(entry('alice')), lockId(entry('bob'))));
  test('acquisition time changes the id', () => assert.notEqual(lockId(entry('alice')), lockId(entry('alice', T0 + 1))));
  test('id is 32 hex characters', () => assert.match(lockId(entry('alice')), /^[0-9a-f]{32}$/));
});

describe('nextExpiryMs', () => {
  test('earliest unreported expiry', () => {
    const locks = table(tracked(entry('a', T0, T0 + 50, 'a')), tracked(entry('b', T0, T0 + 10, 'b'), true), tracked(entry('c', T0, T0 + 30, 'c')));
    assert.equal(nextExpiryMs(locks), (T0 + 30) * 1000);
  });
  test('none left', () => assert.equal(nextExpiryMs(table(tracked(entry('a'), true))), null));
});

describe('secondsToIso', () => {
  test('whole seconds', () => assert.equal(secondsToIso(T0), '2026-01-02T03:00:00.000Z'));
  test('fractional seconds', () => assert.equal(secondsToIso(T0 + 0.25), '2026-01-02T03:00:00.250Z'));
});
