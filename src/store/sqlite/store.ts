import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { assertKnownSchema } from '../schema-version.js';
import { SqliteQueue } from './queue.js';
import { Checkpointer } from './checkpointer.js';
import { WalSync } from './wal-sync.js';
import { rejectedRevocation, TOKEN_RECHECK_MS } from '../token-policy.js';
import { eventsThatFit } from '../event-page.js';
import { isStoreLocked } from '../../errors.js';
import { kernelFileSystemOf } from '../../kernel-paths.js';
import {
  decodeCursor,
  encodeCursor,
  toAttempt,
  toDeliverySummary,
  toEvent,
  toReplay,
  toRepository,
  toToken,
  toWebhook,
  type Row,
  toServiceProcess,
  toWebhookSecret,
} from '../rows.js';
import type {
  AttemptResult,
  ClaimedDelivery,
  ClaimOptions,
  DeliveryDetail,
  DeliveryQuery,
  DeliverySummary,
  EventRecord,
  IngestItem,
  IngestResult,
  Page,
  PlannedDelivery,
  ReplayRecord,
  ServiceProcessRecord,
  RepositoryInput,
  RepositoryPatch,
  RepositoryRecord,
  Store,
  TokenRecord,
  TokenRevocation,
  TokenScope,
  WebhookInput,
  WebhookPatch,
  WebhookRecord,
  WebhookScope,
  WebhookSecretRecord,
} from '../types.js';

const ACTIVE_REPO = 'deleted_at IS NULL';

/** Time the readiness check waits for the write lock, in ms: short, because it blocks the event loop while it waits. */
const READY_BUSY_TIMEOUT_MS = 100;

/** Time a connection waits for another process's write lock before SQLITE_BUSY, in ms. */
export const BUSY_TIMEOUT_MS = 1000;

/**
 * Time the delivery queue's connection waits for the write lock, in ms. The
 * worker keeps finished attempts and tries again when it fails, so it waits
 * less than a request would and blocks the event loop for less.
 */
const QUEUE_BUSY_TIMEOUT_MS = 200;

/**
 * Opens one connection in WAL mode. Automatic checkpoints run at 10,000
 * pages (about 40 MiB of log). The Checkpointer thread copies pages into the
 * database every 20 ms. Under steady writes, though, mostly this automatic
 * checkpoint, run in a commit on the event loop, lets the log start over, and
 * the thread leaves it little to copy.
 */
function openConnection(file: string, synchronous: 'FULL' | 'NORMAL', busyTimeoutMs = BUSY_TIMEOUT_MS): Database.Database {
  const db = new Database(file);
  // A locked database blocks the event loop while SQLite waits, so the wait is short: past it, writes fail with 503 store_busy.
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  if (file !== ':memory:') db.pragma('wal_autocheckpoint = 10000');
  return db;
}

/** Statements that switch a FULL connection to synchronous=NORMAL for one transaction and back. */
interface SyncSwitch {
  normal: Database.Statement;
  full: Database.Statement;
}

/**
 * Returns a wrapper that runs a transaction with the queue's busy timeout
 * and, on a FULL connection (`sync` given), at synchronous=NORMAL, then
 * restores the connection's own settings.
 */
function queueLevel(db: Database.Database, sync: SyncSwitch | null): <T>(run: () => T) => T {
  const enter = [db.prepare(`PRAGMA busy_timeout = ${QUEUE_BUSY_TIMEOUT_MS}`), ...(sync ? [sync.normal] : [])];
  const leave = [db.prepare(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`), ...(sync ? [sync.full] : [])];
  return <T>(run: () => T): T => {
    for (const statement of enter) statement.run();
    try {
      return run();
    } finally {
      for (const statement of leave) statement.run();
    }
  };
}

/** Throws when the folder lies on a kernel file system, where no database can be created. */
function assertOrdinaryFolder(folder: string): void {
  const root = kernelFileSystemOf(folder);
  if (root === null) return;
  throw Object.assign(new Error(`${resolve(folder)} is on the kernel file system ${root}, which cannot hold files`), { code: 'ENOTSUP' });
}

/** Maximum number of tokens kept in memory; the cache is emptied when it is full. */
const TOKEN_CACHE_SIZE = 1000;

function scopeClause(scope: WebhookScope): { sql: string; value: string | number } {
  return scope.kind === 'repo'
    ? { sql: 'repo_id = ?', value: scope.repoId }
    : { sql: 'repo_id IS NULL AND lower(owner) = lower(?)', value: scope.owner };
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** The embedded store: one SQLite file in WAL mode, through better-sqlite3. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  private readonly queue: SqliteQueue;

  /**
   * Runs a queue transaction at the queue's own settings: synchronous=NORMAL
   * and a short busy timeout, on the same connection as everything else.
   * Claims and attempt records lost to a power cut only mean that a delivery
   * is sent again, which at-least-once delivery allows, and the next FULL
   * commit makes them durable as well. One connection keeps SQLite's page
   * cache warm, because SQLite drops a connection's whole cache when another
   * connection has written since its last transaction.
   */
  private readonly atQueueLevel: <T>(run: () => T) => T;
  private readonly checkpointer: Checkpointer | null;
  /**
   * With synchronous=FULL, ingestion commits at NORMAL and then waits for an
   * fdatasync of the log off the event loop. Events are on disk before they
   * are acknowledged, as with a FULL commit, and other requests and
   * deliveries go on during the disk wait. Null for NORMAL and in memory.
   */
  private readonly logSync: ({ wal: WalSync } & SyncSwitch) | null;

  private readonly onError: (message: string) => void;

  constructor(file: string, options: { synchronous?: 'full' | 'normal'; onError?: (message: string) => void } = {}) {
    this.onError = options.onError ?? ((message) => process.stderr.write(`SQLite maintenance failed: ${message}\n`));
    if (file !== ':memory:') {
      assertOrdinaryFolder(dirname(file));
      mkdirSync(dirname(file), { recursive: true });
    }
    let db: Database.Database | null = null;
    try {
      db = openConnection(file, options.synchronous === 'normal' ? 'NORMAL' : 'FULL');
      this.db = db;
      this.applyMigrations();
    } catch (err) {
      db?.close();
      if (!isStoreLocked(err)) throw err;
      throw new Error(`${file} is locked by another process (SQLITE_BUSY); stop the process that keeps a transaction open on it, or start again later`);
    }
    this.checkpointer = file === ':memory:' ? null : new Checkpointer(file, (message) => this.onError(`checkpoint failed: ${message}`));
    const sync = options.synchronous === 'normal' ? null : { normal: this.db.prepare('PRAGMA synchronous = NORMAL'), full: this.db.prepare('PRAGMA synchronous = FULL') };
    this.atQueueLevel = queueLevel(this.db, sync);
    // Only a database in WAL mode has a log to sync. On a file system without WAL support, SQLite's own FULL commits stay.
    const inWalMode = String(this.db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
    this.logSync =
      file !== ':memory:' && sync !== null && inWalMode ? { wal: new WalSync(`${file}-wal`), ...sync } : null;
    this.queue = new SqliteQueue(this.db, this.atQueueLevel);
  }

  private readonly statements = new Map<string, Database.Statement>();
  /** Tokens found by hash, valid while `data_version` stays at `tokenCacheVersion`. */
  private readonly tokenCache = new Map<string, TokenRecord>();
  private tokenCacheVersion = -1;
  private tokenCacheCheckedAt = -Infinity;

  /** Returns a prepared statement for the SQL text, preparing it once; preparing costs tens of microseconds. */
  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private applyMigrations(): void {
    const current = Number(this.db.pragma('user_version', { simple: true }));
    assertKnownSchema(current, SQLITE_MIGRATIONS, `SQLite database ${this.db.name}`);
    let rewritten = false;
    for (const migration of SQLITE_MIGRATIONS) {
      if (migration.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(migration.sql);
        this.db.pragma(`user_version = ${migration.version}`);
      }).immediate();
      // A new database has nothing to give back; an upgraded one may hold the old copy of a large table.
      if (migration.rewrites && current > 0) rewritten = true;
    }
    if (rewritten) this.compact();
  }

  /**
   * Gives the pages freed by a table rewrite back to the file system. VACUUM
   * needs free disk space about the size of the database; when it fails the
   * database still works, only larger than it needs to be.
   */
  private compact(): void {
    try {
      this.db.exec('VACUUM');
    } catch (err) {
      this.onError(`compacting ${this.db.name} after the upgrade failed (${(err as Error).message}); the database works as is, and running \`sqlite3 FILE VACUUM\` with the service stopped frees the space later`);
    }
  }

  async migrate(): Promise<void> {
    this.applyMigrations();
  }

  async close(): Promise<void> {
    await this.logSync?.wal.close();
    await this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }

  /**
   * Checks that a write could start now. While another process holds the
   * write lock, writes wait and fail after BUSY_TIMEOUT_MS, so a lock still
   * held after READY_BUSY_TIMEOUT_MS makes the service report itself not ready.
   */
  async ping(): Promise<void> {
    this.db.pragma(`busy_timeout = ${READY_BUSY_TIMEOUT_MS}`);
    try {
      this.db.exec('BEGIN IMMEDIATE');
      this.db.exec('ROLLBACK');
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  // Repositories

  async createRepository(input: RepositoryInput, now: number): Promise<RepositoryRecord | 'exists'> {
    try {
      const row = this.db
        .prepare(
          `INSERT INTO repositories (owner, name, private, description, default_branch, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        )
        .get(input.owner, input.name, input.private ? 1 : 0, input.description, input.defaultBranch, now, now) as Row;
      return toRepository(row);
    } catch (err) {
      if (isUniqueViolation(err)) return 'exists';
      throw err;
    }
  }

  async getRepository(id: number): Promise<RepositoryRecord | null> {
    const row = this.prepare(`SELECT * FROM repositories WHERE id = ? AND ${ACTIVE_REPO}`).get(id) as Row | undefined;
    return row ? toRepository(row) : null;
  }

  async findRepository(owner: string, name: string): Promise<RepositoryRecord | null> {
    const row = this.db
      .prepare(`SELECT * FROM repositories WHERE lower(owner) = lower(?) AND lower(name) = lower(?) AND ${ACTIVE_REPO}`)
      .get(owner, name) as Row | undefined;
    return row ? toRepository(row) : null;
  }

  async listRepositories(query: { owner?: string; cursor?: string; limit: number }): Promise<Page<RepositoryRecord>> {
    const after = query.cursor ? decodeCursor(query.cursor) ?? 0 : 0;
    const rows = this.db
      .prepare(
        `SELECT * FROM repositories WHERE ${ACTIVE_REPO} AND id > ? AND (? IS NULL OR lower(owner) = lower(?))
         ORDER BY id LIMIT ?`,
      )
      .all(after, query.owner ?? null, query.owner ?? null, query.limit + 1) as Row[];
    const items = rows.slice(0, query.limit).map(toRepository);
    return { items, nextCursor: rows.length > query.limit ? encodeCursor(items[items.length - 1].id) : null };
  }

  async updateRepository(id: number, patch: RepositoryPatch, now: number): Promise<RepositoryRecord | 'exists' | null> {
    const columns: Record<string, unknown> = {};
    if (patch.name !== undefined) columns.name = patch.name;
    if (patch.private !== undefined) columns.private = patch.private ? 1 : 0;
    if (patch.description !== undefined) columns.description = patch.description;
    if (patch.defaultBranch !== undefined) columns.default_branch = patch.defaultBranch;
    if (patch.archived !== undefined) columns.archived = patch.archived ? 1 : 0;
    const sets = Object.keys(columns).map((c) => `${c} = @${c}`);
    try {
      const row = this.db
        .prepare(`UPDATE repositories SET ${[...sets, 'updated_at = @now'].join(', ')} WHERE id = @id AND ${ACTIVE_REPO} RETURNING *`)
        .get({ ...columns, now, id }) as Row | undefined;
      return row ? toRepository(row) : null;
    } catch (err) {
      if (isUniqueViolation(err)) return 'exists';
      throw err;
    }
  }

  async deleteRepository(id: number, now: number): Promise<boolean> {
    const run = this.db.transaction((): boolean => {
      const result = this.prepare(`UPDATE repositories SET deleted_at = ?, updated_at = ? WHERE id = ? AND ${ACTIVE_REPO}`).run(now, now, id);
      if (result.changes !== 1) return false;
      // The repository's own webhooks become unreachable through the API, so only its repo.deleted event is still
      // delivered, in one attempt: one that a worker already made and set to retry before this deletion is cancelled.
      this.cancelQueued(
        `webhook_id IN (SELECT id FROM webhooks WHERE repo_id = @id AND deleted_at IS NULL) AND (event <> 'repo.deleted' OR attempts > 0)`,
        { id, now },
      );
      return true;
    });
    return run.immediate();
  }

  // Webhooks

  async createWebhook(input: WebhookInput, now: number, maxPerScope: number): Promise<WebhookRecord | 'limit'> {
    const scope = scopeClause(input.scope);
    const run = this.db.transaction((): WebhookRecord | 'limit' => {
      const count = this.prepare(`SELECT COUNT(*) AS n FROM webhooks WHERE ${scope.sql} AND deleted_at IS NULL`).get(scope.value) as Row;
      if (Number(count.n) >= maxPerScope) return 'limit';
      const row = this.db
        .prepare(
          `INSERT INTO webhooks (repo_id, owner, url, events, filters, active, secret, insecure_ssl, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        )
        .get(
          input.scope.kind === 'repo' ? input.scope.repoId : null,
          input.scope.kind === 'owner' ? input.scope.owner : null,
          input.url,
          JSON.stringify(input.events),
          input.filters ? JSON.stringify(input.filters) : null,
          input.active ? 1 : 0,
          input.secret,
          input.insecureSsl ? 1 : 0,
          now,
          now,
        ) as Row;
      return toWebhook(row);
    });
    return run.immediate();
  }

  async getWebhook(scope: WebhookScope, id: number): Promise<WebhookRecord | null> {
    const clause = scopeClause(scope);
    const row = this.prepare(`SELECT * FROM webhooks WHERE id = ? AND ${clause.sql} AND deleted_at IS NULL`).get(id, clause.value) as Row | undefined;
    return row ? toWebhook(row) : null;
  }

  async listWebhooks(scope: WebhookScope): Promise<WebhookRecord[]> {
    const clause = scopeClause(scope);
    const rows = this.prepare(`SELECT * FROM webhooks WHERE ${clause.sql} AND deleted_at IS NULL ORDER BY id`).all(clause.value) as Row[];
    return rows.map(toWebhook);
  }

  private cancelWaiting(webhookId: number, now: number): void {
    this.cancelQueued('webhook_id = @webhook', { webhook: webhookId, now });
  }

  /**
   * Cancels what waits for an attempt among the deliveries that `where`
   * selects, leaving leased rows to their worker. A pending or retrying
   * delivery ends as cancelled. A finished one that a redelivery or a replay
   * queued again keeps its status. Each replay counts its attempts cancelled
   * here. Runs inside the caller's transaction; returns the rows changed.
   */
  private cancelQueued(where: string, params: Record<string, unknown> & { now: number }): number {
    const waiting = `next_attempt_at IS NOT NULL AND (lease_expires_at IS NULL OR lease_expires_at <= @now) AND ${where}`;
    const replays = this.prepare(
      `SELECT replay_id, COUNT(*) AS n FROM deliveries WHERE ${waiting} AND manual = 1 AND replay_id IS NOT NULL GROUP BY replay_id`,
    ).all(params) as Row[];
    const changed = this.prepare(
      `UPDATE deliveries
       SET status = CASE WHEN status IN ('pending', 'retrying') THEN 'cancelled' ELSE status END,
           next_attempt_at = NULL, manual = 0, resume_at = NULL, updated_at = @now
       WHERE ${waiting}`,
    ).run(params).changes;
    const count = this.prepare('UPDATE replays SET cancelled = cancelled + ? WHERE id = ?');
    for (const replay of replays) count.run(replay.n, replay.replay_id);
    // A webhook whose last delivery was waiting shows it as cancelled too, not as still pending or retrying. Each such
    // webhook's last delivery is looked up by id, so the check costs a lookup per webhook, not a scan of deliveries.
    if (changed > 0) {
      this.prepare(
        `UPDATE webhooks SET last_delivery_status = 'cancelled'
         WHERE last_delivery_status IN ('pending', 'retrying')
           AND EXISTS (SELECT 1 FROM deliveries d WHERE d.id = webhooks.last_delivery_id AND d.status = 'cancelled')`,
      ).run();
    }
    return changed;
  }

  async updateWebhook(scope: WebhookScope, id: number, patch: WebhookPatch, now: number): Promise<WebhookRecord | null> {
    const clause = scopeClause(scope);
    const run = this.db.transaction((): WebhookRecord | null => {
      const columns: Record<string, unknown> = {};
      if (patch.url !== undefined) columns.url = patch.url;
      if (patch.events !== undefined) columns.events = JSON.stringify(patch.events);
      if (patch.filters !== undefined) columns.filters = patch.filters ? JSON.stringify(patch.filters) : null;
      if (patch.insecureSsl !== undefined) columns.insecure_ssl = patch.insecureSsl ? 1 : 0;
      if (patch.active !== undefined) {
        columns.active = patch.active ? 1 : 0;
        if (patch.active) {
          columns.disabled_reason = null;
          columns.failing_since = null;
        }
      }
      const sets = Object.keys(columns).map((c) => `${c} = @${c}`);
      if (patch.secret !== undefined) {
        sets.push('previous_secret = secret', 'secret = @secret', 'previous_secret_expires_at = @previous_expires');
        columns.secret = patch.secret;
        columns.previous_expires = patch.previousSecretExpiresAt ?? now;
      }
      sets.push('updated_at = @now');
      const row = this.db
        .prepare(`UPDATE webhooks SET ${sets.join(', ')} WHERE id = @id AND ${clause.sql.replace('?', '@scope')} AND deleted_at IS NULL RETURNING *`)
        .get({ ...columns, now, id, scope: clause.value }) as Row | undefined;
      if (!row) return null;
      if (patch.active === false) this.cancelWaiting(id, now);
      return toWebhook(row);
    });
    return run.immediate();
  }

  async deleteWebhook(scope: WebhookScope, id: number, now: number): Promise<boolean> {
    const clause = scopeClause(scope);
    const run = this.db.transaction((): boolean => {
      const result = this.db
        .prepare(`UPDATE webhooks SET deleted_at = ?, active = 0, updated_at = ? WHERE id = ? AND ${clause.sql} AND deleted_at IS NULL`)
        .run(now, now, id, clause.value);
      if (result.changes === 0) return false;
      this.cancelWaiting(id, now);
      return true;
    });
    return run.immediate();
  }

  async disableWebhook(id: number, reason: string, now: number): Promise<void> {
    this.db.transaction(() => {
      this.prepare('UPDATE webhooks SET active = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL').run(reason, now, id);
      this.cancelWaiting(id, now);
    }).immediate();
  }

  async listWebhookSecrets(): Promise<WebhookSecretRecord[]> {
    const rows = this.prepare('SELECT id, secret, previous_secret, deleted_at FROM webhooks ORDER BY id').all() as Row[];
    return rows.map(toWebhookSecret);
  }

  async updateWebhookSecrets(id: number, secret: string, previousSecret: string | null): Promise<void> {
    this.prepare('UPDATE webhooks SET secret = ?, previous_secret = ? WHERE id = ?').run(secret, previousSecret, id);
  }

  // Service processes

  async recordServiceProcess(entry: ServiceProcessRecord): Promise<void> {
    this.prepare(
      `INSERT INTO service_processes (id, role, started_at, seen_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
    ).run(entry.id, entry.role, entry.startedAt, entry.seenAt);
  }

  async removeServiceProcess(id: string): Promise<void> {
    this.prepare('DELETE FROM service_processes WHERE id = ?').run(id);
  }

  async listServiceProcesses(seenSince: number): Promise<ServiceProcessRecord[]> {
    const rows = this.prepare('SELECT * FROM service_processes WHERE seen_at >= ? ORDER BY started_at, id').all(seenSince) as Row[];
    return rows.map(toServiceProcess);
  }

  /**
   * Rebuilds the database file and empties the write-ahead log, so that
   * replaced values (such as secrets stored as plain text before
   * re-encryption) leave no copy in free space or in old log frames. The log
   * stays in use while another process has the database open.
   */
  async vacuum(): Promise<void> {
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async listFailingWebhooks(failingBefore: number): Promise<number[]> {
    const rows = this.db
      .prepare('SELECT id FROM webhooks WHERE active = 1 AND deleted_at IS NULL AND failing_since IS NOT NULL AND failing_since <= ?')
      .all(failingBefore) as Row[];
    return rows.map((r) => Number(r.id));
  }

  // Tokens

  async createToken(input: { name: string; scopes: TokenScope[]; hash: string; prefix: string }, now: number): Promise<TokenRecord> {
    this.tokenCache.clear();
    const row = this.db
      .prepare('INSERT INTO tokens (name, scopes, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *')
      .get(input.name, JSON.stringify(input.scopes), input.hash, input.prefix, now) as Row;
    return toToken(row);
  }

  /**
   * Finds a token by its hash. Every API request looks one up, so found
   * tokens are kept in memory until this connection writes the tokens table,
   * and for at most TOKEN_RECHECK_MS after another connection has written
   * anything, which `data_version` reports.
   */
  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const now = performance.now();
    if (now - this.tokenCacheCheckedAt >= TOKEN_RECHECK_MS) {
      // Reading data_version cost about half as much as the lookup it saves (measured in the service), so it runs once per interval.
      this.tokenCacheCheckedAt = now;
      const version = this.prepare('PRAGMA data_version').pluck().get() as number;
      if (version !== this.tokenCacheVersion) {
        this.tokenCache.clear();
        this.tokenCacheVersion = version;
      }
    }
    const cached = this.tokenCache.get(hash);
    if (cached) return { ...cached, scopes: [...cached.scopes] };
    const row = this.prepare('SELECT * FROM tokens WHERE hash = ?').get(hash) as Row | undefined;
    if (!row) return null;
    const token = toToken(row);
    if (this.tokenCache.size >= TOKEN_CACHE_SIZE) this.tokenCache.clear();
    this.tokenCache.set(hash, token);
    return { ...token, scopes: [...token.scopes] };
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (this.prepare('SELECT * FROM tokens ORDER BY id').all() as Row[]).map(toToken);
  }

  async listTokenPage(query: { cursor?: string; limit: number }): Promise<Page<TokenRecord>> {
    const after = query.cursor ? decodeCursor(query.cursor) ?? 0 : 0;
    const rows = this.prepare('SELECT * FROM tokens WHERE id > ? ORDER BY id LIMIT ?').all(after, query.limit + 1) as Row[];
    const items = rows.slice(0, query.limit).map(toToken);
    return { items, nextCursor: rows.length > query.limit ? encodeCursor(items[items.length - 1].id) : null };
  }

  async revokeToken(id: number, now: number): Promise<TokenRevocation> {
    this.tokenCache.clear();
    const active = this.prepare('SELECT * FROM tokens WHERE revoked_at IS NULL');
    const revoke = this.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ?');
    // An immediate transaction takes the write lock before the first read, so two revocations cannot both pass the check.
    const run = this.db.transaction((): TokenRevocation => {
      const rejection = rejectedRevocation((active.all() as Row[]).map(toToken), id);
      if (rejection) return rejection;
      revoke.run(now, id);
      return 'revoked';
    });
    return run.immediate();
  }

  async countTokens(): Promise<number> {
    return Number((this.prepare('SELECT COUNT(*) AS n FROM tokens').get() as Row).n);
  }

  async touchToken(id: number, now: number): Promise<void> {
    this.tokenCache.clear();
    this.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(now, id);
  }

  // Events

  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    return (await this.ingestBatch(items)).results;
  }

  async ingestAndClaim(
    items: IngestItem[],
    claim: ClaimOptions,
    finished?: { results: AttemptResult[]; now: number },
  ): Promise<{ results: IngestResult[]; claimed: ClaimedDelivery[] }> {
    return this.ingestBatch(items, claim, finished);
  }

  private async ingestBatch(
    items: IngestItem[],
    claim?: ClaimOptions,
    finished?: { results: AttemptResult[]; now: number },
  ): Promise<{ results: IngestResult[]; claimed: ClaimedDelivery[] }> {
    const findKey = this.prepare('SELECT id, event, deliveries, request_hash, created_at FROM events WHERE repo_id = ? AND idempotency_key = ?');
    const repoById = this.prepare(`SELECT * FROM repositories WHERE id = ? AND ${ACTIVE_REPO}`);
    const hooksFor = this.prepare(
      `SELECT * FROM webhooks WHERE deleted_at IS NULL AND active = 1 AND (repo_id = ? OR (repo_id IS NULL AND lower(owner) = lower(?))) ORDER BY id`,
    );
    const insertEvent = this.prepare(
      `INSERT INTO events (id, repo_id, event, payload, deliveries, idempotency_key, request_hash, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertDelivery = this.prepare(
      `INSERT INTO deliveries (id, webhook_id, event_id, event, status, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
    );
    const insertBody = this.prepare('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)');

    const results: IngestResult[] = [];
    const context = new Map<number, { repo: RepositoryRecord; hooks: WebhookRecord[] } | null>();
    // Items run straight in the batch transaction, without a savepoint each: an error fails the whole batch anyway,
    // and savepoints took about a third of the ingest time (batches of 26 events with ten deliveries each).
    const storeItem = (item: IngestItem): IngestResult => {
      if (item.idempotencyKey !== null) {
        const prior = findKey.get(item.repoId, item.idempotencyKey) as Row | undefined;
        if (prior) {
          if (prior.request_hash !== item.requestHash) return { ok: false, code: 'idempotency_key_reused' };
          return { ok: true, eventId: String(prior.id), event: String(prior.event), deliveries: Number(prior.deliveries), replayed: true, createdAt: Number(prior.created_at) };
        }
      }
      let found = context.get(item.repoId);
      if (found === undefined) {
        const repoRow = repoById.get(item.repoId) as Row | undefined;
        found = repoRow ? { repo: toRepository(repoRow), hooks: [] } : null;
        if (found) found.hooks = (hooksFor.all(found.repo.id, found.repo.owner) as Row[]).map(toWebhook);
        context.set(item.repoId, found);
      }
      if (!found) return { ok: false, code: 'repo_not_found' };

      const planned = item.plan(found.repo, found.hooks);
      insertEvent.run(item.eventId, item.repoId, item.event, item.payload, planned.length, item.idempotencyKey, item.requestHash, item.createdAt);
      for (const delivery of planned) {
        const { lastInsertRowid } = insertDelivery.run(delivery.id, delivery.webhookId, item.eventId, item.event, item.createdAt, item.createdAt, item.createdAt);
        insertBody.run(lastInsertRowid, delivery.body);
      }
      return { ok: true, eventId: item.eventId, event: item.event, deliveries: planned.length, replayed: false, createdAt: item.createdAt };
    };
    const batch = this.db.transaction((): ClaimedDelivery[] => {
      for (const item of items) results.push(storeItem(item));
      if (finished && finished.results.length > 0) this.queue.recordWithin(finished.results, finished.now);
      return claim ? this.queue.claimWithin(claim) : [];
    });
    const logSync = this.logSync;
    if (!logSync) return { results, claimed: batch.immediate() };
    logSync.normal.run();
    let claimed: ClaimedDelivery[];
    try {
      claimed = batch.immediate();
    } finally {
      logSync.full.run();
    }
    try {
      await logSync.wal.sync();
    } catch (err) {
      // Deliveries of events that may not be on disk are not handed out, so their leases go back at once.
      if (claimed.length > 0) this.queue.release(claimed.map((delivery) => ({ deliveryId: delivery.id, leaseToken: delivery.leaseToken })));
      throw err;
    }
    return { results, claimed };
  }

  async createDirectDelivery(input: { webhookId: number; event: string; planned: PlannedDelivery }, now: number): Promise<void> {
    const insertDelivery = this.prepare(
      `INSERT INTO deliveries (id, webhook_id, event_id, event, status, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, NULL, ?, 'pending', ?, ?, ?)`,
    );
    const insertBody = this.prepare('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)');
    this.db.transaction(() => {
      const { lastInsertRowid } = insertDelivery.run(input.planned.id, input.webhookId, input.event, now, now, now);
      insertBody.run(lastInsertRowid, input.planned.body);
    }).immediate();
  }

  async newestEventSeq(): Promise<number> {
    return Number((this.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM events').get() as Row).n);
  }

  async listEvents(query: { repoId: number; afterSeq?: number; cursor?: string; limit: number; payloadBudget?: number }): Promise<Page<EventRecord>> {
    const ascending = query.afterSeq !== undefined;
    const before = query.cursor ? decodeCursor(query.cursor) ?? Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
    // octet_length takes a value's size from the record header without loading it: 0.03 ms against 130 ms for length() over 40 payloads of 5 MiB.
    const sizes = (
      ascending
        ? this.prepare('SELECT seq, octet_length(payload) FROM events WHERE repo_id = ? AND seq > ? ORDER BY seq LIMIT ?').raw().all(query.repoId, query.afterSeq, query.limit)
        : this.prepare('SELECT seq, octet_length(payload) FROM events WHERE repo_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?').raw().all(query.repoId, before, query.limit + 1)
    ) as [number, number][];
    const count = eventsThatFit(sizes.map(([, size]) => size), query.limit, query.payloadBudget);
    if (count === 0) return { items: [], nextCursor: null };
    const picked = sizes.slice(0, count).map(([seq]) => seq);
    // Events are never deleted on their own, so the rows picked above are still there.
    const rows = this.prepare(`SELECT * FROM events WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq ${ascending ? 'ASC' : 'DESC'}`).all(JSON.stringify(picked)) as Row[];
    const more = !ascending && sizes.length > count;
    return { items: rows.map(toEvent), nextCursor: more ? encodeCursor(picked[picked.length - 1]) : null };
  }

  // Deliveries

  async listDeliveries(query: DeliveryQuery): Promise<Page<DeliverySummary>> {
    const before = query.cursor ? decodeCursor(query.cursor) ?? Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
    const rows = this.db
      .prepare(
        `SELECT seq, id, webhook_id, event_id, event, status, attempts, next_attempt_at, last_status_code, last_error, created_at, updated_at
         FROM deliveries WHERE webhook_id = ? AND seq < ? AND (? IS NULL OR status = ?) AND (? IS NULL OR event = ?)
         ORDER BY seq DESC LIMIT ?`,
      )
      .all(query.webhookId, before, query.status ?? null, query.status ?? null, query.event ?? null, query.event ?? null, query.limit + 1) as Row[];
    const items = rows.slice(0, query.limit).map(toDeliverySummary);
    return { items, nextCursor: rows.length > query.limit ? encodeCursor(items[items.length - 1].seq) : null };
  }

  async getDelivery(webhookId: number, id: string): Promise<DeliveryDetail | null> {
    const row = this.prepare(
      'SELECT d.*, b.body FROM deliveries d JOIN delivery_bodies b ON b.seq = d.seq WHERE d.id = ? AND d.webhook_id = ?',
    ).get(id, webhookId) as Row | undefined;
    if (!row) return null;
    const attempts = this.prepare('SELECT * FROM attempts WHERE delivery_seq = ? ORDER BY attempt').all(row.seq) as Row[];
    return { ...toDeliverySummary(row), body: row.body as Buffer, attemptsLog: attempts.map(toAttempt) };
  }

  async requestRedelivery(webhookId: number, id: string, now: number): Promise<DeliverySummary | 'in_progress' | 'inactive' | null> {
    const run = this.db.transaction((): DeliverySummary | 'in_progress' | 'inactive' | null => {
      const row = this.prepare('SELECT * FROM deliveries WHERE id = ? AND webhook_id = ?').get(id, webhookId) as Row | undefined;
      if (!row) return null;
      if (!this.isActiveWebhook(webhookId)) return 'inactive';
      const leased = row.lease_expires_at !== null && Number(row.lease_expires_at) > now;
      if (leased || Number(row.manual) === 1) return 'in_progress';
      // A waiting delivery keeps its automatic attempt for after the manual one.
      const resumeAt = row.status === 'retrying' || row.status === 'pending' ? row.next_attempt_at : null;
      const updated = this.db
        .prepare('UPDATE deliveries SET manual = 1, replay_id = NULL, resume_at = ?, next_attempt_at = ?, updated_at = ? WHERE seq = ? RETURNING *')
        .get(resumeAt, now, now, row.seq) as Row;
      return toDeliverySummary(updated);
    });
    return run.immediate();
  }

  // Replays

  /** Tells whether the webhook exists, is not deleted and is active; for use inside a write transaction. */
  private isActiveWebhook(id: number): boolean {
    return this.prepare('SELECT 1 FROM webhooks WHERE id = ? AND active = 1 AND deleted_at IS NULL').get(id) !== undefined;
  }

  async createReplay(input: { webhookId: number; since: number; until: number | null; onlyFailed: boolean }, now: number): Promise<ReplayRecord | 'inactive'> {
    const run = this.db.transaction((): ReplayRecord | 'inactive' => {
      if (!this.isActiveWebhook(input.webhookId)) return 'inactive';
      const replay = this.db
        .prepare('INSERT INTO replays (webhook_id, since, until, only_failed, total, created_at) VALUES (?, ?, ?, ?, 0, ?) RETURNING *')
        .get(input.webhookId, input.since, input.until, input.onlyFailed ? 1 : 0, now) as Row;
      const range = { webhook: input.webhookId, since: input.since, until: input.until, only_failed: input.onlyFailed ? 1 : 0 };
      // A delivery in flight or already queued for a manual attempt is left alone, because its own attempt is on the way.
      const skipped = this.prepare(
        `SELECT COUNT(*) FROM deliveries
         WHERE webhook_id = @webhook AND created_at >= @since AND (@until IS NULL OR created_at < @until)
           AND (manual = 1 OR lease_expires_at > @now)
           AND (@only_failed = 0 OR status IN ('failed', 'cancelled'))`,
      ).pluck().get({ ...range, now }) as number;
      const queued = this.db
        .prepare(
          `UPDATE deliveries
           SET manual = 1, replay_id = @replay,
               resume_at = CASE WHEN status IN ('retrying', 'pending') THEN next_attempt_at ELSE NULL END,
               next_attempt_at = @now, updated_at = @now
           WHERE webhook_id = @webhook AND created_at >= @since AND (@until IS NULL OR created_at < @until)
             AND manual = 0 AND (lease_expires_at IS NULL OR lease_expires_at <= @now)
             AND (@only_failed = 0 OR status IN ('failed', 'cancelled'))`,
        )
        .run({ ...range, replay: replay.id, now });
      this.prepare('UPDATE replays SET total = ?, skipped = ? WHERE id = ?').run(queued.changes, skipped, replay.id);
      return toReplay({ ...replay, total: queued.changes, skipped, queued: queued.changes });
    });
    return run.immediate();
  }

  /** A replay's attempt is finished once its delivery is no longer queued for a manual attempt under that replay. */
  private readonly replayColumns = `r.*, (SELECT COUNT(*) FROM deliveries d WHERE d.replay_id = r.id AND d.manual = 1) AS queued`;

  async getReplay(webhookId: number, id: number): Promise<ReplayRecord | null> {
    const row = this.prepare(`SELECT ${this.replayColumns} FROM replays r WHERE r.id = ? AND r.webhook_id = ?`).get(id, webhookId) as Row | undefined;
    return row ? toReplay(row) : null;
  }

  async listReplays(webhookId: number, page: { limit: number; cursor?: string }): Promise<Page<ReplayRecord>> {
    const before = page.cursor ? decodeCursor(page.cursor) ?? Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
    const rows = this.prepare(`SELECT ${this.replayColumns} FROM replays r WHERE r.webhook_id = ? AND r.id < ? ORDER BY r.id DESC LIMIT ?`)
      .all(webhookId, before, page.limit + 1) as Row[];
    const items = rows.slice(0, page.limit).map(toReplay);
    return { items, nextCursor: rows.length > page.limit ? encodeCursor(items[items.length - 1].id) : null };
  }

  // Queue

  async claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    return this.queue.claim(options);
  }

  async completeAttempts(results: AttemptResult[], now: number, claimNext?: ClaimOptions): Promise<ClaimedDelivery[]> {
    return this.queue.complete(results, now, claimNext);
  }

  async releaseOrphanedLeases(isEnded: (owner: string) => boolean, now: number): Promise<number> {
    // Read first, without the write lock: most checks find every owner alive and write nothing.
    const leased = this.prepare('SELECT seq, lease_owner FROM deliveries WHERE lease_expires_at IS NOT NULL AND lease_expires_at > ?').all(now) as Row[];
    const endedOwners = new Map<string, boolean>();
    const orphaned = leased.filter((row) => {
      const owner = String(row.lease_owner);
      if (!endedOwners.has(owner)) endedOwners.set(owner, isEnded(owner));
      return endedOwners.get(owner);
    });
    if (orphaned.length === 0) return 0;

    // The owner is checked again, so a lease that expired and was claimed by a live worker meanwhile stays.
    const release = this.prepare('UPDATE deliveries SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE seq = ? AND lease_owner = ?');
    const run = this.db.transaction((): number => {
      let released = 0;
      for (const row of orphaned) released += release.run(row.seq, row.lease_owner).changes;
      return released;
    });
    return run.immediate();
  }

  async releaseLeases(leases: { deliveryId: string; leaseToken: string }[]): Promise<void> {
    this.queue.release(leases);
  }

  async postponeDeliveries(leases: { deliveryId: string; leaseToken: string }[], until: number, reason: string, now: number): Promise<void> {
    this.queue.postpone(leases, until, reason, now);
  }

  async cancelAbandonedDeliveries(now: number): Promise<number> {
    // The webhooks of deleted repositories keep only their repo.deleted event until its one attempt. The unary +
    // keeps SQLite on the due index, which holds only waiting rows, rather than on every past delivery of each webhook.
    const where = `(+webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NOT NULL OR active = 0)
      OR (+webhook_id IN (SELECT w.id FROM webhooks w JOIN repositories r ON r.id = w.repo_id WHERE r.deleted_at IS NOT NULL)
          AND (event <> 'repo.deleted' OR attempts > 0)))`;
    return this.db.transaction(() => this.cancelQueued(where, { now })).immediate();
  }

  async nextDueAt(): Promise<number | null> {
    return this.queue.nextDueAt();
  }

  async queueSize(): Promise<number> {
    return this.queue.queueSize();
  }
}
