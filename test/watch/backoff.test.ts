import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyStatus, parseRetryAfter, retryDelayMs } from '../../src/watch/backoff.js';

const POLICY = { initialMs: 1000, maxMs: 60_000, jitter: 0.2, maxRetryAfterMs: 3_600_000 };

describe('retryDelayMs', () => {
  const cases: Array<[string, number, number, number | null, number]> = [
    ['first failure, no jitter', 1, 0.5, null, 1000],
    ['second failure doubles', 2, 0.5, null, 2000],
    ['sixth failure', 6, 0.5, null, 32_000],
    ['capped at max', 7, 0.5, null, 60_000],
    ['huge failure count stays capped', 10_000, 0.5, null, 60_000],
    ['lowest jitter', 1, 0, null, 800],
    ['highest jitter', 1, 0.999999, null, 1200],
    ['Retry-After lengthens', 1, 0.5, 30_000, 30_000],
    ['Retry-After never shortens', 3, 0.5, 10, 4000],
    ['Retry-After is capped', 1, 0.5, 10 * 3_600_000, 3_600_000],
  ];
  for (const [name, failures, random, retryAfter, expected] of cases) {
    test(name, () => assert.equal(retryDelayMs(failures, POLICY, random, retryAfter), expected));
  }
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-02T03:00:00Z');
  const cases: Array<[string, string | undefined, number | null]> = [
    ['absent', undefined, null],
    ['seconds', '120', 120_000],
    ['zero', '0', 0],
    ['HTTP date', 'Fri, 02 Jan 2026 03:00:30 GMT', 30_000],
    ['HTTP date in the past', 'Fri, 02 Jan 2026 02:00:00 GMT', 0],
    ['negative seconds', '-5', null],
    ['garbage', 'soon', null],
  ];
  for (const [name, value, expected] of cases) {
    test(name, () => assert.equal(parseRetryAfter(value, now), expected));
  }
});

describe('classifyStatus', () => {
  const cases: Array<[number, string]> = [
    [200, 'accepted'],
    [202, 'accepted'],
    [400, 'drop'],
    [401, 'retry'],
    [403, 'retry'],
    [404, 'retry'],
    [405, 'retry'],
    [408, 'retry'],
    [409, 'drop'],
    [413, 'drop'],
    [422, 'drop'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [302, 'retry'],
    [308, 'retry'],
  ];
  for (const [status, expected] of cases) {
    test(`status ${status}`, () => assert.equal(classifyStatus(status), expected));
  }
  test('4xx from another server is retried', () => assert.equal(classifyStatus(400, false), 'retry'));
  test('4xx from the API is dropped', () => assert.equal(classifyStatus(422, true), 'drop'));
});
