/**
 * Named statements of the PostgreSQL store's resource methods. Statements
 * whose SET or WHERE list depends on the request are built in the store.
 */
import { prepared } from './pool.js';
import { WORK_CHANNEL } from './work-listener.js';

// The announcement goes out with the transaction that makes the delivery visible.
const announceWork = `pg_notify('${WORK_CHANNEL}', current_schema())`;

export const insertRepository = prepared(
  'dits_repo_insert',
  `INSERT INTO repositories (owner, name, private, description, default_branch, created_at, updated_at)
   VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *`,
);
export const repositoryById = prepared('dits_repo_by_id', 'SELECT * FROM repositories WHERE id = $1 AND deleted_at IS NULL');
export const repositoryByName = prepared(
  'dits_repo_by_name',
  'SELECT * FROM repositories WHERE lower(owner) = lower($1) AND lower(name) = lower($2) AND deleted_at IS NULL',
);
export const listRepositories = prepared(
  'dits_repo_list',
  `SELECT * FROM repositories WHERE deleted_at IS NULL AND id > $1 AND ($2::text IS NULL OR lower(owner) = lower($2))
   ORDER BY id LIMIT $3`,
);
export const deleteRepository = prepared(
  'dits_repo_delete',
  'UPDATE repositories SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL',
);

/**
 * Builds a statement that cancels what waits for an attempt among the
 * deliveries `where` selects, leaving leased rows to their worker. A pending
 * or retrying delivery ends as cancelled. A finished one that a redelivery or
 * a replay queued again keeps its status. Each replay counts its attempts
 * cancelled here. Rows are locked in seq order, so two
 * cancellations never wait on each other in a cycle, and a row claimed
 * meanwhile is re-checked after the wait and left out. `now` is the
 * placeholder of the current time. Returns the number of rows changed as `n`.
 */
function cancelQueued(name: string, where: string, now: string) {
  return prepared(
    name,
    `WITH c AS (
       SELECT seq, manual, replay_id FROM deliveries
       WHERE next_attempt_at IS NOT NULL AND (lease_expires_at IS NULL OR lease_expires_at <= ${now}) AND ${where}
       ORDER BY seq FOR UPDATE
     ), cancelled AS (
       UPDATE deliveries d
       SET status = CASE WHEN d.status IN ('pending', 'retrying') THEN 'cancelled' ELSE d.status END,
           next_attempt_at = NULL, manual = false, resume_at = NULL, updated_at = ${now}
       FROM c WHERE d.seq = c.seq
       RETURNING d.seq, d.id, d.webhook_id, d.status
     ), stale AS (
       -- A webhook whose last delivery was waiting shows it as cancelled too. Its row is locked once every delivery row
       -- is, and in id order, as attempt records update webhooks, so that the two never wait on each other in a cycle.
       SELECT w.id FROM webhooks w JOIN cancelled x ON w.id = x.webhook_id AND w.last_delivery_id = x.id
       WHERE x.status = 'cancelled' AND w.last_delivery_status IN ('pending', 'retrying')
       ORDER BY w.id FOR NO KEY UPDATE OF w
     ), touched AS (
       UPDATE webhooks w SET last_delivery_status = 'cancelled' FROM stale s WHERE w.id = s.id
     ), counted AS (
       UPDATE replays r SET cancelled = r.cancelled + x.n
       FROM (SELECT replay_id, count(*) AS n FROM c WHERE manual AND replay_id IS NOT NULL GROUP BY replay_id) x
       WHERE r.id = x.replay_id
     )
     SELECT count(*) AS n FROM cancelled`,
  );
}

/**
 * Cancels the waiting deliveries of a deleted repository's own webhooks, except its `repo.deleted` event before its
 * one attempt. One that a worker already made and set to retry before the deletion is cancelled too.
 */
export const cancelDeletedRepositoryDeliveries = cancelQueued(
  'dits_repo_delete_cancel',
  `webhook_id IN (SELECT id FROM webhooks WHERE repo_id = $1 AND deleted_at IS NULL) AND (event <> 'repo.deleted' OR attempts > 0)`,
  '$2',
);

export const lockScope = prepared('dits_scope_lock', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))');
export const insertWebhook = prepared(
  'dits_webhook_insert',
  `INSERT INTO webhooks (repo_id, owner, url, events, filters, active, secret, insecure_ssl, created_at, updated_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING *`,
);
/** Locks the webhooks of one repository, in id order, against ingestion and attempt records in progress; see lockWebhookForChange. */
export const lockRepositoryWebhooks = prepared(
  'dits_repo_webhooks_lock',
  'SELECT 1 FROM webhooks WHERE repo_id = $1 AND deleted_at IS NULL ORDER BY id FOR UPDATE',
);

// FOR UPDATE is the one row lock that conflicts with the FOR KEY SHARE of ingestion and attempt
// records, so a change of the active flag waits for those in progress and they see it afterwards.
export const lockWebhookForChange = prepared('dits_webhook_lock', 'SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE');
export const disableWebhook = prepared(
  'dits_webhook_disable',
  'UPDATE webhooks SET active = false, disabled_reason = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL',
);
export const failingWebhooks = prepared(
  'dits_webhook_failing',
  'SELECT id FROM webhooks WHERE active AND deleted_at IS NULL AND failing_since IS NOT NULL AND failing_since <= $1',
);

/** Cancels what waits for an automatic or manual attempt of one webhook. */
export const cancelWaiting = cancelQueued('dits_delivery_cancel_waiting', 'webhook_id = $1', '$2');

/**
 * Like cancelWaiting, for every deleted or deactivated webhook at once, and for the webhooks of deleted
 * repositories as cancelDeletedRepositoryDeliveries: what their workers gave back unfinished.
 */
export const cancelAbandoned = cancelQueued(
  'dits_delivery_cancel_abandoned',
  `(webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NOT NULL OR NOT active)
    OR (webhook_id IN (SELECT w.id FROM webhooks w JOIN repositories rp ON rp.id = w.repo_id WHERE rp.deleted_at IS NOT NULL)
        AND (event <> 'repo.deleted' OR attempts > 0)))`,
  '$1',
);

export const insertToken = prepared(
  'dits_token_insert',
  'INSERT INTO tokens (name, scopes, hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
);
export const tokenByHash = prepared('dits_token_by_hash', 'SELECT * FROM tokens WHERE hash = $1');
export const touchToken = prepared('dits_token_touch', 'UPDATE tokens SET last_used_at = $2 WHERE id = $1');

export const insertDirectDelivery = prepared(
  'dits_delivery_insert_direct',
  `WITH inserted AS (
     INSERT INTO deliveries (id, webhook_id, event_id, event, status, body, next_attempt_at, created_at, updated_at)
     VALUES ($1, $2, NULL, $3, 'pending', $4, $5, $5, $5) RETURNING 1
   )
   SELECT ${announceWork} FROM inserted`,
);
// octet_length of a stored (TOASTed) payload reads its size without fetching the value.
export const eventSizesAfter = prepared(
  'dits_event_sizes_after',
  'SELECT seq, octet_length(payload) AS size FROM events WHERE repo_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
);
export const eventSizesBefore = prepared(
  'dits_event_sizes_before',
  'SELECT seq, octet_length(payload) AS size FROM events WHERE repo_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3',
);
export const eventsBySeq = prepared('dits_events_by_seq', 'SELECT * FROM events WHERE seq = ANY($1::bigint[])');

export const listDeliveries = prepared(
  'dits_delivery_list',
  `SELECT seq, id, webhook_id, event_id, event, status, attempts, next_attempt_at, last_status_code, last_error, created_at, updated_at
   FROM deliveries
   WHERE webhook_id = $1 AND seq < $2 AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR event = $4)
   ORDER BY seq DESC LIMIT $5`,
);
export const deliveryById = prepared('dits_delivery_by_id', 'SELECT * FROM deliveries WHERE id = $1 AND webhook_id = $2');
export const deliveryExists = prepared('dits_delivery_exists', 'SELECT 1 FROM deliveries WHERE id = $1 AND webhook_id = $2');
export const attemptsOf = prepared('dits_delivery_attempts', 'SELECT * FROM attempts WHERE delivery_seq = $1 ORDER BY attempt');

// A manual attempt is rejected while a worker has the lease or another manual attempt waits.
// The caller separates those cases from a missing delivery with deliveryExists.
// FOR SHARE conflicts with the FOR UPDATE that deactivation and deletion take: either the change comes
// first and the webhook is seen inactive, or it waits for this statement and then cancels what it queued.
export const lockActiveWebhook = prepared(
  'dits_webhook_lock_active',
  'SELECT active AND deleted_at IS NULL AS usable FROM webhooks WHERE id = $1 FOR SHARE',
);

export const requestRedelivery = prepared(
  'dits_delivery_redeliver',
  `WITH updated AS (
     UPDATE deliveries
     SET manual = true, replay_id = NULL, resume_at = CASE WHEN status IN ('retrying', 'pending') THEN next_attempt_at END, next_attempt_at = $3, updated_at = $3
     WHERE id = $1 AND webhook_id = $2 AND NOT manual AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
     RETURNING *
   )
   SELECT u.*, ${announceWork} AS announced FROM updated u`,
);
