import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadSnapshot, saveSnapshot, snapshotFromJson, snapshotToJson, statePathsFor } from '../../src/watch/snapshot.js';
import type { Snapshot } from '../../src/watch/snapshot.js';

const ID = 'ab'.repeat(32);

const SNAPSHOT: Snapshot = {
  baseline: '0123456789abcdef',
  sequence: 7,
  refs: { heads: new Map([['main', ID], ['feature/x', ID]]), tags: new Map([['v1', ID]]) },
  locks: new Map([['edit.prproj', { path: 'edit.prproj', owner: 'alice', acquiredAt: 10, expiresAt: 20, reason: null, expiredNotified: true }]]),
};

describe('snapshot file', () => {
  test('round trip', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dits-snapshot-'));
    try {
      const path = join(folder, 'state.json');
      await saveSnapshot(path, SNAPSHOT);
      assert.deepEqual(await loadSnapshot(path), SNAPSHOT);
      assert.deepEqual(readdirSync(folder), ['state.json']);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('path named __proto__ survives', () => {
    const tricky: Snapshot = {
      baseline: '',
      sequence: 1,
      refs: { heads: new Map([['__proto__', ID]]), tags: new Map() },
      locks: new Map([['__proto__', { path: '__proto__', owner: 'a', acquiredAt: 1, expiresAt: 2, reason: null, expiredNotified: false }]]),
    };
    assert.deepEqual(snapshotFromJson(snapshotToJson(tricky)), tricky);
  });

  test('file without a baseline id', () => {
    const earlier = snapshotFromJson(JSON.stringify({ version: 1, sequence: 3, refs: { heads: {}, tags: {} }, locks: {} }));
    assert.equal(earlier.baseline, '');
    assert.equal(earlier.sequence, 3);
    assert.equal(JSON.parse(snapshotToJson(earlier)).baseline, undefined, 'written back without one');
  });

  test('folder in its place is named', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dits-snapshot-'));
    try {
      await assert.rejects(loadSnapshot(folder), /cannot read the watcher's state file .*dits-snapshot-.* \(is not a regular file\); make it a file/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('missing file loads as null', async () => {
    assert.equal(await loadSnapshot(join(tmpdir(), 'dits-no-such-state.json')), null);
  });

  test('invalid file names the file and the fix', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dits-snapshot-'));
    try {
      const path = join(folder, 'state.json');
      writeFileSync(path, '{"version":1,"sequence":-1}');
      await assert.rejects(loadSnapshot(path), (error: Error) => {
        assert.match(error.message, /state\.json: sequence must be a non-negative integer, got -1/);
        assert.match(error.message, /Delete the file/);
        return true;
      });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['not JSON', '{', /not valid JSON/],
    ['wrong version', '{"version":2}', /version must be 1, got 2/],
    ['bad baseline id', JSON.stringify({ version: 1, baseline: 'XYZ', sequence: 0, refs: { heads: {}, tags: {} }, locks: {} }), /baseline must be 16 lowercase hex characters, got "XYZ"/],
    ['bad ref id', JSON.stringify({ version: 1, sequence: 0, refs: { heads: { main: 'xyz' }, tags: {} }, locks: {} }), /refs\.heads\.main must be a 64-character hex commit id/],
    ['bad lock', JSON.stringify({ version: 1, sequence: 0, refs: { heads: {}, tags: {} }, locks: { a: { owner: 'x' } } }), /locks\.a must have/],
  ];
  for (const [name, text, message] of invalid) {
    test(`rejects ${name}`, () => assert.throws(() => snapshotFromJson(text), message));
  }
});

describe('statePathsFor', () => {
  test('default is inside .dits', () => {
    assert.deepEqual(statePathsFor('/work/project'), {
      snapshot: '/work/project/.dits/webhooks-watch.json',
      outbox: '/work/project/.dits/webhooks-outbox.jsonl',
    });
  });

  test('state folder keeps working copies apart', () => {
    const first = statePathsFor('/a/project', '/state');
    const second = statePathsFor('/b/project', '/state');
    assert.match(first.snapshot, /^\/state\/project-[0-9a-f]{12}\.json$/);
    assert.notEqual(first.snapshot, second.snapshot);
    assert.equal(first.outbox, first.snapshot.replace(/\.json$/, '.outbox.jsonl'));
  });
});
