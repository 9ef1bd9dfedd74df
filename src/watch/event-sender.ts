/**
 * Sends the events of one outbox to the server, oldest first, one at a time,
 * so the server receives them in the order they happened. The head event
 * stays queued and is retried with capped exponential backoff while the
 * server is unreachable, responds with 408, 429, 5xx, 401 or 403, or does
 * not have the repository (404 `repo_not_found`). The same holds when the
 * URL does not lead to the API: a redirect, a 404 or 405 route error, or a
 * 4xx without the API's error shape. Any other 4xx response from the API
 * drops the event with an error log line.
 */
import type { Logger } from 'pino';
import { ApiRequestError } from './api-client.js';
import type { ApiClient } from './api-client.js';
import { retryDelayMs } from './backoff.js';
import type { BackoffPolicy } from './backoff.js';
import type { EventBody } from './event-request.js';
import type { Outbox, OutboxEntry, SendOutcome } from './outbox.js';
import { capFileLists, DEFAULT_FILE_LIST_BUDGET, listedPathBytes, type FileLists } from './push-size.js';
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

type AttemptResult =
  | { kind: 'completed' }
  | { kind: 'stopped' }
  | { kind: 'resend' }
  | { kind: 'retry'; error: unknown; retryAfterMs: number | null };

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
    // True from the first `repo_not_found` until an event goes through, so that the wait is logged once.
    let waitingForRepository = false;
    while (!this.abort.signal.aborted) {
      const entry = outbox.peek();
      if (!entry) {
        this.releaseIdleWaiters();
        await this.waitForWork();
        continue;
      }
      const result = await this.attempt(entry);
      if (result.kind === 'stopped') break;
      if (result.kind === 'completed' || result.kind === 'resend') {
        failures = 0;
        waitingForRepository = false;
        continue;
      }
      failures++;
      const delayMs = retryDelayMs(failures, backoff, random(), result.retryAfterMs);
      const fields = { event: entry.body.event, idempotency_key: entry.key, attempt: failures, retry_in_ms: delayMs, error: describeError(result.error) };
      if (!isRepoNotFound(result.error)) {
        logger.warn(fields, 'sending the event failed; it stays queued and will be retried');
      } else if (waitingForRepository) {
        logger.debug(fields, 'the server still has no repository for the events; they stay queued and will be retried');
      } else {
        waitingForRepository = true;
        logger.warn(
          { ...fields, queued_events: outbox.size },
          'the server has no repository for the events; they stay queued and are retried until it exists. Create it, or restart the watcher with a correct --repo id or with --create',
        );
      }
      await this.sleep(delayMs);
    }
  }

  private async attempt(entry: OutboxEntry): Promise<AttemptResult> {
    const { outbox, client, resolver, logger } = this.options;
    const signal = this.abort.signal;
    let outcome: SendOutcome;
    try {
      const repoId = await resolver.resolve(signal);
      const result = await client.ingestEvent(repoId, entry.body, entry.key, signal);
      logger.info(
        { event: entry.body.event, idempotency_key: entry.key, repo_id: repoId, event_id: result.id, deliveries: result.deliveries },
        'event sent',
      );
      outcome = 'sent';
    } catch (error) {
      if (signal.aborted) return { kind: 'stopped' };
      if (isRepoNotFound(error)) {
        // The repository may not exist yet or may have been deleted. An owner/name mapping is looked up again on the next attempt.
        resolver.forget();
        return { kind: 'retry', error, retryAfterMs: (error as ApiRequestError).retryAfterMs };
      }
      if (!(error instanceof ApiRequestError) || error.retryable) {
        return { kind: 'retry', error, retryAfterMs: error instanceof ApiRequestError ? error.retryAfterMs : null };
      }
      const smaller = error.status === 413 ? shrinkPush(entry.body) : null;
      if (smaller) {
        const fields = { event: entry.body.event, idempotency_key: entry.key };
        if (smaller.kind === 'paths') {
          logger.warn({ ...fields, paths_kept: smaller.pathsKept, paths_omitted: smaller.omitted }, 'the server rejected the push as too large; sending it again with shorter file lists');
        } else if (smaller.kind === 'commits') {
          logger.warn({ ...fields, commits_kept: smaller.commitsKept, total_commits_count: smaller.body.total_commits_count }, 'the server rejected the push as too large; sending it again with fewer commits listed');
        } else {
          logger.warn({ ...fields, message_chars_kept: smaller.messageLength }, 'the server rejected the push as too large; sending it again with shorter commit messages');
        }
        outbox.replaceBody(entry.key, smaller.body);
        return { kind: 'resend' };
      }
      logger.error(
        { event: entry.body.event, idempotency_key: entry.key, status: error.status, code: error.code, error: describeError(error) },
        'the server rejected the event; it is dropped',
      );
      outcome = 'dropped';
    }
    try {
      await outbox.complete(entry.key, outcome);
    } catch (error) {
      // The outbox file cannot be written, for example because its folder was removed. The event stays at the head
      // of the queue and goes out again after the backoff; its Idempotency-Key keeps the server from storing it twice.
      return { kind: 'retry', error: new Error(`recording the outcome in ${outbox.path} failed: ${describeError(error).message}`), retryAfterMs: null };
    }
    return { kind: 'completed' };
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

/**
 * Returns a push body whose file lists carry half the path bytes of the
 * given one, or null when the body lists no paths, since then nothing can
 * be cut. A body without commits (no push) lists no paths.
 */
export function halveFileLists(body: EventBody): { body: EventBody; pathsKept: number; omitted: number } | null {
  const commits = Array.isArray(body.commits) ? (body.commits as FileLists[]) : [];
  const head = body.head_commit && typeof body.head_commit === 'object' ? (body.head_commit as FileLists) : null;
  // The head commit is usually the last listed commit again, so each part gets half of its own bytes.
  const commitBytes = listedPathBytes(commits);
  const headBytes = head ? listedPathBytes([head]) : 0;
  if (commitBytes + headBytes === 0) return null;
  const half = (bytes: number) => ({ maxPathsPerCommit: DEFAULT_FILE_LIST_BUDGET.maxPathsPerCommit, maxPathBytes: Math.floor(bytes / 2) });
  const cappedCommits = capFileLists(commits, half(commitBytes));
  const cappedHead = head ? capFileLists([head], half(headBytes)) : { commits: [null], omitted: 0 };
  const omitted = cappedCommits.commits.length > 0 ? cappedCommits.omitted : cappedHead.omitted;
  // The head commit usually repeats the last listed one, so it is counted only in a push that lists no commits.
  let counted: FileLists[] = cappedCommits.commits;
  if (counted.length === 0 && cappedHead.commits[0]) counted = [cappedHead.commits[0]];
  const pathsKept = counted.reduce(
    (sum, commit) => sum + (commit.added?.length ?? 0) + (commit.modified?.length ?? 0) + (commit.removed?.length ?? 0),
    0,
  );
  return { body: { ...body, commits: cappedCommits.commits, head_commit: cappedHead.commits[0] }, pathsKept, omitted };
}

/** Shortest commit message, in UTF-16 code units, that `halveMessages` cuts further. */
export const MIN_CUT_MESSAGE_CHARS = 256;

/**
 * Messages longer than this, in UTF-16 code units, are cut before commits
 * leave the list, because such a message is rare and one of them can
 * outweigh thousands of commits of usual length.
 */
export const LONG_MESSAGE_CHARS = 64 * 1024;

/** A smaller push body and what was cut to make it. */
export type ShrunkPush =
  | { kind: 'paths'; body: EventBody; pathsKept: number; omitted: number }
  | { kind: 'commits'; body: EventBody; commitsKept: number }
  | { kind: 'messages'; body: EventBody; messageLength: number };

/**
 * Returns a smaller body for a push that the server rejected as too large,
 * or null when nothing is left to cut. File lists are cut first, then
 * messages longer than LONG_MESSAGE_CHARS are halved, not below that length. Next, only the older half of the
 * commits stays listed, as the server keeps the oldest commits past its own
 * limit. `total_commits_count` and `head_commit` still describe the whole
 * push. Last, the commit messages are halved down to MIN_CUT_MESSAGE_CHARS.
 */
export function shrinkPush(body: EventBody): ShrunkPush | null {
  const paths = halveFileLists(body);
  if (paths) return { kind: 'paths', ...paths };
  const longMessages = halveMessages(body, LONG_MESSAGE_CHARS);
  if (longMessages) return longMessages;
  const commits = Array.isArray(body.commits) ? body.commits : [];
  if (commits.length > 1) {
    const commitsKept = Math.ceil(commits.length / 2);
    const total = typeof body.total_commits_count === 'number' ? body.total_commits_count : commits.length;
    return { kind: 'commits', body: { ...body, commits: commits.slice(0, commitsKept), total_commits_count: total }, commitsKept };
  }
  return halveMessages(body);
}

/** A commit whose message may have been cut. */
interface MessageCommit {
  message?: unknown;
  message_truncated?: true;
}

/**
 * Returns the push with every commit message longer than half of the
 * longest one, but no shorter than `floor`, cut to that length and flagged
 * `message_truncated`, or null when no message is longer than `floor`.
 */
export function halveMessages(body: EventBody, floor = MIN_CUT_MESSAGE_CHARS): { kind: 'messages'; body: EventBody; messageLength: number } | null {
  const commits = (Array.isArray(body.commits) ? body.commits : []) as MessageCommit[];
  const head = body.head_commit && typeof body.head_commit === 'object' ? (body.head_commit as MessageCommit) : null;
  const all = head ? [...commits, head] : commits;
  const longest = Math.max(0, ...all.map((commit) => (typeof commit.message === 'string' ? commit.message.length : 0)));
  if (longest <= floor) return null;
  const messageLength = Math.max(floor, Math.floor(longest / 2));
  const cut = (commit: MessageCommit): MessageCommit => {
    if (typeof commit.message !== 'string' || commit.message.length <= messageLength) return commit;
    return { ...commit, message: cutText(commit.message, messageLength), message_truncated: true };
  };
  return { kind: 'messages', body: { ...body, commits: commits.map(cut), head_commit: head ? cut(head) : body.head_commit }, messageLength };
}

/** Returns the first `length` UTF-16 code units of `text`, one fewer when the cut would split a surrogate pair. */
function cutText(text: string, length: number): string {
  const code = text.charCodeAt(length - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}

/** True for the server's 404 `repo_not_found`, and for the resolver's error when an owner/name lookup finds nothing. */
function isRepoNotFound(error: unknown): boolean {
  return error instanceof ApiRequestError && error.status === 404 && error.code === 'repo_not_found';
}

function describeError(error: unknown): { message: string; code?: string; status?: number | null } {
  if (error instanceof ApiRequestError) return { message: error.message, code: error.code, status: error.status };
  return { message: error instanceof Error ? error.message : String(error) };
}
