import type pg from 'pg';
import type { AttemptResult, ClaimedDelivery, ClaimOptions } from '../types.js';
import { toClaimedDelivery, type Row } from '../rows.js';
import { prepared, retryAborted } from './pool.js';
import { WORK_CHANNEL } from './work-listener.js';

const claimDue = prepared('dits_claim_due', 'SELECT * FROM claim_due_deliveries($1, $2, $3, $4, $5)');

// The function takes row locks in the order every writer uses: webhooks, then deliveries.
// A deadlock that slips through aborts the call, and retryAborted runs it again.
const completeAttempts = prepared(
  'dits_complete_attempts',
  'SELECT * FROM complete_attempts($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)',
);

const release = prepared(
  'dits_release',
  `WITH released AS (
     UPDATE deliveries d SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
     FROM unnest($1::text[], $2::text[]) AS l(id, token)
     WHERE d.id = l.id AND d.lease_token = l.token
     RETURNING 1
   )
   SELECT pg_notify('${WORK_CHANNEL}', current_schema()) FROM (SELECT count(*) AS n FROM released) c WHERE c.n > 0`,
);

const postpone = prepared(
  'dits_postpone',
  `UPDATE deliveries d SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, next_attempt_at = $3, last_error = $4, updated_at = $5
   FROM unnest($1::text[], $2::text[]) AS l(id, token)
   WHERE d.id = l.id AND d.lease_token = l.token`,
);

// Only deliveries attempted before need the count, so a first attempt costs no extra query.
const scheduledAttempts = prepared(
  'dits_scheduled_attempts',
  "SELECT delivery_seq, count(*)::int AS n FROM attempts WHERE delivery_seq = ANY($1::bigint[]) AND trigger = 'scheduled' GROUP BY delivery_seq",
);

const nextDue = prepared('dits_next_due', 'SELECT min(next_attempt_at) AS at FROM deliveries WHERE next_attempt_at IS NOT NULL');
// Every delivery waiting for an attempt has a due time: pending, retrying, and failed or delivered ones queued for a
// redelivery or a replay. The partial due index contains exactly those rows.
const queueSize = prepared('dits_queue_size', 'SELECT count(*) AS n FROM deliveries WHERE next_attempt_at IS NOT NULL');

/** The delivery queue of the PostgreSQL store: leasing, recording attempts, releasing. */
export class PostgresQueue {
  constructor(private readonly pool: pg.Pool) {}

  async claim(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    const { rows } = await this.pool.query(
      claimDue([
        options.workerId,
        options.now,
        options.leaseMs,
        options.limit,
        options.maxInFlightPerWebhook,
      ]),
    );
    const claimed = rows.map(toClaimedDelivery);
    const retried = claimed.filter((delivery) => delivery.attempts > 0);
    if (retried.length > 0) {
      const counts = await this.pool.query(scheduledAttempts([retried.map((delivery) => delivery.seq)]));
      const bySeq = new Map(counts.rows.map((row: Row) => [Number(row.delivery_seq), Number(row.n)]));
      for (const delivery of retried) delivery.scheduledAttempts = bySeq.get(delivery.seq) ?? 0;
    }
    return claimed;
  }

  async complete(results: AttemptResult[], now: number): Promise<void> {
    if (results.length === 0) return;
    const query = completeAttempts(attemptColumns(results, now));
    await retryAborted(() => this.pool.query(query));
  }

  async release(leases: { deliveryId: string; leaseToken: string }[]): Promise<void> {
    if (leases.length === 0) return;
    await this.pool.query(release([leases.map((l) => l.deliveryId), leases.map((l) => l.leaseToken)]));
  }

  async postpone(leases: { deliveryId: string; leaseToken: string }[], until: number, reason: string, now: number): Promise<void> {
    if (leases.length === 0) return;
    await this.pool.query(postpone([leases.map((l) => l.deliveryId), leases.map((l) => l.leaseToken), until, reason, now]));
  }

  async nextDueAt(): Promise<number | null> {
    const { rows } = await this.pool.query(nextDue());
    return rows[0].at === null ? null : Number(rows[0].at);
  }

  async queueSize(): Promise<number> {
    const { rows } = await this.pool.query(queueSize());
    return Number(rows[0].n);
  }
}

function attemptColumns(results: AttemptResult[], now: number): unknown[] {
  const attempts = results.map((r) => r.attempt);
  return [
    now,
    results.map((r) => r.deliveryId),
    results.map((r) => r.leaseToken),
    results.map((r) => r.webhookId),
    results.map((r) => r.event),
    results.map((r) => r.status),
    results.map((r) => r.nextAttemptAt),
    results.map((r) => r.resumeAt),
    attempts.map((a) => a.trigger),
    attempts.map((a) => a.startedAt),
    attempts.map((a) => a.durationMs),
    attempts.map((a) => JSON.stringify(a.requestHeaders)),
    attempts.map((a) => a.statusCode),
    attempts.map((a) => (a.responseHeaders ? JSON.stringify(a.responseHeaders) : null)),
    attempts.map((a) => a.responseBody),
    attempts.map((a) => a.responseBodyTruncated),
    attempts.map((a) => a.errorCode),
    attempts.map((a) => a.errorMessage),
  ];
}

