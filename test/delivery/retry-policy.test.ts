import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRetryAfter, maxAttempts, nextRetryDelayMs, parseHttpDate, parseRetryAfterMs, type RetryPolicy } from '../../src/delivery/retry-policy.js';
import { decideAttemptOutcome, isRetryable, type AttemptSignal } from '../../src/delivery/outcome.js';
import { DEFAULT_CONFIG } from '../../src/config.js';

const policy: RetryPolicy = { scheduleSeconds: DEFAULT_CONFIG.retrySchedule, jitter: 0.2, maxRetryAfterSeconds: 86400 };
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);

test('default schedule gives eight attempts', () => {
  assert.equal(maxAttempts(policy), 8);
  assert.deepEqual([...policy.scheduleSeconds], [60, 300, 1800, 7200, 21600, 43200, 86400]);
});

test('retry delay follows schedule with jitter bounds', () => {
  const cases: [number, number][] = [
    [1, 60], [2, 300], [3, 1800], [4, 7200], [5, 21600], [6, 43200], [7, 86400],
  ];
  for (const [attempts, seconds] of cases) {
    assert.equal(nextRetryDelayMs(policy, attempts, () => 0.5), seconds * 1000, `middle of range after ${attempts}`);
    assert.equal(nextRetryDelayMs(policy, attempts, () => 0), seconds * 800, `low end after ${attempts}`);
    assert.equal(nextRetryDelayMs(policy, attempts, () => 0.999999), Math.round(seconds * 1000 * (1 + 0.2 * (2 * 0.999999 - 1))), `high end after ${attempts}`);
  }
  assert.equal(nextRetryDelayMs(policy, 8, () => 0.5), null);
  assert.equal(nextRetryDelayMs(policy, 0, () => 0.5), null);
});

test('Retry-After parsing accepts seconds and HTTP dates', () => {
  const cases: [string | null, number | null][] = [
    ['120', 120_000],
    ['0', 0],
    [' 30 ', 30_000],
    [new Date(NOW + 90_000).toUTCString(), 90_000],
    [new Date(NOW - 90_000).toUTCString(), 0],
    ['-5', null],
    ['1.5', null],
    ['soon', null],
    ['2026-01-02', null],
    ['', null],
    [null, null],
  ];
  for (const [value, expected] of cases) assert.equal(parseRetryAfterMs(value, NOW), expected, `Retry-After ${JSON.stringify(value)}`);
});

test('HTTP dates in all three forms', () => {
  const now = Date.UTC(2026, 11, 5, 12, 0, 0);
  const cases: [string, string | null][] = [
    ['Sun, 06 Nov 2099 08:49:37 GMT', '2099-11-06T08:49:37.000Z'],
    ['Fri, 6 Nov 2099 08:49:37 GMT', '2099-11-06T08:49:37.000Z'],
    ['Sunday, 06-Nov-99 08:49:37 GMT', '1999-11-06T08:49:37.000Z'],
    ['Saturday, 06-Nov-60 08:49:37 GMT', '2060-11-06T08:49:37.000Z'],
    ['Sun Nov  6 08:49:37 2099', '2099-11-06T08:49:37.000Z'],
    ['Mon Nov 16 08:49:37 2099', '2099-11-16T08:49:37.000Z'],
    ['Sun, 31 Feb 2099 08:49:37 GMT', null],
    ['Sun, 06 Nov 2099 25:49:37 GMT', null],
    ['Sun, 06 Nov 2099 08:49:37 UTC', null],
    ['06 Nov 2099 08:49:37 GMT', null],
  ];
  for (const [text, expected] of cases) {
    const at = parseHttpDate(text, now);
    assert.equal(at === null ? null : new Date(at).toISOString(), expected, text);
  }
  assert.equal(parseRetryAfterMs('Saturday, 05-Dec-26 12:01:00 GMT', now), 60_000, 'an RFC 850 date works as a Retry-After');
});

test('Retry-After moves later but never earlier', () => {
  assert.equal(applyRetryAfter(60_000, 3_600_000, policy), 3_600_000);
  assert.equal(applyRetryAfter(60_000, 5_000, policy), 60_000);
  assert.equal(applyRetryAfter(60_000, null, policy), 60_000);
  assert.equal(applyRetryAfter(60_000, 10 * 86_400_000, policy), 86_400_000, 'capped at 24 h');
});

function signal(overrides: Partial<AttemptSignal>): AttemptSignal {
  return { statusCode: null, errorKind: null, retryAfter: null, scheduledAttemptsMade: 1, manual: false, resumeAt: null, ...overrides };
}

test('outcome table maps responses to states', () => {
  const cases: [string, Partial<AttemptSignal>, string][] = [
    ['200', { statusCode: 200 }, 'delivered'],
    ['204', { statusCode: 204 }, 'delivered'],
    ['299', { statusCode: 299 }, 'delivered'],
    ['500', { statusCode: 500 }, 'retrying'],
    ['503', { statusCode: 503 }, 'retrying'],
    ['408', { statusCode: 408 }, 'retrying'],
    ['429', { statusCode: 429 }, 'retrying'],
    ['timeout', { errorKind: 'timeout' }, 'retrying'],
    ['refused', { errorKind: 'refused' }, 'retrying'],
    ['reset', { errorKind: 'reset' }, 'retrying'],
    ['dns', { errorKind: 'dns' }, 'retrying'],
    ['tls', { errorKind: 'tls' }, 'retrying'],
    ['blocked address', { errorKind: 'blocked' }, 'failed'],
    ['400', { statusCode: 400 }, 'failed'],
    ['401', { statusCode: 401 }, 'failed'],
    ['404', { statusCode: 404 }, 'failed'],
    ['410', { statusCode: 410 }, 'failed'],
    ['301', { statusCode: 301 }, 'failed'],
    ['302', { statusCode: 302 }, 'failed'],
    ['100-class oddity', { statusCode: 199 }, 'failed'],
    ['status beyond HTTP range', { statusCode: 600 }, 'retrying'],
    ['500 on last attempt', { statusCode: 500, scheduledAttemptsMade: 8 }, 'failed'],
    ['500 on seventh attempt', { statusCode: 500, scheduledAttemptsMade: 7 }, 'retrying'],
  ];
  for (const [name, input, expected] of cases) {
    assert.equal(decideAttemptOutcome(signal(input), policy, NOW, () => 0.5).status, expected, name);
  }
});

test('outcome schedules next attempt from now', () => {
  const decision = decideAttemptOutcome(signal({ statusCode: 500, scheduledAttemptsMade: 2 }), policy, NOW, () => 0.5);
  assert.equal(decision.nextAttemptAt, NOW + 300_000);
});

test('outcome honours Retry-After only on 429 and 503', () => {
  const late = '7200';
  assert.equal(decideAttemptOutcome(signal({ statusCode: 429, retryAfter: late }), policy, NOW, () => 0.5).nextAttemptAt, NOW + 7_200_000);
  assert.equal(decideAttemptOutcome(signal({ statusCode: 503, retryAfter: late }), policy, NOW, () => 0.5).nextAttemptAt, NOW + 7_200_000);
  assert.equal(decideAttemptOutcome(signal({ statusCode: 500, retryAfter: late }), policy, NOW, () => 0.5).nextAttemptAt, NOW + 60_000);
});

test('410 asks to deactivate the webhook', () => {
  assert.equal(decideAttemptOutcome(signal({ statusCode: 410 }), policy, NOW).deactivate, 'gone');
  assert.equal(decideAttemptOutcome(signal({ statusCode: 404 }), policy, NOW).deactivate, null);
});

test('manual attempt schedules nothing new', () => {
  const failed = decideAttemptOutcome(signal({ statusCode: 500, manual: true }), policy, NOW);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.nextAttemptAt, null);
  const kept = decideAttemptOutcome(signal({ statusCode: 500, manual: true, resumeAt: NOW + 1000 }), policy, NOW);
  assert.equal(kept.status, 'retrying');
  assert.equal(kept.nextAttemptAt, NOW + 1000);
  assert.equal(decideAttemptOutcome(signal({ statusCode: 200, manual: true }), policy, NOW).status, 'delivered');
});

test('manual attempt and Retry-After', () => {
  const later = decideAttemptOutcome(signal({ statusCode: 429, retryAfter: '120', manual: true, resumeAt: NOW + 1000 }), policy, NOW);
  assert.equal(later.status, 'retrying');
  assert.equal(later.nextAttemptAt, NOW + 120_000);
  const sooner = decideAttemptOutcome(signal({ statusCode: 503, retryAfter: '1', manual: true, resumeAt: NOW + 60_000 }), policy, NOW);
  assert.equal(sooner.nextAttemptAt, NOW + 60_000);
  const ignored = decideAttemptOutcome(signal({ statusCode: 500, retryAfter: '120', manual: true, resumeAt: NOW + 1000 }), policy, NOW);
  assert.equal(ignored.nextAttemptAt, NOW + 1000, 'only 429 and 503 carry a Retry-After');
});

test('retryable classification', () => {
  assert.equal(isRetryable(502, null), true);
  assert.equal(isRetryable(418, null), false);
  assert.equal(isRetryable(null, 'blocked'), false);
  assert.equal(isRetryable(null, 'timeout'), true);
});
