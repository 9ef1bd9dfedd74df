import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  hashToHex,
  isSendableRefName,
  MAX_REF_DEPTH,
  objectPath,
  parseCommit,
  parseLocks,
  parseManifest,
  parseRefContent,
  readRef,
  readTextIfExists,
  REF_FILE_MAX_BYTES,
  sendableRepoPath,
  UnusableFileError,
} from '../../src/watch/dits-format.js';
import { createObjectReader } from '../../src/watch/object-store.js';
import { emptySnapshot } from '../../src/watch/snapshot.js';
import type { Snapshot } from '../../src/watch/snapshot.js';
import { MissingDitsFolderError, readWorkingCopy } from '../../src/watch/working-copy-reader.js';
import { DitsRepoFixture, hexToHash } from './dits-fixture.js';
import { secondsToIso } from '../../src/watch/lock-events.js';

const ID_A = 'a'.repeat(64);
const ID_B = '0123456789abcdef'.repeat(4);
const FAST_RETRY = { attempts: 3, initialDelayMs: 1 };

describe('hashToHex', () => {
  const cases: Array<[string, unknown, string | null]> = [
    ['32 bytes', hexToHash(ID_B), ID_B],
    ['all zero', new Array(32).fill(0), '0'.repeat(64)],
    ['31 bytes', new Array(31).fill(1), null],
    ['byte above 255', [...new Array(31).fill(1), 256], null],
    ['fractional byte', [...new Array(31).fill(1), 1.5], null],
    ['hex string', ID_B, null],
    ['null', null, null],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.equal(hashToHex(input), expected));
  }
});

describe('parseRefContent', () => {
  const cases: Array<[string, string, string | null]> = [
    ['id and newline', `${ID_B}\n`, ID_B],
    ['id without newline', ID_B, ID_B],
    ['id and CRLF', `${ID_B}\r\n`, ID_B],
    ['empty file', '', null],
    ['half written', ID_B.slice(0, 32), null],
    ['63 characters', ID_B.slice(0, 63), null],
    ['65 characters', `${ID_B}0`, null],
    ['uppercase hex', ID_B.toUpperCase(), null],
    ['symbolic ref', 'ref: refs/heads/main\n', null],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.equal(parseRefContent(input), expected));
  }
});

describe('isSendableRefName', () => {
  const cases: Array<[string, string, boolean]> = [
    ['plain name', 'main', true],
    ['nested name', 'feature/x', true],
    ['space and accent', 'my branch/été', true],
    ['dots inside a part', 'v1..2/.hidden', true],
    ['tab', 'bad\tname', false],
    ['newline', 'bad\n', false],
    ['DEL', 'bad\u007f', false],
    ['empty', '', false],
    ['empty part', 'a//b', false],
    ['dot part', 'a/./b', false],
    ['dot-dot part', '..', false],
    ['slash at the end', 'a/', false],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.equal(isSendableRefName(input), expected));
  }
});

describe('parseCommit', () => {
  const base = {
    hash: hexToHash(ID_A),
    parent: hexToHash(ID_B),
    manifest: hexToHash(ID_B),
    message: 'Add footage',
    author: { name: 'Ada', email: 'ada@example.com' },
    committer: { name: 'Bob', email: 'bob@example.com' },
    timestamp: '2025-12-14T22:21:30.704512Z',
  };

  test('commit with one parent', () => {
    assert.deepEqual(parseCommit(ID_A, JSON.stringify(base, null, 2)), {
      id: ID_A,
      parents: [ID_B],
      manifest: ID_B,
      message: 'Add footage',
      author: { name: 'Ada', email: 'ada@example.com' },
      committer: { name: 'Bob', email: 'bob@example.com' },
      timestamp: '2025-12-14T22:21:30.704512Z',
    });
  });

  test('root commit has no parents', () => {
    assert.deepEqual(parseCommit(ID_A, JSON.stringify({ ...base, parent: null }))?.parents, []);
  });

  test('merge parents follow the first parent', () => {
    const merge = { ...base, parents: [hexToHash(ID_A)] };
    assert.deepEqual(parseCommit(ID_A, JSON.stringify(merge))?.parents, [ID_B, ID_A]);
  });

  const invalid: Array<[string, string]> = [
    ['truncated JSON', JSON.stringify(base).slice(0, 40)],
    ['empty text', ''],
    ['manifest as hex string', JSON.stringify({ ...base, manifest: ID_B })],
    ['parent of 31 bytes', JSON.stringify({ ...base, parent: new Array(31).fill(0) })],
    ['parents not an array', JSON.stringify({ ...base, parents: 'x' })],
  ];
  for (const [name, text] of invalid) {
    test(`${name} is rejected`, () => assert.equal(parseCommit(ID_A, text), null));
  }
});

describe('parseManifest', () => {
  test('maps paths to content hashes', () => {
    const text = JSON.stringify({ entries: { 'a.mp4': { path: 'a.mp4', content_hash: [1, 2] }, 'b.wav': { path: 'b.wav', content_hash: 'ff' } } });
    assert.deepEqual([...parseManifest(text)!], [['a.mp4', '[1,2]'], ['b.wav', '"ff"']]);
  });

  test('truncated manifest is rejected', () => {
    assert.equal(parseManifest('{"entries": {"a.mp4": {'), null);
  });
});

describe('parseLocks', () => {
  const entry = { path: 'edit.prproj', owner: 'alice', acquired_at: 1767322800, expires_at: 1767351600, reason: null };

  test('valid file', () => {
    const parsed = parseLocks(JSON.stringify({ 'edit.prproj': entry }));
    assert.deepEqual(parsed?.malformed, []);
    assert.deepEqual(parsed?.locks.get('edit.prproj'), { path: 'edit.prproj', owner: 'alice', acquiredAt: 1767322800, expiresAt: 1767351600, reason: null });
  });

  const notReady: Array<[string, string]> = [
    ['empty file', ''],
    ['truncated file', JSON.stringify({ 'edit.prproj': entry }).slice(0, 30)],
    ['array instead of object', '[]'],
    ['null', 'null'],
  ];
  for (const [name, text] of notReady) {
    test(`${name} is not ready`, () => assert.equal(parseLocks(text), null));
  }

  test('malformed entry is listed apart', () => {
    const parsed = parseLocks(
      JSON.stringify({
        'edit.prproj': entry,
        'bad.psd': { owner: 7 },
        'far.psd': { ...entry, expires_at: 1e300 },
        'year-11476.psd': { ...entry, expires_at: 300_000_000_000 },
        'year-minus-1.psd': { ...entry, acquired_at: -62_198_755_200 },
        'year-9999.psd': { ...entry, expires_at: 253_402_300_799 },
      }),
    );
    assert.deepEqual([...parsed!.locks.keys()], ['edit.prproj', 'year-9999.psd']);
    assert.deepEqual(parsed!.malformed, ['bad.psd', 'far.psd', 'year-11476.psd', 'year-minus-1.psd']);
    assert.equal(secondsToIso(parsed!.locks.get('year-9999.psd')!.expiresAt), '9999-12-31T23:59:59.000Z');
  });

  test('keys are kept as Dits wrote them', () => {
    // Dits records the path its user typed, so a key need not be a clean repository-relative path.
    const keys = ['scenes/intro.prproj', './shots/a.mov', '/home/alice/film/a.mov', 'shots/', 'ma\u202eb.psd'];
    const parsed = parseLocks(JSON.stringify(Object.fromEntries(keys.map((key) => [key, entry]))));
    assert.deepEqual([...parsed!.locks.keys()], keys);
    assert.deepEqual(parsed!.malformed, []);
    // Characters the service refuses in a lock path are replaced when the lock is sent.
    assert.equal(sendableRepoPath('ma\u202eb\u0001\u200f.psd'), 'ma\ufffdb\ufffd\ufffd.psd');
  });
});

describe('readWorkingCopy', () => {
  function withFixture(run: (fixture: DitsRepoFixture) => Promise<void>): () => Promise<void> {
    return async () => {
      const fixture = DitsRepoFixture.create();
      try {
        await run(fixture);
      } finally {
        fixture.cleanup();
      }
    };
  }

  function snapshotWith(heads: Record<string, string>, locks: Snapshot['locks'] = new Map()): Snapshot {
    return { ...emptySnapshot(), refs: { heads: new Map(Object.entries(heads)), tags: new Map() }, locks };
  }

  test('reads nested branches and tags', withFixture(async (fixture) => {
    fixture.setRef('heads/main', ID_A);
    fixture.setRef('heads/feature/x', ID_B);
    fixture.setRef('tags/v1.0', ID_A);
    const state = await readWorkingCopy(fixture.ditsDir, emptySnapshot(), FAST_RETRY);
    assert.deepEqual([...state.refs.heads], [['feature/x', ID_B], ['main', ID_A]]);
    assert.deepEqual([...state.refs.tags], [['v1.0', ID_A]]);
    assert.deepEqual(state.unready, []);
  }));

  test('half-written ref keeps its previous value', withFixture(async (fixture) => {
    fixture.writeHalf('refs/heads/main', `${ID_B}\n`);
    const state = await readWorkingCopy(fixture.ditsDir, snapshotWith({ main: ID_A }), FAST_RETRY);
    assert.equal(state.refs.heads.get('main'), ID_A);
    assert.deepEqual(state.unready, ['refs/heads/main']);
  }));

  test('empty new ref is not reported yet', withFixture(async (fixture) => {
    fixture.writeHalf('refs/heads/feature', '', 0);
    const state = await readWorkingCopy(fixture.ditsDir, emptySnapshot(), FAST_RETRY);
    assert.equal(state.refs.heads.has('feature'), false);
    assert.deepEqual(state.unready, ['refs/heads/feature']);
  }));

  test('ref completed during the retries is read', withFixture(async (fixture) => {
    fixture.writeHalf('refs/heads/main', `${ID_B}\n`);
    const completion = setTimeout(() => fixture.setRef('heads/main', ID_B), 15);
    const state = await readWorkingCopy(fixture.ditsDir, snapshotWith({ main: ID_A }), { attempts: 8, initialDelayMs: 5 });
    clearTimeout(completion);
    assert.equal(state.refs.heads.get('main'), ID_B);
    assert.deepEqual(state.unready, []);
  }));

  test('rejected ref names are skipped', withFixture(async (fixture) => {
    fixture.setRef('heads/main', ID_A);
    fixture.setRef('heads/bad\tname', ID_A);
    fixture.setRef('tags/v\u00011', ID_B);
    fixture.setRef('heads/my branch', ID_B);
    const state = await readWorkingCopy(fixture.ditsDir, emptySnapshot(), FAST_RETRY);
    assert.deepEqual([...state.refs.heads.keys()], ['main', 'my branch']);
    assert.deepEqual([...state.refs.tags.keys()], []);
    assert.deepEqual(state.skippedRefs, [
      { ref: 'refs/heads/bad\tname', reason: 'name' },
      { ref: 'refs/tags/v\u00011', reason: 'name' },
    ]);
    assert.deepEqual(state.unready, []);
  }));

  test('unusable ref files are skipped', withFixture(async (fixture) => {
    fixture.setRef('heads/main', ID_A);
    const heads = join(fixture.ditsDir, 'refs', 'heads');
    writeFileSync(Buffer.concat([Buffer.from(heads + '/bad'), Buffer.from([0xff, 0xfe])]), ID_A + '\n');
    symlinkSync(join(heads, 'main'), join(heads, 'linked'));
    const deep = Array.from({ length: MAX_REF_DEPTH + 1 }, (_, i) => `d${i}`);
    mkdirSync(join(heads, ...deep), { recursive: true });
    writeFileSync(join(heads, ...deep, 'tip'), ID_B + '\n');
    mkdirSync(join(heads, ...deep.slice(0, MAX_REF_DEPTH - 1)), { recursive: true });
    writeFileSync(join(heads, ...deep.slice(0, MAX_REF_DEPTH - 1), 'deepest'), ID_B + '\n');

    const state = await readWorkingCopy(fixture.ditsDir, emptySnapshot(), FAST_RETRY);
    const deepestName = [...deep.slice(0, MAX_REF_DEPTH - 1), 'deepest'].join('/');
    assert.deepEqual([...state.refs.heads.keys()].sort(), [deepestName, 'main'].sort(), 'a ref 32 folders down is still read');
    assert.deepEqual(state.skippedRefs, [
      { ref: 'refs/heads/bad\ufffd\ufffd', reason: 'not_utf8' },
      { ref: `refs/heads/${deep.slice(0, MAX_REF_DEPTH + 1).join('/')}`, reason: 'too_deep' },
      { ref: 'refs/heads/linked', reason: 'symlink' },
    ]);
  }));

  test('files that cannot be opened are unready', withFixture(async (fixture) => {
    // open(2) of a Unix socket fails with ENXIO, in place of a file this user may not open (EACCES), which root never gets.
    const heads = join(fixture.ditsDir, 'refs', 'heads');
    mkdirSync(heads, { recursive: true });
    const servers = [createServer(), createServer()];
    const sockets = [join(heads, 'socket'), join(fixture.ditsDir, 'locks.json')];
    rmSync(sockets[1], { force: true });
    await Promise.all(servers.map((server, i) => new Promise<void>((resolve) => server.listen(sockets[i], resolve))));
    try {
      assert.equal(readRef(fixture.ditsDir, 'heads', 'socket'), 'unready');
      await assert.rejects(readTextIfExists(sockets[1]), (error: unknown) => error instanceof UnusableFileError && /could not be opened: ENXIO/.test(error.message));
    } finally {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  }));

  test('FIFOs and oversized files are not read', withFixture(async (fixture) => {
    fixture.setRef('heads/main', ID_A);
    const heads = join(fixture.ditsDir, 'refs', 'heads');
    // Opening a FIFO for reading would wait for a writer that never comes, so each check below would hang instead.
    assert.equal(spawnSync('mkfifo', [join(heads, 'pipe')]).status, 0);
    assert.equal(readRef(fixture.ditsDir, 'heads', 'pipe'), 'unready');
    writeFileSync(join(heads, 'huge'), ID_B + '\n' + ' '.repeat(REF_FILE_MAX_BYTES));
    assert.equal(readRef(fixture.ditsDir, 'heads', 'huge'), 'unready');
    assert.equal(readRef(fixture.ditsDir, 'heads', 'main'), ID_A);

    const locks = join(fixture.ditsDir, 'locks.json');
    rmSync(locks, { force: true });
    assert.equal(spawnSync('mkfifo', [locks]).status, 0);
    await assert.rejects(readTextIfExists(locks), (error: unknown) => error instanceof UnusableFileError && /is not a regular file/.test(error.message));
    const previous = snapshotWith({ main: ID_A }, new Map([['a.psd', { path: 'a.psd', owner: 'ada', acquiredAt: 1, expiresAt: 2, reason: null }]]));
    const state = await readWorkingCopy(fixture.ditsDir, previous, FAST_RETRY);
    // A FIFO under refs is not listed as a ref at all; the oversized ref and the FIFO locks.json read as unready.
    assert.deepEqual([...state.unready].sort(), ['locks.json', 'refs/heads/huge']);
    assert.deepEqual([...state.locks.keys()], ['a.psd'], 'the previous locks stay');
    assert.equal(state.refs.heads.get('main'), ID_A);

    const commit = fixture.writeCommit({ message: 'Piped', files: { 'a.txt': 'A' } });
    const path = objectPath(fixture.ditsDir, 'commits', commit);
    renameSync(path, `${path}.moved`);
    assert.equal(spawnSync('mkfifo', [path]).status, 0);
    assert.equal(await createObjectReader(fixture.ditsDir).readCommit(commit), null, 'a FIFO in place of an object reads as missing');
  }));

  test('deleted ref file is absent', withFixture(async (fixture) => {
    const state = await readWorkingCopy(fixture.ditsDir, snapshotWith({ main: ID_A }), FAST_RETRY);
    assert.equal(state.refs.heads.size, 0);
  }));

  test('half-written locks.json keeps previous locks', withFixture(async (fixture) => {
    const previous = new Map([['a.psd', { path: 'a.psd', owner: 'alice', acquiredAt: 10, expiresAt: 20, reason: null, expiredNotified: false }]]);
    fixture.writeHalf('locks.json', JSON.stringify({ 'b.psd': { owner: 'bob', acquired_at: 1, expires_at: 2, reason: null } }));
    const state = await readWorkingCopy(fixture.ditsDir, snapshotWith({}, previous), FAST_RETRY);
    assert.deepEqual([...state.locks.keys()], ['a.psd']);
    assert.equal(state.locks.get('a.psd')?.owner, 'alice');
    assert.deepEqual(state.unready, ['locks.json']);
  }));

  test('malformed lock entry keeps its previous value', withFixture(async (fixture) => {
    const previous = new Map([['a.psd', { path: 'a.psd', owner: 'alice', acquiredAt: 10, expiresAt: 20, reason: null, expiredNotified: true }]]);
    writeFileSync(join(fixture.ditsDir, 'locks.json'), JSON.stringify({ 'a.psd': { owner: null } }));
    const state = await readWorkingCopy(fixture.ditsDir, snapshotWith({}, previous), FAST_RETRY);
    assert.deepEqual(state.locks.get('a.psd'), { path: 'a.psd', owner: 'alice', acquiredAt: 10, expiresAt: 20, reason: null });
    assert.deepEqual(state.malformedLocks, ['a.psd']);
  }));

  test('missing locks.json keeps held locks until accepted', withFixture(async (fixture) => {
    const previous = new Map([['a.psd', { path: 'a.psd', owner: 'alice', acquiredAt: 10, expiresAt: 20, reason: null, expiredNotified: false }]]);
    const whileMissing = await readWorkingCopy(fixture.ditsDir, snapshotWith({}, previous), FAST_RETRY);
    assert.deepEqual([...whileMissing.locks.keys()], ['a.psd']);
    assert.deepEqual(whileMissing.unready, ['locks.json']);
    assert.equal(whileMissing.locksFileMissing, true);

    const accepted = await readWorkingCopy(fixture.ditsDir, snapshotWith({}, previous), FAST_RETRY, true);
    assert.equal(accepted.locks.size, 0);
    assert.deepEqual(accepted.unready, []);
    assert.equal(accepted.locksFileMissing, true);
  }));

  test('missing locks.json without locks is empty', withFixture(async (fixture) => {
    const state = await readWorkingCopy(fixture.ditsDir, snapshotWith({}), FAST_RETRY);
    assert.equal(state.locks.size, 0);
    assert.deepEqual(state.unready, []);
  }));

  test('missing refs or HEAD pauses the scan', withFixture(async (fixture) => {
    rmSync(join(fixture.ditsDir, 'refs'), { recursive: true });
    await assert.rejects(readWorkingCopy(fixture.ditsDir, snapshotWith({ main: ID_A }), FAST_RETRY), (error: unknown) => {
      assert.ok(error instanceof MissingDitsFolderError);
      assert.equal(error.part, 'refs');
      assert.match(error.message, /has no refs, so it is incomplete/);
      return true;
    });
    mkdirSync(join(fixture.ditsDir, 'refs', 'heads'), { recursive: true });
    rmSync(join(fixture.ditsDir, 'HEAD'));
    await assert.rejects(readWorkingCopy(fixture.ditsDir, snapshotWith({ main: ID_A }), FAST_RETRY), /has no HEAD/);
  }));

  test('missing .dits folder raises instead of reporting deletions', withFixture(async (fixture) => {
    rmSync(fixture.ditsDir, { recursive: true });
    mkdirSync(fixture.dir, { recursive: true });
    await assert.rejects(readWorkingCopy(fixture.ditsDir, snapshotWith({ main: ID_A }), FAST_RETRY), MissingDitsFolderError);
  }));
});
