import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/cli/errors.js';
import { DEFAULT_SERVER_URL, defaultConfigPath, parseConfig, resolveSettings, type SettingsFlags } from '../../src/cli/settings.js';

const HOME = '/home/tester';
const DEFAULT_FILE = '/home/tester/.config/dits-webhook/config.json';

function files(entries: Record<string, string>): (path: string) => string | null {
  return (path) => entries[path] ?? null;
}

describe('resolveSettings', () => {
  const cases: { name: string; flags: SettingsFlags; env: Record<string, string>; files: Record<string, string>; url: string; token: string | null }[] = [
    { name: 'defaults', flags: {}, env: {}, files: {}, url: DEFAULT_SERVER_URL, token: null },
    { name: 'config file', flags: {}, env: {}, files: { [DEFAULT_FILE]: '{"url":"http://file:1","token":"t-file"}' }, url: 'http://file:1', token: 't-file' },
    {
      name: 'environment over config file',
      flags: {},
      env: { DITS_WEBHOOKS_URL: 'http://env:2/', DITS_WEBHOOKS_TOKEN: 't-env' },
      files: { [DEFAULT_FILE]: '{"url":"http://file:1","token":"t-file"}' },
      url: 'http://env:2',
      token: 't-env',
    },
    {
      name: 'flags over environment',
      flags: { url: 'https://flag:3/prefix/', token: 't-flag' },
      env: { DITS_WEBHOOKS_URL: 'http://env:2', DITS_WEBHOOKS_TOKEN: 't-env' },
      files: {},
      url: 'https://flag:3/prefix',
      token: 't-flag',
    },
    { name: 'empty variables are unset', flags: {}, env: { DITS_WEBHOOKS_URL: '', DITS_WEBHOOKS_TOKEN: '' }, files: {}, url: DEFAULT_SERVER_URL, token: null },
    {
      name: 'sources mix per key',
      flags: { token: 't-flag' },
      env: {},
      files: { [DEFAULT_FILE]: '{"url":"http://file:1","token":"t-file"}' },
      url: 'http://file:1',
      token: 't-flag',
    },
    { name: '--config file', flags: { config: '/etc/dw.json' }, env: {}, files: { '/etc/dw.json': '{"token":"t-etc"}', [DEFAULT_FILE]: '{"token":"t-file"}' }, url: DEFAULT_SERVER_URL, token: 't-etc' },
    { name: 'XDG_CONFIG_HOME', flags: {}, env: { XDG_CONFIG_HOME: '/xdg' }, files: { '/xdg/dits-webhook/config.json': '{"token":"t-xdg"}' }, url: DEFAULT_SERVER_URL, token: 't-xdg' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const settings = resolveSettings({ flags: c.flags, env: c.env, homeDir: HOME, readFile: files(c.files) });
      assert.deepEqual({ url: settings.url, token: settings.token }, { url: c.url, token: c.token });
    });
  }

  test('--json flag', () => {
    assert.equal(resolveSettings({ flags: { json: true }, env: {}, homeDir: HOME, readFile: files({}) }).json, true);
    assert.equal(resolveSettings({ flags: {}, env: {}, homeDir: HOME, readFile: files({}) }).json, false);
  });

  const failures: { name: string; flags: SettingsFlags; env: Record<string, string>; files: Record<string, string>; message: RegExp }[] = [
    { name: 'bad flag URL', flags: { url: 'localhost:8080' }, env: {}, files: {}, message: /server URL "localhost:8080" from --url is not an absolute http or https URL/ },
    { name: 'bad env URL', flags: {}, env: { DITS_WEBHOOKS_URL: 'ftp://x' }, files: {}, message: /from DITS_WEBHOOKS_URL/ },
    { name: 'bad file URL', flags: {}, env: {}, files: { [DEFAULT_FILE]: '{"url":"nope"}' }, message: /from "url" in \/home\/tester\/\.config\/dits-webhook\/config\.json/ },
    { name: 'missing --config file', flags: { config: '/nowhere.json' }, env: {}, files: {}, message: /config file \/nowhere\.json does not exist/ },
    { name: 'URL with a query', flags: { url: 'http://127.0.0.1:1/?x=1' }, env: {}, files: {}, message: /from --url has a query or fragment, which the API paths cannot follow; remove the part from \? or #/ },
    { name: 'token with a newline', flags: {}, env: { DITS_WEBHOOKS_TOKEN: 'dwt_abc\n' }, files: {}, message: /the token from DITS_WEBHOOKS_TOKEN contains a space, line break or other control character; remove it/ },
    { name: 'token flag with a space', flags: { token: 'dwt_a b' }, env: {}, files: {}, message: /the token from --token contains/ },
    { name: 'empty token flag', flags: { token: '' }, env: { DITS_WEBHOOKS_TOKEN: 'dwt_env' }, files: {}, message: /--token is empty; pass the token, or leave the flag out/ },
  ];
  for (const c of failures) {
    test(`rejects ${c.name}`, () => {
      assert.throws(() => resolveSettings({ flags: c.flags, env: c.env, homeDir: HOME, readFile: files(c.files) }), (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, c.message);
        return true;
      });
    });
  }

  test('unreadable config file', () => {
    const readFile = () => {
      throw new Error('EACCES: permission denied');
    };
    assert.throws(() => resolveSettings({ flags: {}, env: {}, homeDir: HOME, readFile }), /cannot read config file .*permission denied; fix its permissions/);
  });
});

describe('parseConfig', () => {
  const rejected: [string, RegExp][] = [
    ['{', /is not valid JSON/],
    ['[]', /must contain a JSON object/],
    ['{"url": 8080}', /"url" must be a string, got number/],
    ['{"tokn": "x"}', /unknown key "tokn"; the keys are url and token/],
    ['{"url": "http://a", "url": "http://b"}', /config file c\.json sets key "url" twice; keep one/],
  ];
  for (const [text, message] of rejected) {
    test(`rejects ${text}`, () => assert.throws(() => parseConfig(text, 'c.json'), message));
  }

  test('accepts url and token', () => {
    assert.deepEqual(parseConfig('{"url":"http://a","token":"b"}', 'c.json'), { url: 'http://a', token: 'b' });
  });

  test('accepts a byte order mark', () => {
    assert.deepEqual(parseConfig('\ufeff{"token":"b"}', 'c.json'), { token: 'b' });
  });
});

test('defaultConfigPath', () => {
  assert.equal(defaultConfigPath({}, HOME), DEFAULT_FILE);
  assert.equal(defaultConfigPath({ XDG_CONFIG_HOME: '/xdg' }, HOME), '/xdg/dits-webhook/config.json');
});
