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
  const at = parseHttpDate(text, now);
  return at === null ? null : Math.max(0, at - now);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** `Sun, 06 Nov 1994 08:49:37 GMT`, the form senders must use; a one-digit day is taken too. */
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{1,2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT`, an obsolete form with a two-digit year. */
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** `Sun Nov  6 08:49:37 1994`, C's asctime() form, in UTC. */
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * Parses an HTTP date in any of the three forms that recipients must accept
 * (RFC 9110, section 5.6.7) into epoch ms, or returns null. A two-digit year
 * more than 50 years ahead of `now` means the same year of the century before.
 */
export function parseHttpDate(text: string, now: number): number | null {
  const parts = imfFixdateParts(text) ?? rfc850Parts(text, now) ?? asctimeParts(text);
  if (parts === null) return null;
  const { year, month, day, hours, minutes, seconds } = parts;
  const at = Date.UTC(year, month, day, hours, minutes, seconds);
  const check = new Date(at);
  // Date.UTC rolls 31 Feb over into March and 25:00 into the next day; such dates are not dates.
  if (check.getUTCDate() !== day || check.getUTCHours() !== hours || check.getUTCMinutes() !== minutes || check.getUTCSeconds() !== seconds) return null;
  return at;
}

interface DateParts {
  year: number;
  month: number;
  day: number;
  hours: number;
  minutes: number;
  seconds: number;
}

function dateParts(year: number, month: string, day: string, time: string[]): DateParts {
  const [hours, minutes, seconds] = time.map(Number);
  return { year, month: MONTHS.indexOf(month), day: Number(day), hours, minutes, seconds };
}

function imfFixdateParts(text: string): DateParts | null {
  const match = IMF_FIXDATE.exec(text);
  return match ? dateParts(Number(match[3]), match[2], match[1], match.slice(4, 7)) : null;
}

function rfc850Parts(text: string, now: number): DateParts | null {
  const match = RFC850_DATE.exec(text);
  if (!match) return null;
  const thisYear = new Date(now).getUTCFullYear();
  let year = Math.floor(thisYear / 100) * 100 + Number(match[3]);
  if (year > thisYear + 50) year -= 100;
  return dateParts(year, match[2], match[1], match.slice(4, 7));
}

function asctimeParts(text: string): DateParts | null {
  const match = ASCTIME_DATE.exec(text);
  return match ? dateParts(Number(match[6]), match[1], match[2].trim(), match.slice(3, 6)) : null;
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
