import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { DeliveryStatus } from '../../delivery/states.js';
import type { AttemptResult, ClaimedDelivery, ClaimOptions } from '../types.js';
import { toClaimedWebhook, type Row } from '../rows.js';

/**
 * Returns the scan of due, unleased deliveries of usable webhooks in due
 * order, with `extra` added to its conditions. Its two parameters are both
 * the current time. It reads the delivery columns of a claim too: the scan
 * visits each row anyway to check its lease, and reading them again per
 * picked row cost more.
 *
 * Only active webhooks get attempts, manual ones included: a redelivery that
 * was in flight when its webhook was deactivated, and that its worker gave
 * back, waits to be cancelled. A deleted repository's own webhooks get only
 * its repo.deleted event.
 */
function dueKeysSql(extra: string): string {
  return `
    SELECT d.seq, d.webhook_id, d.id, d.event, d.status, d.attempts, d.manual, d.resume_at
    FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id LEFT JOIN repositories r ON r.id = w.repo_id
    WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= ?
      AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= ?)
      AND w.active = 1 AND w.deleted_at IS NULL AND (r.deleted_at IS NULL OR d.event = 'repo.deleted')
      ${extra}
    ORDER BY d.next_attempt_at, d.seq`;
}

/** A row of the due scan: seq, webhook_id, id, event, status, attempts, manual, resume_at. */
type DueRow = [number, number, string, string, DeliveryStatus, number, number, number | bigint | null];

/** Smallest claim whose leases are written with one statement over a list rather than one statement per row. */
const LEASE_LIST_MIN = 8;

/** Rows read past the claim limit, so that webhooks at their in-flight limit do not starve the others. */
const CLAIM_SCAN_FACTOR = 4;

/**
 * The delivery queue of the SQLite store: claiming with leases, recording
 * attempts, releasing. Every function runs synchronously inside one
 * transaction, which SQLite serialises across processes.
 */
export class SqliteQueue {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    /** Runs one queue transaction at the queue's connection settings. */
    private readonly atQueueLevel: <T>(run: () => T) => T = (run) => run(),
  ) {
    this.statements = {
      leasedPerWebhook: db
        .prepare('SELECT webhook_id, COUNT(*) AS n FROM deliveries WHERE lease_expires_at IS NOT NULL AND lease_expires_at > ? GROUP BY webhook_id')
        .raw(),
      // Reads no body, so rows that are skipped cost no body copy. The caller stops iterating once it has enough. A
      // bound LIMIT parameter instead made each call several times slower (measured here). Columns are read by position.
      dueKeys: db.prepare(dueKeysSql('')).raw(),
      // The same, without the rows of webhooks at their in-flight limit: SQLite skips those faster than the caller.
      dueKeysUnsaturated: db.prepare(dueKeysSql('AND d.webhook_id NOT IN (SELECT value FROM json_each(?))')).raw(),
      // One row per call: for the batch sizes of a claim, a statement per row costs less than one over a json_each list.
      claimedBody: db.prepare('SELECT body FROM delivery_bodies WHERE seq = ?').pluck(),
      scheduledAttempts: db.prepare("SELECT COUNT(*) FROM attempts WHERE delivery_seq = ? AND trigger = 'scheduled'").pluck(),
      claimedWebhook: db.prepare('SELECT id, url, secret, previous_secret, previous_secret_expires_at, insecure_ssl FROM webhooks WHERE id = ?'),
      openWebhooks: db.prepare('SELECT id FROM webhooks WHERE deleted_at IS NULL').pluck(),
      // Each lease token is the claim's own prefix plus the row number. A statement per row suits a few rows, one over
      // a json_each list suits many (the cut-over measured with the drain and the latency store micro-benchmarks).
      lease: db.prepare('UPDATE deliveries SET lease_owner = ?, lease_token = ?, lease_expires_at = ? WHERE seq = ?'),
      leaseList: db.prepare(`
        UPDATE deliveries SET lease_owner = ?, lease_token = ? || seq, lease_expires_at = ?
        WHERE seq IN (SELECT value FROM json_each(?))`),
      // This statement and `finish` take positional parameters: binding by name costs a property lookup per parameter on every row.
      insertAttempt: db.prepare(`
        INSERT INTO attempts (delivery_seq, attempt, trigger, started_at, duration_ms, request_headers, status_code,
          response_headers, response_body, response_body_truncated, error_code, error_message, outcome)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (delivery_seq, attempt) DO NOTHING`),
      // Used when two workers made the same attempt number after a lost lease: the late one is appended.
      appendAttempt: db.prepare(`
        INSERT INTO attempts (delivery_seq, attempt, trigger, started_at, duration_ms, request_headers, status_code,
          response_headers, response_body, response_body_truncated, error_code, error_message, outcome)
        VALUES (@seq, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE delivery_seq = @seq), @trigger, @started_at,
          @duration_ms, @request_headers, @status_code, @response_headers, @response_body, @truncated, @error_code,
          @error_message, @outcome)`),
      recordedAttempt: db.prepare('SELECT started_at, duration_ms FROM attempts WHERE delivery_seq = ? AND attempt = ?'),
      finish: db.prepare(`
        UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, resume_at = ?,
          manual = 0, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
          last_status_code = ?, last_error = ?, updated_at = ?
        WHERE seq = ? AND lease_token = ?`),
      webhookState: db.prepare(`
        SELECT w.active, w.deleted_at, r.deleted_at AS repo_deleted_at
        FROM webhooks w LEFT JOIN repositories r ON r.id = w.repo_id WHERE w.id = ?`),
      // Parameters: delivery id, event, status, status code, time, reset flag, first failure (given twice), webhook id.
      touchWebhook: db.prepare(`
        UPDATE webhooks SET last_delivery_id = ?, last_delivery_event = ?, last_delivery_status = ?,
          last_status_code = ?, last_delivery_at = ?,
          failing_since = CASE WHEN ? = 1 THEN ? ELSE COALESCE(failing_since, ?) END
        WHERE id = ?`),
      release: db.prepare(
        'UPDATE deliveries SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = ? AND lease_token = ?',
      ),
      postpone: db.prepare(`
        UPDATE deliveries SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, next_attempt_at = ?, last_error = ?, updated_at = ?
        WHERE id = ? AND lease_token = ?`),
      nextDue: db.prepare('SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE next_attempt_at IS NOT NULL'),
      // Every delivery waiting for an attempt has a due time: pending, retrying, and failed or delivered ones queued for a redelivery or a replay.
      queueSize: db.prepare('SELECT COUNT(*) AS n FROM deliveries WHERE next_attempt_at IS NOT NULL'),
    };
  }

  claim(options: ClaimOptions): ClaimedDelivery[] {
    const run = this.db.transaction(() => this.claimWithin(options));
    return this.atQueueLevel(() => run.immediate());
  }

  /** Runs a claim inside the write transaction that the caller opened on this queue's connection. */
  claimWithin(options: ClaimOptions): ClaimedDelivery[] {
    if (options.limit <= 0) return [];
    const leased = new Map<number, number>();
    for (const [webhookId, n] of this.statements.leasedPerWebhook.all(options.now) as [number, number][]) leased.set(webhookId, n);
    const saturated = [...leased].filter(([, n]) => n >= options.maxInFlightPerWebhook).map(([id]) => id);
    const target = Math.min(options.limit, this.freeSlots(leased, options.maxInFlightPerWebhook, options.limit));
    if (target === 0) return [];

    // Once `target` rows are picked every webhook is at its limit, so the rest of the scan could only skip rows.
    const picked: DueRow[] = [];
    const { dueKeys, dueKeysUnsaturated } = this.statements;
    const candidates = (
      saturated.length === 0
        ? dueKeys.iterate(options.now, options.now)
        : dueKeysUnsaturated.iterate(options.now, options.now, JSON.stringify(saturated))
    ) as IterableIterator<DueRow>;
    const webhookIds = new Set<number>();
    let scanned = 0;
    const scanLimit = options.limit * CLAIM_SCAN_FACTOR;
    for (const row of candidates) {
      const webhookId = row[1];
      const inFlight = leased.get(webhookId) ?? 0;
      if (inFlight < options.maxInFlightPerWebhook) {
        leased.set(webhookId, inFlight + 1);
        picked.push(row);
        webhookIds.add(webhookId);
        if (picked.length >= target) break;
      }
      if (++scanned >= scanLimit) break;
    }

    if (picked.length === 0) return [];
    const prefix = `${options.workerId}:${randomUUID()}:`;
    const until = options.now + options.leaseMs;
    const { lease, leaseList, claimedBody, scheduledAttempts } = this.statements;
    if (picked.length >= LEASE_LIST_MIN) leaseList.run(options.workerId, prefix, until, JSON.stringify(picked.map((row) => row[0])));
    else for (const row of picked) lease.run(options.workerId, prefix + String(row[0]), until, row[0]);
    const webhooks = this.claimedWebhooks(webhookIds);
    return picked.map(([seq, webhookId, id, event, status, attempts, manual, resumeAt]) => ({
      id,
      seq,
      webhookId,
      event,
      body: claimedBody.get(seq) as Buffer,
      status,
      attempts,
      // A first attempt has no automatic attempts before it to count.
      scheduledAttempts: attempts === 0 ? 0 : (scheduledAttempts.get(seq) as number),
      manual: manual === 1,
      resumeAt: resumeAt === null ? null : Number(resumeAt),
      leaseToken: prefix + String(seq),
      webhook: webhooks.get(webhookId)!,
    }));
  }

  /** Reads the sending details of each webhook of a claimed batch. */
  private claimedWebhooks(ids: Set<number>): Map<number, ClaimedDelivery['webhook']> {
    const webhooks = new Map<number, ClaimedDelivery['webhook']>();
    for (const id of ids) {
      const webhook = toClaimedWebhook(this.statements.claimedWebhook.get(id) as Row);
      webhooks.set(webhook.id, webhook);
    }
    return webhooks;
  }

  /**
   * Counts the requests that webhooks not yet deleted may still start, or
   * returns `cap` when there are at least that many. Reads at most enough
   * webhook rows to tell: past `leased.size` rows, each webhook has no lease
   * and adds `perWebhook` slots.
   */
  private freeSlots(leased: Map<number, number>, perWebhook: number, cap: number): number {
    const enough = leased.size + Math.ceil(cap / perWebhook) + 1;
    const ids: number[] = [];
    for (const id of this.statements.openWebhooks.iterate() as IterableIterator<number>) {
      ids.push(id);
      if (ids.length >= enough) return cap;
    }
    let free = 0;
    for (const id of ids) free += Math.max(0, perWebhook - (leased.get(id) ?? 0));
    return Math.min(free, cap);
  }

  /** Records a batch of attempts and, with `claimNext`, claims again in the same transaction: one commit instead of two. */
  complete(results: AttemptResult[], now: number, claimNext?: ClaimOptions): ClaimedDelivery[] {
    const run = this.db.transaction((): ClaimedDelivery[] => {
      this.recordWithin(results, now);
      return claimNext ? this.claimWithin(claimNext) : [];
    });
    return this.atQueueLevel(() => run.immediate());
  }

  /**
   * Records a batch of attempts inside the write transaction that the caller
   * opened on this queue's connection. Recording the same result again, after
   * a commit whose outcome was not reported, changes nothing.
   */
  recordWithin(results: AttemptResult[], now: number): void {
    const usable = new Map<number, boolean>();
    const touches = new Map<number, WebhookTouch>();
    const { insertAttempt, appendAttempt, recordedAttempt, finish } = this.statements;
    for (const result of results) {
      const seq = result.seq;
      const attempt = result.attempt;
      const requestHeaders = JSON.stringify(attempt.requestHeaders);
      const responseHeaders = attempt.responseHeaders ? JSON.stringify(attempt.responseHeaders) : null;
      const truncated = attempt.responseBodyTruncated ? 1 : 0;
      const inserted = insertAttempt.run(seq, attempt.attempt, attempt.trigger, attempt.startedAt, attempt.durationMs, requestHeaders,
        attempt.statusCode, responseHeaders, attempt.responseBody, truncated, attempt.errorCode, attempt.errorMessage, result.status);
      if (inserted.changes === 0) {
        // The same start time and duration mean this very result, recorded before; another worker's attempt differs.
        const recorded = recordedAttempt.get(seq, attempt.attempt) as Row;
        if (Number(recorded.started_at) === attempt.startedAt && Number(recorded.duration_ms) === attempt.durationMs) continue;
        appendAttempt.run({
          seq, trigger: attempt.trigger, started_at: attempt.startedAt, duration_ms: attempt.durationMs, request_headers: requestHeaders,
          status_code: attempt.statusCode, response_headers: responseHeaders, response_body: attempt.responseBody, truncated,
          error_code: attempt.errorCode, error_message: attempt.errorMessage, outcome: result.status,
        });
      }

      // A retry for a webhook deleted or deactivated during the attempt would never be claimed. Once its repository is
      // deleted, a webhook's deliveries are out of the API's reach, so its last one, repo.deleted, gets no retries.
      const status = result.status === DeliveryStatus.retrying && !this.webhookUsable(result.webhookId, usable) ? DeliveryStatus.cancelled : result.status;
      const waiting = status === DeliveryStatus.retrying;
      const finished = finish.run(status, waiting ? result.nextAttemptAt : null, waiting ? null : result.resumeAt, attempt.statusCode,
        attempt.errorMessage, now, seq, result.leaseToken);
      // A lost lease: another worker owns the delivery now, and only its result moves the delivery on.
      if (finished.changes === 0) continue;
      foldTouch(touches, result, status);
    }
    // One update per webhook per batch: the last attempt wins, and failing_since follows the batch in order.
    for (const [webhook, touch] of touches) {
      this.statements.touchWebhook.run(touch.id, touch.event, touch.status, touch.code, touch.at, touch.reset, touch.fail_at, touch.fail_at, webhook);
    }
  }

  /** Reports whether a webhook is active and neither it nor its repository is deleted, reading each webhook once per batch. */
  private webhookUsable(webhookId: number, known: Map<number, boolean>): boolean {
    let usable = known.get(webhookId);
    if (usable === undefined) {
      const state = this.statements.webhookState.get(webhookId) as Row | undefined;
      usable = !!state && Number(state.active) === 1 && state.deleted_at === null && state.repo_deleted_at === null;
      known.set(webhookId, usable);
    }
    return usable;
  }

  release(leases: { deliveryId: string; leaseToken: string }[]): void {
    const run = this.db.transaction(() => {
      for (const lease of leases) this.statements.release.run(lease.deliveryId, lease.leaseToken);
    });
    this.atQueueLevel(() => run.immediate());
  }

  postpone(leases: { deliveryId: string; leaseToken: string }[], until: number, reason: string, now: number): void {
    const run = this.db.transaction(() => {
      for (const lease of leases) this.statements.postpone.run(until, reason, now, lease.deliveryId, lease.leaseToken);
    });
    this.atQueueLevel(() => run.immediate());
  }

  nextDueAt(): number | null {
    const row = this.statements.nextDue.get() as Row;
    return row.at === null ? null : Number(row.at);
  }

  queueSize(): number {
    return Number((this.statements.queueSize.get() as Row).n);
  }
}

/** The webhook columns one batch of attempts leaves behind. */
interface WebhookTouch {
  id: string;
  event: string;
  status: string;
  code: number | null;
  at: number;
  /** 1 when an attempt of the batch delivered, so failing_since restarts from `fail_at`. */
  reset: 0 | 1;
  /** First failure after the batch's last success, or null. */
  fail_at: number | null;
}

/** Folds one attempt into its webhook's touch, in batch order. */
function foldTouch(touches: Map<number, WebhookTouch>, result: AttemptResult, status: string): void {
  const at = result.attempt.startedAt;
  const delivered = status === DeliveryStatus.delivered;
  const previous = touches.get(result.webhookId);
  const touch: WebhookTouch = {
    id: result.deliveryId,
    event: result.event,
    status,
    code: result.attempt.statusCode,
    at,
    reset: delivered || previous?.reset === 1 ? 1 : 0,
    fail_at: delivered ? null : (previous?.fail_at ?? at),
  };
  touches.set(result.webhookId, touch);
}

