import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { resolveWatchOptions, validateWatchOptions, WatchOptionsError } from '../../src/watch/watch-options.js';
import type { WatchOptions } from '../../src/watch/watch-options.js';

const VALID: WatchOptions = { dirs: ['/work/project'], serverUrl: 'http://127.0.0.1:8080', token: 'tok', repo: 5, logger: pino({ level: 'silent' }) };

describe('validateWatchOptions', () => {
  const cases: Array<[string, Partial<WatchOptions>, string, RegExp]> = [
    ['no folders', { dirs: [] }, 'dirs', /at least one working copy/],
    ['relative server URL', { serverUrl: 'localhost:8080' }, 'serverUrl', /absolute http or https URL/],
    ['ftp server URL', { serverUrl: 'ftp://127.0.0.1' }, 'serverUrl', /got "ftp:\/\/127\.0\.0\.1"/],
    ['empty token', { token: '' }, 'token', /DITS_WEBHOOKS_TOKEN/],
    ['neither repo nor owner', { repo: undefined }, 'repo', /got neither/],
    ['both repo and owner', { owner: 'studio' }, 'repo', /got both/],
    ['repo id zero', { repo: 0 }, 'repo', /positive integer/],
    ['repo id for two folders', { dirs: ['/a', '/b'] }, 'repo', /cannot serve 2 working copies/],
    ['owner with a slash', { repo: undefined, owner: 'a/b' }, 'owner', /got "a\/b"/],
    ['create without owner', { create: true }, 'create', /needs owner/],
    ['poll interval too short', { pollIntervalMs: 1 }, 'pollIntervalMs', /from 10 to 3600000 milliseconds, got 1/],
    ['blank sender', { sender: ' ' }, 'sender', /non-empty login/],
    ['same folder twice', { repo: undefined, owner: 'studio', dirs: ['/a/film', '/a/film/'] }, 'dirs[1]', /got "\/a\/film\/" again \(also dirs\[0\]\)/],
    ['same folder name with owner', { repo: undefined, owner: 'studio', dirs: ['/a/film', '/b/film'] }, 'dirs[1]', /would send both to studio\/film/],
    ['owner of 101 characters', { repo: undefined, owner: 'o'.repeat(101) }, 'owner', /1 to 100 letters/],
    ['folder name with a space', { repo: undefined, owner: 'me', create: true, dirs: ['/films/My Film'] }, 'dirs[0]', /got "My Film" from "\/films\/My Film"; rename the folder, or watch it alone with --repo/],
    ['folder name of 101 characters', { repo: undefined, owner: 'me', dirs: ['/films/' + 'f'.repeat(101)] }, 'dirs[0]', /valid repository name \(1 to 100 letters/],
    ['folder name starting with a dot', { repo: undefined, owner: 'me', dirs: ['/films/.film'] }, 'dirs[0]', /starting with a letter or digit/],
  ];
  for (const [name, change, field, message] of cases) {
    test(name, () => {
      const errors = validateWatchOptions({ ...VALID, ...change });
      const error = errors.find((e) => e.field === field);
      assert.ok(error, `expected an error for ${field}, got ${JSON.stringify(errors)}`);
      assert.match(error.message, message);
    });
  }

  test('valid options pass', () => assert.deepEqual(validateWatchOptions(VALID), []));
  test('folder name with a space passes with repo', () => {
    assert.deepEqual(validateWatchOptions({ ...VALID, dirs: ['/films/My Film'] }), []);
  });
  test('folder name of 100 characters passes', () => {
    assert.deepEqual(validateWatchOptions({ ...VALID, repo: undefined, owner: 'me', dirs: ['/films/' + 'f'.repeat(100)] }), []);
  });
  test('owner mapping for two folders passes', () => {
    assert.deepEqual(validateWatchOptions({ ...VALID, repo: undefined, owner: 'studio', create: true, dirs: ['/a', '/b'] }), []);
  });
});

describe('resolveWatchOptions', () => {
  test('applies defaults', () => {
    const resolved = resolveWatchOptions(VALID);
    assert.equal(resolved.pollIntervalMs, 500);
    assert.equal(resolved.maxCommitsListed, 2048);
    assert.equal(resolved.maxCommitsRead, 100_000);
    assert.equal(resolved.backoff.initialMs, 1000);
    assert.equal(resolved.backoff.maxMs, 60_000);
    assert.equal(resolved.sender, null);
    assert.equal(resolved.useFsWatch, true);
  });

  test('throws every problem at once', () => {
    assert.throws(
      () => resolveWatchOptions({ ...VALID, token: '', serverUrl: 'nope' }),
      (error: unknown) => error instanceof WatchOptionsError && error.details.length === 2 && /serverUrl: .*; token: /.test(error.message),
    );
  });
});
