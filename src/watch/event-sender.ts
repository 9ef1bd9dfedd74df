/**
 * Sends the events of one outbox to the server, oldest first, one at a time,
 * so the server receives them in the order they happened. While the server
 * is unreachable or responds with 408, 429, 5xx, 401 or 403, the head event
 * stays queued and is retried with capped exponential backoff. Any other 4xx
 * response drops it with an error log line.
 */
import type { Logger } from 'pino';
import { ApiRequestError } from './api-client.js';
import type { ApiClient } from './api-client.js';
import { retryDelayMs } from './backoff.js';
import type { BackoffPolicy } from './backoff.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { RepoResolver } from './repo-mapping.js';

export interface EventSenderOptions {
  outbox: Outbox;
  client: ApiClient;
  resolver: RepoResolver;
  backoff: BackoffPolicy;
  logger: Logger;
  /** Source of jitter, a number in [0, 1). */
  random?: () => number;
}

type AttemptResult = { kind: 'completed' } | { kind: 'stopped' } | { kind: 'retry'; error: unknown; retryAfterMs: number | null };

export class EventSender {
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | null = null;
  private idleWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private loop: Promise<void> | null = null;

  constructor(private readonly options: EventSenderOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Tells the sender that events were queued. */
  notify(): void {
    this.wakeUp?.();
  }

  /** Resolves once the outbox is empty; rejects when the sender stops before that. */
  whenIdle(): Promise<void> {
    if (this.options.outbox.size === 0) return Promise.resolve();
    if (this.abort.signal.aborted) return Promise.reject(this.stoppedError());
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  /** Stops sending: an in-flight request is aborted and its event stays queued for the next start. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeUp?.();
    await this.loop;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter.reject(this.stoppedError());
  }

  private stoppedError(): Error {
    return new Error(`The watcher stopped with ${this.options.outbox.size} events still queued in ${this.options.outbox.path}.`);
  }

  private async run(): Promise<void> {
    const { outbox, backoff, logger } = this.options;
    const random = this.options.random ?? Math.random;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const entry = outbox.peek();
      if (!entry) {
        this.releaseIdleWaiters();
        await this.waitForWork();
        continue;
      }
      const result = await this.attempt(entry);
      if (result.kind === 'stopped') break;
      if (result.kind === 'completed') {
        failures = 0;
        continue;
      }
      failures++;
      const delayMs = retryDelayMs(failures, backoff, random(), result.retryAfterMs);
      logger.warn(
        { event: entry.body.event, idempotency_key: entry.key, attempt: failures, retry_in_ms: delayMs, error: describeError(result.error) },
        'sending the event failed; it stays queued and will be retried',
      );
      await this.sleep(delayMs);
    }
  }

  private async attempt(entry: OutboxEntry): Promise<AttemptResult> {
    const { outbox, client, resolver, logger } = this.options;
    const signal = this.abort.signal;
    try {
      const repoId = await resolver.resolve(signal);
      const result = await client.ingestEvent(repoId, entry.body, entry.key, signal);
      logger.info(
        { event: entry.body.event, idempotency_key: entry.key, repo_id: repoId, event_id: result.id, deliveries: result.deliveries },
        'event sent',
      );
      await outbox.complete(entry.key, 'sent');
      return { kind: 'completed' };
    } catch (error) {
      if (signal.aborted) return { kind: 'stopped' };
      if (error instanceof ApiRequestError && !error.retryable) {
        logger.error(
          { event: entry.body.event, idempotency_key: entry.key, status: error.status, code: error.code, error: describeError(error) },
          'the server rejected the event; it is dropped',
        );
        await outbox.complete(entry.key, 'dropped');
        return { kind: 'completed' };
      }
      const retryAfterMs = error instanceof ApiRequestError ? error.retryAfterMs : null;
      return { kind: 'retry', error, retryAfterMs };
    }
  }

  private releaseIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = () => {
        this.wakeUp = null;
        resolve();
      };
      // Events may have been queued between the empty peek and this wait.
      if (this.options.outbox.size > 0 || this.abort.signal.aborted) this.wakeUp();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}

function describeError(error: unknown): { message: string; code?: string; status?: number | null } {
  if (error instanceof ApiRequestError) return { message: error.message, code: error.code, status: error.status };
  return { message: error instanceof Error ? error.message : String(error) };
}
