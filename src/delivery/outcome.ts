import { DeliveryStatus } from './states.js';
import { applyRetryAfter, maxAttempts, nextRetryDelayMs, parseRetryAfterMs, type RetryPolicy } from './retry-policy.js';

/** Kinds of failure before a response arrived. */
export type SendErrorKind = 'timeout' | 'refused' | 'reset' | 'dns' | 'tls' | 'blocked' | 'network';

/** The result of one attempt: a response status, or a typed send error. */
export interface AttemptSignal {
  statusCode: number | null;
  errorKind: SendErrorKind | null;
  retryAfter: string | null;
  /** Automatic attempts made so far, this one included; manual redeliveries do not count. */
  scheduledAttemptsMade: number;
  /** True for an attempt requested by a manual redelivery. */
  manual: boolean;
  /** Scheduled retry to restore after a failed manual attempt. */
  resumeAt: number | null;
}

export interface AttemptDecision {
  status: DeliveryStatus;
  nextAttemptAt: number | null;
  resumeAt: number | null;
  /** Reason to deactivate the webhook, or null. */
  deactivate: string | null;
}

/** Decides whether an attempt's result may be retried: 5xx, 408, 429 and network failures except a blocked address. */
export function isRetryable(statusCode: number | null, errorKind: SendErrorKind | null): boolean {
  if (errorKind !== null) return errorKind !== 'blocked';
  if (statusCode === null) return true;
  return statusCode >= 500 || statusCode === 408 || statusCode === 429;
}

/**
 * Maps an attempt's result to the delivery's next state. 2xx delivers; a
 * retryable failure schedules the next attempt until the schedule runs out;
 * anything else fails. A manual attempt schedules nothing new, but a failed
 * one keeps a retry that was already scheduled.
 */
export function decideAttemptOutcome(signal: AttemptSignal, policy: RetryPolicy, now: number, random: () => number = Math.random): AttemptDecision {
  const code = signal.statusCode;
  const deactivate = code === 410 ? 'gone' : null;
  if (signal.errorKind === null && code !== null && code >= 200 && code < 300) {
    return { status: DeliveryStatus.delivered, nextAttemptAt: null, resumeAt: null, deactivate: null };
  }
  const failed: AttemptDecision = { status: DeliveryStatus.failed, nextAttemptAt: null, resumeAt: null, deactivate };

  // Only 429 and 503 carry a Retry-After that means "come back later".
  const honoured = code === 429 || code === 503 ? parseRetryAfterMs(signal.retryAfter, now) : null;
  if (signal.manual) {
    if (signal.resumeAt !== null && isRetryable(code, signal.errorKind)) {
      // The kept retry moves later when the receiver requests more time, never earlier.
      const requested = honoured === null ? signal.resumeAt : now + applyRetryAfter(0, honoured, policy);
      return { status: DeliveryStatus.retrying, nextAttemptAt: Math.max(signal.resumeAt, requested), resumeAt: null, deactivate };
    }
    return failed;
  }
  if (!isRetryable(code, signal.errorKind) || signal.scheduledAttemptsMade >= maxAttempts(policy)) return failed;

  const scheduled = nextRetryDelayMs(policy, signal.scheduledAttemptsMade, random);
  if (scheduled === null) return failed;
  const delay = applyRetryAfter(scheduled, honoured, policy);
  return { status: DeliveryStatus.retrying, nextAttemptAt: now + delay, resumeAt: null, deactivate };
}
