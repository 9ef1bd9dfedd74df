/**
 * Retry policy as pure functions: the schedule with jitter, Retry-After
 * parsing and clamping. Times are milliseconds unless a name says seconds.
 */

export interface RetryPolicy {
  /** Delays after attempt 1, 2, ... in seconds. */
  scheduleSeconds: readonly number[];
  /** Relative jitter, 0.2 meaning plus or minus 20 %. */
  jitter: number;
  /** Upper bound for a Retry-After delay, in seconds. */
  maxRetryAfterSeconds: number;
}

/** Total attempts a delivery gets: the first one plus one per schedule entry. */
export function maxAttempts(policy: RetryPolicy): number {
  return policy.scheduleSeconds.length + 1;
}

/**
 * Returns the delay in ms before the next attempt after `attemptsMade`
 * attempts, or null when the schedule is exhausted. `random` returns a number
 * in [0, 1) and is injected so that tests are exact.
 */
export function nextRetryDelayMs(policy: RetryPolicy, attemptsMade: number, random: () => number = Math.random): number | null {
  if (attemptsMade < 1 || attemptsMade > policy.scheduleSeconds.length) return null;
  const baseMs = policy.scheduleSeconds[attemptsMade - 1] * 1000;
  const factor = 1 + policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(baseMs * factor));
}

/**
 * Parses a Retry-After header value (delay in seconds or an HTTP date) into
 * a delay in ms from `now`. Returns null for a missing or unparseable value.
 */
export function parseRetryAfterMs(value: string | undefined | null, now: number): number | null {
  if (value === undefined || value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates always name the weekday and GMT; Date.parse alone accepts far looser forms.
  if (!/^[A-Za-z]{3},? .+GMT$/.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/**
 * Moves a scheduled delay later when the receiver asked for more time with
 * Retry-After, never earlier, and caps the request at the configured maximum.
 */
export function applyRetryAfter(scheduledMs: number, retryAfterMs: number | null, policy: RetryPolicy): number {
  if (retryAfterMs === null) return scheduledMs;
  const capped = Math.min(retryAfterMs, policy.maxRetryAfterSeconds * 1000);
  return Math.max(scheduledMs, capped);
}
