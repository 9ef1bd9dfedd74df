import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, loadConfig, unknownEnvVariables } from '../../src/config.js';

function errorsOf(overrides: Record<string, unknown>): { field: string; message: string }[] {
  try {
    loadConfig({ overrides, env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.errors;
  }
  return [];
}

test('lease must outlive headers and body deadlines', () => {
  const [problem] = errorsOf({ deliveryTimeoutMs: 3000, leaseMs: 4100 });
  assert.equal(problem.field, 'leaseMs');
  assert.match(problem.message, /^leaseMs 4100 \(leaseMs\) must exceed deliveryTimeoutMs 3000 \(deliveryTimeoutMs\) \+ 4000 = 7000/);
  assert.match(problem.message, /raise leaseMs \(DITS_WEBHOOKS_LEASE_MS\) above 7000 or lower deliveryTimeoutMs$/);
  assert.deepEqual(errorsOf({ deliveryTimeoutMs: 3000, leaseMs: 7001 }), []);
});

test('data folder with a leading tilde', () => {
  for (const dataDir of ['~', '~/webhooks']) {
    const [problem] = errorsOf({ dataDir });
    assert.equal(problem.field, 'dataDir');
    assert.match(problem.message, /and ~ is not expanded here, so the store would go to a folder named ~; write the full path$/);
  }
  const [fromEnv] = (() => {
    try {
      loadConfig({ env: { DITS_WEBHOOKS_DATA_DIR: '~/webhooks' } });
    } catch (err) {
      return (err as ConfigError).errors;
    }
    return [];
  })();
  assert.equal(fromEnv?.field, 'DITS_WEBHOOKS_DATA_DIR');
  assert.deepEqual(errorsOf({ dataDir: './~data' }), [], 'a tilde later in the path is an ordinary character');
});

test('lease error names the setting that was changed', () => {
  const build = () => loadConfig({ env: { DITS_WEBHOOKS_DELIVERY_TIMEOUT_MS: '56000' } });
  assert.throws(build, (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.errors.length, 1);
    assert.equal(err.errors[0].field, 'DITS_WEBHOOKS_DELIVERY_TIMEOUT_MS');
    assert.match(err.errors[0].message, /leaseMs 60000 \(the default\) must exceed deliveryTimeoutMs 56000 \(DITS_WEBHOOKS_DELIVERY_TIMEOUT_MS\)/);
    return true;
  });
});

/** Writes `text` to a temporary config file and loads the configuration from it. */
function loadFromFile(text: string): ReturnType<typeof loadConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'dits-config-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, text);
    return loadConfig({ configFile: file, env: {} });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Returns the errors that loading a config file with `text` raises. */
function fileErrors(text: string): { field: string; message: string }[] {
  try {
    loadFromFile(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.errors;
  }
  assert.fail('the config file was accepted');
}

test('config file with a repeated key', () => {
  const errors = fileErrors('{"port": 8081, "port": 8082}');
  assert.deepEqual(errors.map((e) => e.field), ['configFile']);
  assert.match(errors[0].message, /config\.json sets key "port" twice in one object; keep one$/);
});

test('config file with a huge number', () => {
  const errors = fileErrors('{"port": 123456789012345678901234567890}');
  assert.deepEqual(errors.map((e) => e.field), ['configFile']);
  assert.match(errors[0].message, /config\.json: the number 123456789012345678901234567890 at byte offset 9 is an integer beyond 2\^53 - 1/);
  assert.match(errors[0].message, /no setting takes such a value, so fix the number$/);
});

test('config file with a byte order mark', () => {
  assert.equal(loadFromFile('\ufeff{"port": 8081}').port, 8081);
});

test('data folder flag beside a database URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-config-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, '{"databaseUrl": "postgres://postgres@127.0.0.1:5432/test"}');
    const load = (env: Record<string, string>, configFile?: string) => () =>
      loadConfig({ overrides: { dataDir: join(dir, 'data') }, overrideFlags: { dataDir: '--data-dir' }, env, configFile });
    for (const [build, source] of [
      [load({}, file), `${file}: databaseUrl`],
      [load({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' }), 'DATABASE_URL'],
    ] as const) {
      assert.throws(build, (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.errors.map((e) => e.field), ['--data-dir']);
        assert.equal(err.errors[0].message, `names a SQLite folder, but databaseUrl is set (from ${source}), so the service would use PostgreSQL and ignore the folder; drop one of the two`);
        return true;
      });
    }
    assert.equal(load({})().dataDir, join(dir, 'data'), 'without a database URL the flag is used');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('empty data folder is rejected', () => {
  const build = () => loadConfig({ env: { DITS_WEBHOOKS_DATA_DIR: '' } });
  assert.throws(build, (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.errors.map((e) => e.field), ['DITS_WEBHOOKS_DATA_DIR']);
    assert.match(err.errors[0].message, /expected a non-empty value, got ""/);
    return true;
  });
});

test('invalid lease gives one error, not two', () => {
  const build = () => loadConfig({ env: { DITS_WEBHOOKS_LEASE_MS: 'abc', DITS_WEBHOOKS_DELIVERY_TIMEOUT_MS: '60000' } });
  assert.throws(build, (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.errors.map((e) => e.field), ['DITS_WEBHOOKS_LEASE_MS']);
    return true;
  });
});

test('numbers from text must be plain decimal', () => {
  for (const text of ['0x36B1', '1.4001e4', '0b101', '12abc', '']) {
    const [problem] = errorsOf({ leaseMs: text });
    assert.equal(problem?.field, 'leaseMs', `${JSON.stringify(text)} was accepted`);
    assert.match(problem.message, /expected an integer in decimal digits/);
  }
  assert.equal(loadConfig({ env: { DITS_WEBHOOKS_LEASE_MS: ' 14001 ' } }).leaseMs, 14001);
  assert.equal(loadConfig({ env: { DITS_WEBHOOKS_RETRY_JITTER: '0.25' } }).retryJitter, 0.25);
});

test('defaults pass the lease rule', () => {
  assert.ok(DEFAULT_CONFIG.leaseMs > DEFAULT_CONFIG.deliveryTimeoutMs + 4000);
  assert.equal(loadConfig({ env: {} }).leaseMs, DEFAULT_CONFIG.leaseMs);
});

test('environment values are checked like flags', () => {
  const build = () => loadConfig({ env: { DITS_WEBHOOKS_LEASE_MS: '5000' } });
  assert.throws(build, (err: unknown) => err instanceof ConfigError && err.errors[0].field === 'DITS_WEBHOOKS_LEASE_MS');
});

test('retry schedule text must be plain decimal', () => {
  for (const text of ['0x10,1e3', '60,,300', '', '60,abc']) {
    const [problem] = errorsOf({ retrySchedule: text });
    assert.equal(problem?.field, 'retrySchedule', `${JSON.stringify(text)} was accepted`);
    assert.match(problem.message, /comma-separated list of numbers in decimal digits/);
  }
  assert.deepEqual(loadConfig({ env: { DITS_WEBHOOKS_RETRY_SCHEDULE: '60, 300,1.5' } }).retrySchedule, [60, 300, 1.5]);
});

test('allowCidrs entries must be CIDRs', () => {
  const build = () => loadConfig({ env: { DITS_WEBHOOKS_ALLOW_CIDRS: '10.0.0.0/8,banana,10.0.0.0/99' } });
  assert.throws(build, (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.errors.map((e) => e.field), ['DITS_WEBHOOKS_ALLOW_CIDRS', 'DITS_WEBHOOKS_ALLOW_CIDRS']);
    assert.match(err.errors[0].message, /entry "banana" is not a CIDR/);
    assert.match(err.errors[1].message, /entry "10.0.0.0\/99" is not a CIDR: expected a prefix length from 0 to 32/);
    return true;
  });
  assert.deepEqual(loadConfig({ env: { DITS_WEBHOOKS_ALLOW_CIDRS: '10.0.0.0/8, fd00::/8' } }).allowCidrs, ['10.0.0.0/8', 'fd00::/8']);
});

test('malformed encryption key named', () => {
  assert.throws(
    () => loadConfig({ env: { DITS_WEBHOOKS_ENCRYPTION_KEY: 'short' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.errors.map((e) => e.field), ['DITS_WEBHOOKS_ENCRYPTION_KEY']);
      assert.match(err.errors[0].message, /32 bytes written as 64 hex characters or as base64; generate one with `openssl rand -hex 32`/);
      return true;
    },
  );
  assert.deepEqual(errorsOf({ encryptionKey: 'ab'.repeat(32) }), []);
});

test('flag errors name the flag', () => {
  assert.throws(
    () => loadConfig({ overrides: { port: 'abc' }, overrideFlags: { port: '--port' }, env: {} }),
    (err: unknown) => err instanceof ConfigError && err.errors[0].field === '--port' && /got "abc"/.test(err.errors[0].message),
  );
  assert.throws(
    () => loadConfig({ overrides: { port: 'abc' }, env: {} }),
    (err: unknown) => err instanceof ConfigError && err.errors[0].field === 'port',
    'an override from code keeps the key name',
  );
});

test('empty host rejected', () => {
  for (const sources of [{ overrides: { host: '' }, overrideFlags: { host: '--host' } }, { env: { DITS_WEBHOOKS_HOST: ' ' } }]) {
    assert.throws(
      () => loadConfig({ env: {}, ...sources }),
      (err: unknown) => err instanceof ConfigError && /^(--host|DITS_WEBHOOKS_HOST)$/.test(err.errors[0].field) && /must not be empty; leave it unset for 127\.0\.0\.1/.test(err.errors[0].message),
    );
  }
});

test('database errors name the variable', () => {
  assert.throws(
    () => loadConfig({ env: { DITS_WEBHOOKS_DATABASE_SCHEMA: 'Bad-Name' } }),
    (err: unknown) => err instanceof ConfigError && err.errors[0].field === 'DITS_WEBHOOKS_DATABASE_SCHEMA',
  );
  assert.throws(
    () => loadConfig({ env: { DATABASE_URL: 'mysql://x' } }),
    (err: unknown) => err instanceof ConfigError && err.errors[0].field === 'DATABASE_URL',
  );
});

test('empty service database URL keeps SQLite', () => {
  // DATABASE_URL may belong to another program; the service's own variable set to '' chooses SQLite.
  const config = loadConfig({ env: { DATABASE_URL: 'mysql://x', DITS_WEBHOOKS_DATABASE_URL: '' } });
  assert.equal(config.databaseUrl, '');
});

test('unknown variables get the closest name', () => {
  const env = { DITS_WEBHOOKS_MAX_INFLIGHT: '5', DITS_WEBHOOKS_URL: 'http://127.0.0.1:1', PATH: '/bin', DITS_WEBHOOKS_LEASE_MS: '60000' };
  assert.deepEqual(unknownEnvVariables(env), [{ name: 'DITS_WEBHOOKS_MAX_INFLIGHT', closest: 'DITS_WEBHOOKS_MAX_IN_FLIGHT' }]);
});

test('huge integer quoted as given', () => {
  const digits = '123456789012345678901234567890';
  assert.throws(
    () => loadConfig({ env: { DITS_WEBHOOKS_MIN_FREE_DISK_BYTES: digits } }),
    (err: unknown) => err instanceof ConfigError && err.message.includes(`must be at most ${Number.MAX_SAFE_INTEGER}, got ${digits}`),
  );
});

test('huge list number quoted as given', () => {
  const digits = '123456789012345678901234567890';
  assert.throws(
    () => loadConfig({ env: { DITS_WEBHOOKS_RETRY_SCHEDULE: `60,${digits}` } }),
    (err: unknown) => err instanceof ConfigError && err.message.includes(`got ${digits}`),
  );
});
