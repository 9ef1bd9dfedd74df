/**
 * Retry policy of the watcher's event sender, as pure functions.
 */

export interface BackoffPolicy {
  /** Delay after the first failure, in milliseconds; it doubles after each further failure. */
  initialMs: number;
  /** Upper bound of the doubled delay, in milliseconds. */
  maxMs: number;
  /** Relative jitter, 0.2 meaning plus or minus 20 %, so that many watchers do not retry in step. */
  jitter: number;
  /** Upper bound for a delay that the server requests with Retry-After, in milliseconds. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, jitter: 0.2, maxRetryAfterMs: 3_600_000 };

/**
 * Returns the wait before the next attempt after `failures` consecutive
 * failures (1 or more). `random` is a number in [0, 1). A Retry-After from the
 * server can lengthen the wait, up to `maxRetryAfterMs`, but never shorten it.
 */
export function retryDelayMs(failures: number, policy: BackoffPolicy, random: number, retryAfterMs: number | null = null): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30);
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  const jittered = Math.round(base * (1 + policy.jitter * (2 * random - 1)));
  if (retryAfterMs === null) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}

/** Parses a Retry-After header (delay in seconds, or an HTTP date) into milliseconds from `nowMs`; null when absent or invalid. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (!Number.isFinite(at) || !/[a-z]/i.test(text)) return null;
  return Math.max(0, at - nowMs);
}

/** Sender action for a response status: 408, 429 and 5xx are retried, as are 401 and 403 (see below). */
export type StatusAction = 'accepted' | 'retry' | 'drop';

/**
 * Classifies an ingestion response. A 4xx from the Dits Webhooks API
 * (`fromApi`: a body with the API's error shape) means the event itself is
 * rejected, so it is dropped and logged. 401 and 403 are retried instead,
 * because they mean the watcher's token is wrong or lacks the
 * `events:write` scope. A redirect, a 404 or 405 (a wrong route), and a 4xx
 * without the API's error shape mean that the server URL does not lead to
 * the API, so those are retried too. Once the setting is fixed and the
 * watcher restarted, the queued events still go out.
 */
export function classifyStatus(status: number, fromApi = true): StatusAction {
  if (status >= 200 && status < 300) return 'accepted';
  if (status === 408 || status === 429 || status === 401 || status === 403 || status >= 500) return 'retry';
  if (status < 400 || status === 404 || status === 405 || !fromApi) return 'retry';
  return 'drop';
}
