import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../src/config.js';

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
  assert.match(problem.message, /must exceed deliveryTimeoutMs \+ 4000 \(7000\)/);
  assert.match(problem.message, /got 4100/);
  assert.deepEqual(errorsOf({ deliveryTimeoutMs: 3000, leaseMs: 7001 }), []);
});

test('defaults pass the lease rule', () => {
  assert.ok(DEFAULT_CONFIG.leaseMs > DEFAULT_CONFIG.deliveryTimeoutMs + 4000);
  assert.equal(loadConfig({ env: {} }).leaseMs, DEFAULT_CONFIG.leaseMs);
});

test('environment values are checked like flags', () => {
  const build = () => loadConfig({ env: { DITS_WEBHOOKS_LEASE_MS: '5000' } });
  assert.throws(build, (err: unknown) => err instanceof ConfigError && err.errors[0].field === 'leaseMs');
});
