/**
 * One schema step. `rewrites` marks a step that copies a whole table: the
 * old pages stay free inside the file until the database is compacted.
 */
export interface SqliteMigration {
  version: number;
  sql: string;
  rewrites?: boolean;
}

/** Numbered, append-only SQLite migrations; `user_version` records the last one applied. */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE repositories (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  private INTEGER NOT NULL DEFAULT 0,
  description TEXT,
  default_branch TEXT NOT NULL,
  archived INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE UNIQUE INDEX repositories_full_name ON repositories (lower(owner), lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE webhooks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  repo_id INTEGER REFERENCES repositories (id),
  owner TEXT,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  filters TEXT,
  active INTEGER NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_expires_at INTEGER,
  insecure_ssl INTEGER NOT NULL DEFAULT 0,
  disabled_reason TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted_at INTEGER,
  last_delivery_id TEXT,
  last_delivery_event TEXT,
  last_delivery_status TEXT,
  last_status_code INTEGER,
  last_delivery_at INTEGER,
  failing_since INTEGER
);
CREATE INDEX webhooks_repo ON webhooks (repo_id) WHERE deleted_at IS NULL;
CREATE INDEX webhooks_owner ON webhooks (lower(owner)) WHERE deleted_at IS NULL;

CREATE TABLE tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);

CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  repo_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  deliveries INTEGER NOT NULL,
  idempotency_key TEXT,
  request_hash TEXT,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_idempotency ON events (repo_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_repo ON events (repo_id, seq);

CREATE TABLE deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  webhook_id INTEGER NOT NULL,
  event_id TEXT,
  event TEXT NOT NULL,
  status TEXT NOT NULL,
  body BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  lease_owner TEXT,
  lease_token TEXT,
  lease_expires_at INTEGER,
  manual INTEGER NOT NULL DEFAULT 0,
  resume_at INTEGER,
  last_status_code INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, seq);
CREATE INDEX deliveries_leased ON deliveries (webhook_id, lease_expires_at) WHERE lease_expires_at IS NOT NULL;

CREATE TABLE attempts (
  delivery_seq INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  request_headers TEXT NOT NULL,
  status_code INTEGER,
  response_headers TEXT,
  response_body BLOB,
  response_body_truncated INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  error_message TEXT,
  outcome TEXT NOT NULL,
  PRIMARY KEY (delivery_seq, attempt)
) WITHOUT ROWID;
`,
  },
  {
    version: 2,
    sql: `
CREATE TABLE replays (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id INTEGER NOT NULL,
  since INTEGER NOT NULL,
  until INTEGER,
  only_failed INTEGER NOT NULL,
  total INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX replays_webhook ON replays (webhook_id, id);
ALTER TABLE deliveries ADD COLUMN replay_id INTEGER;
CREATE INDEX deliveries_replay ON deliveries (replay_id, manual) WHERE replay_id IS NOT NULL;
`,
  },
  {
    version: 3,
    // The claim scan skips deliveries of webhooks at their in-flight limit. With webhook_id and manual in the
    // index it decides that from the index entry, without reading the row and its body.
    sql: `
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq, webhook_id, manual) WHERE next_attempt_at IS NOT NULL;
`,
  },
  {
    version: 4,
    // Bodies move to their own table. A delivery row is rewritten when it is leased and again when an attempt
    // ends. Without the body it fills a small part of a page, so those writes touch far fewer pages.
    sql: `
CREATE TABLE delivery_bodies (
  seq INTEGER PRIMARY KEY,
  body BLOB NOT NULL
);
INSERT INTO delivery_bodies (seq, body) SELECT seq, body FROM deliveries;
ALTER TABLE deliveries DROP COLUMN body;
`,
  },
  {
    version: 5,
    rewrites: true,
    // Attempts move from a WITHOUT ROWID table to a rowid table with a unique index. SQLite keeps the content of a
    // WITHOUT ROWID table in interior pages as well as leaves, which suits small rows. An attempt is about 800 bytes,
    // and recording one costs about 1 µs less in the rowid table (measured with the queue's batches).
    sql: `
CREATE TABLE attempts_by_rowid (
  delivery_seq INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  request_headers TEXT NOT NULL,
  status_code INTEGER,
  response_headers TEXT,
  response_body BLOB,
  response_body_truncated INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  error_message TEXT,
  outcome TEXT NOT NULL
);
INSERT INTO attempts_by_rowid SELECT delivery_seq, attempt, trigger, started_at, duration_ms, request_headers, status_code,
  response_headers, response_body, response_body_truncated, error_code, error_message, outcome
  FROM attempts ORDER BY delivery_seq, attempt;
DROP TABLE attempts;
ALTER TABLE attempts_by_rowid RENAME TO attempts;
CREATE UNIQUE INDEX attempts_key ON attempts (delivery_seq, attempt);
`,
  },
  {
    version: 6,
    // Each `serve` process records itself and refreshes the row while it runs, so that maintenance commands can
    // tell whether a service uses the database.
    sql: `
CREATE TABLE service_processes (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  seen_at INTEGER NOT NULL
);
`,
  },
  {
    version: 7,
    // Replay attempts cancelled before they ran (the webhook was deactivated or deleted), so that progress
    // reports them apart from the attempts made.
    sql: `
ALTER TABLE replays ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 8,
    // Deliveries in a replay's range that it left out because they were in flight or already queued for a
    // manual attempt, so that a replay with a total of 0 reports why.
    sql: `
ALTER TABLE replays ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
`,
  },
];
