import { assertKnownSchema } from '../schema-version.js';
import type pg from 'pg';

/**
 * Numbered, append-only PostgreSQL migrations; `schema_migrations` records
 * the ones applied. Column names match the SQLite store so that one set of
 * row mappers reads both. Times are BIGINT milliseconds since the Unix epoch,
 * JSON values are TEXT as written by JSON.stringify, bodies are BYTEA.
 */
/**
 * Returns the SQL that creates the function leasing due deliveries. The
 * slots of the claimable webhooks carry `webhookColumns`, read from the
 * webhook `w` and the tables that `joins` adds, and a waiting delivery `d`
 * of the webhook's slot `s` is leased when `claimable` holds. `moreCandidates`
 * adds a second set of candidates with UNION ALL, or is ''.
 */
function claimDueDeliveriesFunction(
  command: 'CREATE FUNCTION' | 'CREATE OR REPLACE FUNCTION',
  webhookColumns: string,
  joins: string,
  claimable: string,
  moreCandidates = '',
): string {
  return `${command} claim_due_deliveries(
  p_worker TEXT, p_now BIGINT, p_lease_ms BIGINT, p_limit INTEGER, p_max_per_webhook INTEGER
) RETURNS TABLE (
  seq BIGINT, id TEXT, webhook_id BIGINT, event TEXT, body BYTEA, status TEXT, attempts INTEGER, manual BOOLEAN,
  resume_at BIGINT, lease_token TEXT, url TEXT, secret TEXT, previous_secret TEXT, previous_secret_expires_at BIGINT,
  insecure_ssl BOOLEAN
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_webhooks BIGINT[];
  v_webhook BIGINT;
BEGIN
  -- Webhooks with waiting deliveries, by a loose index scan (one probe per webhook), kept when
  -- their earliest waiting delivery is due and they have a free place in this snapshot. Ordering by
  -- (webhook_id, next_attempt_at) lets only the partial index deliveries_waiting_per_webhook serve
  -- the probes; through the full deliveries_webhook index they would walk every finished delivery.
  WITH RECURSIVE waiting (webhook_id, first_due) AS (
    (SELECT d.webhook_id, d.next_attempt_at FROM deliveries d
     WHERE d.next_attempt_at IS NOT NULL ORDER BY d.webhook_id, d.next_attempt_at LIMIT 1)
    UNION ALL
    SELECT n.webhook_id, n.next_attempt_at
    FROM waiting w
    CROSS JOIN LATERAL (
      SELECT d.webhook_id, d.next_attempt_at FROM deliveries d
      WHERE d.next_attempt_at IS NOT NULL AND d.webhook_id > w.webhook_id
      ORDER BY d.webhook_id, d.next_attempt_at LIMIT 1
    ) n
  )
  SELECT array_agg(w.webhook_id ORDER BY w.webhook_id) INTO v_webhooks
  FROM waiting w
  WHERE w.first_due <= p_now
    AND (SELECT count(*) FROM (
           SELECT 1 FROM deliveries l
           WHERE l.webhook_id = w.webhook_id AND l.lease_expires_at IS NOT NULL AND l.lease_expires_at > p_now
           LIMIT p_max_per_webhook) live) < p_max_per_webhook;
  IF v_webhooks IS NULL THEN
    RETURN;
  END IF;

  FOREACH v_webhook IN ARRAY v_webhooks LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended('dits_webhooks.claim:' || current_schema() || ':' || v_webhook, 0));
  END LOOP;

  RETURN QUERY
  WITH slots AS (
    SELECT h.webhook_id, ${webhookColumns},
           p_max_per_webhook - (SELECT count(*) FROM (
                                  SELECT 1 FROM deliveries l
                                  WHERE l.webhook_id = h.webhook_id AND l.lease_expires_at IS NOT NULL AND l.lease_expires_at > p_now
                                  LIMIT p_max_per_webhook) live) AS free
    FROM unnest(v_webhooks) AS h (webhook_id)
    JOIN webhooks w ON w.id = h.webhook_id AND w.deleted_at IS NULL${joins}
  ), candidates AS (
    SELECT c.seq, c.next_attempt_at
    FROM slots s
    CROSS JOIN LATERAL (
      SELECT d.seq, d.next_attempt_at FROM deliveries d
      WHERE d.webhook_id = s.webhook_id AND d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= p_now
        AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= p_now) AND ${claimable}
      ORDER BY d.next_attempt_at, d.seq
      LIMIT LEAST(GREATEST(s.free, 0), p_limit)
      FOR UPDATE OF d SKIP LOCKED
    ) c${moreCandidates}
  ), chosen AS (
    SELECT c.seq FROM candidates c ORDER BY c.next_attempt_at, c.seq LIMIT p_limit
  ), leased AS (
    UPDATE deliveries d
    SET lease_owner = p_worker, lease_token = p_worker || ':' || gen_random_uuid(), lease_expires_at = p_now + p_lease_ms
    FROM chosen WHERE d.seq = chosen.seq
    RETURNING d.seq, d.id, d.webhook_id, d.event, d.body, d.status, d.attempts, d.manual, d.resume_at, d.lease_token,
              d.next_attempt_at
  )
  SELECT l.seq, l.id, l.webhook_id, l.event, l.body, l.status, l.attempts, l.manual, l.resume_at, l.lease_token,
         w.url, w.secret, w.previous_secret, w.previous_secret_expires_at, w.insecure_ssl
  FROM leased l JOIN webhooks w ON w.id = l.webhook_id
  ORDER BY l.next_attempt_at, l.seq;
END;
$$;
`;
}

/**
 * Returns the SQL that creates the function recording a batch of attempts.
 * `usable` is the condition, over the webhook `w` and the tables that `joins`
 * adds, under which a retry stays queued; otherwise the delivery is cancelled.
 */
function completeAttemptsFunction(command: 'CREATE FUNCTION' | 'CREATE OR REPLACE FUNCTION', usable: string, joins: string): string {
  return `${command} complete_attempts(
  p_now BIGINT, p_delivery_ids TEXT[], p_lease_tokens TEXT[], p_webhook_ids BIGINT[], p_events TEXT[], p_outcomes TEXT[],
  p_next_attempt_at BIGINT[], p_resume_at BIGINT[], p_triggers TEXT[], p_started_at BIGINT[], p_duration_ms DOUBLE PRECISION[],
  p_request_headers TEXT[], p_status_codes INTEGER[], p_response_headers TEXT[], p_response_bodies BYTEA[],
  p_truncated BOOLEAN[], p_error_codes TEXT[], p_error_messages TEXT[]
) RETURNS SETOF TEXT LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM 1 FROM webhooks w WHERE w.id = ANY (p_webhook_ids) ORDER BY w.id FOR KEY SHARE;
  PERFORM 1 FROM deliveries d WHERE d.id = ANY (p_delivery_ids) ORDER BY d.seq FOR NO KEY UPDATE;

  RETURN QUERY
  WITH r AS (
    SELECT * FROM unnest(p_delivery_ids, p_lease_tokens, p_webhook_ids, p_events, p_outcomes, p_next_attempt_at, p_resume_at,
                         p_triggers, p_started_at, p_duration_ms, p_request_headers, p_status_codes, p_response_headers,
                         p_response_bodies, p_truncated, p_error_codes, p_error_messages)
      WITH ORDINALITY AS r (delivery_id, lease_token, webhook_id, event, outcome, next_attempt_at, resume_at, trigger,
                            started_at, duration_ms, request_headers, status_code, response_headers, response_body,
                            truncated, error_code, error_message, ord)
  ), target AS (
    -- A retry for a webhook deleted or deactivated during the attempt would never be claimed.
    SELECT r.*, d.seq,
           CASE WHEN r.outcome = 'retrying' AND NOT COALESCE(${usable}, false)
                THEN 'cancelled' ELSE r.outcome END AS final_status
    FROM r JOIN deliveries d ON d.id = r.delivery_id LEFT JOIN webhooks w ON w.id = r.webhook_id${joins}
  ), inserted AS (
    INSERT INTO attempts (delivery_seq, attempt, trigger, started_at, duration_ms, request_headers, status_code,
                          response_headers, response_body, response_body_truncated, error_code, error_message, outcome)
    SELECT t.seq,
           COALESCE((SELECT max(a.attempt) FROM attempts a WHERE a.delivery_seq = t.seq), 0)
             + row_number() OVER (PARTITION BY t.seq ORDER BY t.ord),
           t.trigger, t.started_at, t.duration_ms, t.request_headers, t.status_code, t.response_headers, t.response_body,
           t.truncated, t.error_code, t.error_message, t.outcome
    FROM target t
  ), moved AS (
    UPDATE deliveries d
    SET status = t.final_status, attempts = d.attempts + 1,
        next_attempt_at = CASE WHEN t.final_status = 'retrying' THEN t.next_attempt_at END,
        resume_at = CASE WHEN t.final_status = 'retrying' THEN NULL ELSE t.resume_at END,
        manual = false, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
        last_status_code = t.status_code, last_error = t.error_message, updated_at = p_now
    FROM target t
    WHERE d.seq = t.seq AND d.lease_token = t.lease_token
    RETURNING t.delivery_id, t.webhook_id, t.event, t.final_status, t.status_code, t.started_at, t.ord
  ), folded AS (
    SELECT m.webhook_id,
           (array_agg(m.delivery_id ORDER BY m.ord DESC))[1] AS delivery_id,
           (array_agg(m.event ORDER BY m.ord DESC))[1] AS event,
           (array_agg(m.final_status ORDER BY m.ord DESC))[1] AS status,
           (array_agg(m.status_code ORDER BY m.ord DESC))[1] AS status_code,
           (array_agg(m.started_at ORDER BY m.ord DESC))[1] AS at,
           max(m.ord) AS last_ord,
           max(m.ord) FILTER (WHERE m.final_status = 'delivered') AS delivered_ord,
           array_agg(m.started_at ORDER BY m.ord) FILTER (WHERE m.final_status <> 'delivered') AS failed_at,
           array_agg(m.ord ORDER BY m.ord) FILTER (WHERE m.final_status <> 'delivered') AS failed_ord
    FROM moved m GROUP BY m.webhook_id
  ), touched AS (
    UPDATE webhooks w
    SET last_delivery_id = f.delivery_id, last_delivery_event = f.event, last_delivery_status = f.status,
        last_status_code = f.status_code, last_delivery_at = f.at,
        failing_since = CASE
          WHEN f.delivered_ord = f.last_ord THEN NULL
          WHEN f.delivered_ord IS NOT NULL THEN
            (SELECT x.at FROM unnest(f.failed_at, f.failed_ord) AS x (at, ord) WHERE x.ord > f.delivered_ord ORDER BY x.ord LIMIT 1)
          ELSE COALESCE(w.failing_since, f.failed_at[1])
        END
    -- Visiting the webhooks in id order takes their row locks in the order other completers use;
    -- a deadlock that slips through aborts the call, and the caller runs it again.
    FROM (SELECT * FROM folded ORDER BY webhook_id) f
    WHERE w.id = f.webhook_id
  )
  SELECT m.delivery_id FROM moved m;
END;
$$;`;
}

export const POSTGRES_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE repositories (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  private BOOLEAN NOT NULL DEFAULT false,
  description TEXT,
  default_branch TEXT NOT NULL,
  archived BOOLEAN NOT NULL DEFAULT false,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE UNIQUE INDEX repositories_full_name ON repositories (lower(owner), lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE webhooks (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  repo_id BIGINT REFERENCES repositories (id),
  owner TEXT,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  filters TEXT,
  active BOOLEAN NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_expires_at BIGINT,
  insecure_ssl BOOLEAN NOT NULL DEFAULT false,
  disabled_reason TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT,
  last_delivery_id TEXT,
  last_delivery_event TEXT,
  last_delivery_status TEXT,
  last_status_code INTEGER,
  last_delivery_at BIGINT,
  failing_since BIGINT
);
CREATE INDEX webhooks_repo ON webhooks (repo_id) WHERE deleted_at IS NULL;
CREATE INDEX webhooks_owner ON webhooks (lower(owner)) WHERE deleted_at IS NULL;

CREATE TABLE tokens (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
);

CREATE TABLE events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  repo_id BIGINT NOT NULL,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  deliveries INTEGER NOT NULL,
  idempotency_key TEXT,
  request_hash TEXT,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_idempotency ON events (repo_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_repo ON events (repo_id, seq);

CREATE TABLE deliveries (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  webhook_id BIGINT NOT NULL,
  event_id TEXT,
  event TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'retrying', 'failed', 'cancelled')),
  body BYTEA NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  lease_owner TEXT,
  lease_token TEXT,
  lease_expires_at BIGINT,
  manual BOOLEAN NOT NULL DEFAULT false,
  resume_at BIGINT,
  last_status_code INTEGER,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.02);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, seq);
CREATE INDEX deliveries_waiting_per_webhook ON deliveries (webhook_id, next_attempt_at, seq) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_leased ON deliveries (webhook_id, lease_expires_at) WHERE lease_expires_at IS NOT NULL;

CREATE TABLE attempts (
  delivery_seq BIGINT NOT NULL,
  attempt INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  duration_ms DOUBLE PRECISION NOT NULL,
  request_headers TEXT NOT NULL,
  status_code INTEGER,
  response_headers TEXT,
  response_body BYTEA,
  response_body_truncated BOOLEAN NOT NULL DEFAULT false,
  error_code TEXT,
  error_message TEXT,
  outcome TEXT NOT NULL,
  PRIMARY KEY (delivery_seq, attempt)
);

-- Leases due deliveries in one round trip. Claimers are serialised per
-- webhook with transaction-scoped advisory locks, taken in webhook id order
-- so that two claimers never wait on each other in a cycle. The lease count
-- is read by a later statement than the one that took the locks: in READ
-- COMMITTED each statement of a VOLATILE function has a fresh snapshot, so
-- the count includes every lease committed by the previous holder of a lock.
-- Counting in the same statement as the locking would read a snapshot from
-- before the wait and could let two claimers exceed the per-webhook limit.
--
-- Work is looked up per webhook rather than along the global due order, so
-- that a backlog behind a webhook at its limit costs one index probe, not a
-- scan of its rows. The cost grows with the number of webhooks that have
-- waiting deliveries. Lease counts stop at the limit, and their LIMIT makes
-- the planner use a plain index scan: unlike a bitmap scan, it marks the
-- entries of finished leases dead, so later counts skip them.
${claimDueDeliveriesFunction('CREATE FUNCTION', 'w.active', '', '(s.active OR d.manual)')}
-- Records a batch of attempts in one round trip. Every attempt is recorded,
-- whatever its lease; a delivery moves on only while its lease token still
-- matches. Row locks, in the order every writer uses (webhooks by id, then
-- deliveries by seq):
--   * FOR KEY SHARE on the webhooks conflicts only with FOR UPDATE, which
--     deactivation and deletion take, so the active flag read below is
--     current while completers and ingestion never block each other;
--   * the delivery rows are locked before the statement that numbers the
--     attempts, so its fresh snapshot sees any attempt another completer of
--     the same delivery (a lost lease) recorded first.
-- The webhook update folds the batch in order to what one update per attempt
-- gives: a success clears failing_since and the next failure sets it anew.
${completeAttemptsFunction('CREATE FUNCTION', 'w.active AND w.deleted_at IS NULL', '')}
`,
  },
  {
    version: 2,
    sql: `
CREATE TABLE replays (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id BIGINT NOT NULL,
  since BIGINT NOT NULL,
  until BIGINT,
  only_failed BOOLEAN NOT NULL,
  total INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX replays_webhook ON replays (webhook_id, id);
ALTER TABLE deliveries ADD COLUMN replay_id BIGINT;
CREATE INDEX deliveries_replay ON deliveries (replay_id, manual) WHERE replay_id IS NOT NULL;
`,
  },
  {
    version: 3,
    // Each \`serve\` process records itself and refreshes the row while it runs, so that maintenance commands can
    // tell whether a service uses the database.
    sql: `
CREATE TABLE service_processes (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  seen_at BIGINT NOT NULL
);
`,
  },
  {
    version: 4,
    // Replay attempts cancelled before they ran (the webhook was deactivated or deleted), so that progress
    // reports them apart from the attempts made.
    sql: `
ALTER TABLE replays ADD COLUMN cancelled BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    version: 5,
    // Deliveries in a replay's range that it left out because they were in flight or already queued for a
    // manual attempt, so that a replay with a total of 0 reports why.
    sql: `
ALTER TABLE replays ADD COLUMN skipped BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    version: 6,
    // Once its repository is deleted, a webhook's deliveries are out of the API's reach, so its last one,
    // repo.deleted, gets no retries: a failed attempt cancels it.
    sql: completeAttemptsFunction(
      'CREATE OR REPLACE FUNCTION',
      'w.active AND w.deleted_at IS NULL AND rp.deleted_at IS NULL',
      ' LEFT JOIN repositories rp ON rp.id = w.repo_id',
    ),
  },
  {
    version: 7,
    // Only active webhooks get attempts, manual ones included: a redelivery or a replay that was in flight when its
    // webhook was deactivated, and that its worker gave back, is cancelled rather than sent. A deleted repository's
    // own webhooks get only its repo.deleted event, also after a worker gave back an attempt of an earlier event.
    // Those take a second scan: a condition on d.event in the first one made the planner choose a plan that halved
    // the drain of one worker (measured with npm run bench).
    sql: claimDueDeliveriesFunction(
      'CREATE OR REPLACE FUNCTION',
      'w.active, rp.deleted_at IS NOT NULL AS repo_deleted',
      ' LEFT JOIN repositories rp ON rp.id = w.repo_id',
      's.active AND NOT s.repo_deleted',
      `
    UNION ALL
    SELECT c.seq, c.next_attempt_at
    FROM slots s
    CROSS JOIN LATERAL (
      SELECT d.seq, d.next_attempt_at FROM deliveries d
      WHERE d.webhook_id = s.webhook_id AND d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= p_now
        AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= p_now) AND s.active AND s.repo_deleted
        AND d.event = 'repo.deleted'
      ORDER BY d.next_attempt_at, d.seq
      LIMIT LEAST(GREATEST(s.free, 0), p_limit)
      FOR UPDATE OF d SKIP LOCKED
    ) c`,
    ),
  },
];

/** Key of the advisory lock that serialises migrations of one schema. */
const MIGRATION_LOCK = 'dits_webhooks.migrate:';

/**
 * Creates the schema when missing and applies the migrations not yet
 * recorded, all in one transaction under an advisory lock, so that processes
 * starting together neither race nor see a half-migrated schema.
 */
export async function applyMigrations(client: pg.ClientBase, schema: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [MIGRATION_LOCK + schema]);
    // The schema name was checked against a plain-identifier pattern, so it is safe to interpolate.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
    const applied = await client.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`);
    const done = new Set(applied.rows.map((row) => Number(row.version)));
    assertKnownSchema(Math.max(0, ...done), POSTGRES_MIGRATIONS, `PostgreSQL schema ${schema}`);
    for (const migration of POSTGRES_MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${schema}.schema_migrations (version, applied_at) VALUES ($1, $2)`, [migration.version, Date.now()]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}
