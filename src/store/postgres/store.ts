import type pg from 'pg';
import {
  decodeCursor,
  encodeCursor,
  toAttempt,
  toDeliverySummary,
  toEvent,
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
  RepositoryInput,
  RepositoryPatch,
  RepositoryRecord,
  ReplayRecord,
  ServiceProcessRecord,
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
import { ingestBatch, lockRepos } from './ingest.js';
import { applyMigrations } from './migrations.js';
import { clientConfig, createPool, withClient, withTransaction } from './pool.js';
import { rejectedRevocation } from '../token-policy.js';
import { eventsThatFit } from '../event-page.js';
import { PostgresQueue } from './queue.js';
import * as replays from './replays.js';
import { WorkListener } from './work-listener.js';
import * as sql from './statements.js';

export interface PostgresStoreOptions {
  /** Connections in each of the two pools (resource writes, and the delivery queue); default 10. */
  poolSize?: number;
  /** Schema that contains the tables, created by `migrate` when missing; default `public`. */
  schema?: string;
  /** Receives errors the store recovers from by itself (idle connections, the LISTEN connection). */
  onError?: (err: Error, context: string) => void;
}

const NO_CURSOR = Number.MAX_SAFE_INTEGER;

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

/** Returns the WHERE fragment selecting webhooks of one scope, with its parameter at `$index`. */
function scopeClause(scope: WebhookScope, index: number): { sql: string; value: string | number } {
  return scope.kind === 'repo'
    ? { sql: `repo_id = $${index}`, value: scope.repoId }
    : { sql: `repo_id IS NULL AND lower(owner) = lower($${index})`, value: scope.owner };
}

/** The shared store: PostgreSQL through a pg pool, for many API and worker processes. */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly queuePool: pg.Pool;
  readonly schema: string;
  private readonly connectionString: string;
  private readonly queue: PostgresQueue;
  private readonly onError: (err: Error, context: string) => void;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    this.connectionString = connectionString;
    this.schema = options.schema ?? 'public';
    this.onError = options.onError ?? (() => undefined);
    const poolSize = options.poolSize ?? 10;
    this.pool = createPool(connectionString, { poolSize, schema: this.schema, onError: this.onError });
    // Claims, attempt records and releases commit without waiting for the WAL flush. A server crash can
    // lose the last of them (and their attempt log entries), and then the delivery is attempted again:
    // at least once still holds, while each worker round trip skips a disk sync. Connections open on
    // first use, so an API-only process opens this pool only for queue metrics.
    this.queuePool = createPool(connectionString, { poolSize, schema: this.schema, onError: this.onError, settings: { synchronous_commit: 'off' } });
    this.queue = new PostgresQueue(this.queuePool);
  }

  async migrate(): Promise<void> {
    await withClient(this.pool, (client) => applyMigrations(client, this.schema));
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
    if (!this.queuePool.ended) await this.queuePool.end();
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  // Repositories

  async createRepository(input: RepositoryInput, now: number): Promise<RepositoryRecord | 'exists'> {
    try {
      const { rows } = await this.pool.query(
        sql.insertRepository([input.owner, input.name, input.private, input.description, input.defaultBranch, now]),
      );
      return toRepository(rows[0]);
    } catch (err) {
      if (isUniqueViolation(err)) return 'exists';
      throw err;
    }
  }

  async getRepository(id: number): Promise<RepositoryRecord | null> {
    const { rows } = await this.pool.query(sql.repositoryById([id]));
    return rows[0] ? toRepository(rows[0]) : null;
  }

  async findRepository(owner: string, name: string): Promise<RepositoryRecord | null> {
    const { rows } = await this.pool.query(sql.repositoryByName([owner, name]));
    return rows[0] ? toRepository(rows[0]) : null;
  }

  async listRepositories(query: { owner?: string; cursor?: string; limit: number }): Promise<Page<RepositoryRecord>> {
    const after = query.cursor ? decodeCursor(query.cursor) ?? 0 : 0;
    const { rows } = await this.pool.query(sql.listRepositories([after, query.owner ?? null, query.limit + 1]));
    const items = rows.slice(0, query.limit).map(toRepository);
    return { items, nextCursor: rows.length > query.limit ? encodeCursor(items[items.length - 1].id) : null };
  }

  async updateRepository(id: number, patch: RepositoryPatch, now: number): Promise<RepositoryRecord | 'exists' | null> {
    const columns: [string, unknown][] = [];
    if (patch.name !== undefined) columns.push(['name', patch.name]);
    if (patch.private !== undefined) columns.push(['private', patch.private]);
    if (patch.description !== undefined) columns.push(['description', patch.description]);
    if (patch.defaultBranch !== undefined) columns.push(['default_branch', patch.defaultBranch]);
    if (patch.archived !== undefined) columns.push(['archived', patch.archived]);
    const sets = columns.map(([column], i) => `${column} = $${i + 3}`);
    try {
      const { rows } = await this.pool.query(
        `UPDATE repositories SET ${[...sets, 'updated_at = $2'].join(', ')} WHERE id = $1 AND deleted_at IS NULL RETURNING *`,
        [id, now, ...columns.map(([, value]) => value)],
      );
      return rows[0] ? toRepository(rows[0]) : null;
    } catch (err) {
      if (isUniqueViolation(err)) return 'exists';
      throw err;
    }
  }

  async deleteRepository(id: number, now: number): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      // The ingestion lock of the repository: a batch in progress commits its deliveries first, so that they are
      // cancelled below, and a later one finds the repository deleted.
      await client.query(lockRepos([[id]]));
      const result = await client.query(sql.deleteRepository([id, now]));
      if (result.rowCount !== 1) return false;
      // Attempt records in progress commit first, and later ones see the repository deleted and retry nothing.
      await client.query(sql.lockRepositoryWebhooks([id]));
      await client.query(sql.cancelDeletedRepositoryDeliveries([id, now]));
      return true;
    });
  }

  // Webhooks

  async createWebhook(input: WebhookInput, now: number, maxPerScope: number): Promise<WebhookRecord | 'limit'> {
    const scope = scopeClause(input.scope, 1);
    const scopeKey = input.scope.kind === 'repo' ? `repo:${input.scope.repoId}` : `owner:${input.scope.owner.toLowerCase()}`;
    return withTransaction(this.pool, async (client) => {
      // Serialises creations in one scope, so that two concurrent ones cannot both pass the limit check.
      await client.query(sql.lockScope([`dits_webhooks.scope:${this.schema}:${scopeKey}`]));
      const count = await client.query(`SELECT count(*) AS n FROM webhooks WHERE ${scope.sql} AND deleted_at IS NULL`, [scope.value]);
      if (Number(count.rows[0].n) >= maxPerScope) return 'limit';
      const { rows } = await client.query(
        sql.insertWebhook([
          input.scope.kind === 'repo' ? input.scope.repoId : null,
          input.scope.kind === 'owner' ? input.scope.owner : null,
          input.url,
          JSON.stringify(input.events),
          input.filters ? JSON.stringify(input.filters) : null,
          input.active,
          input.secret,
          input.insecureSsl,
          now,
        ]),
      );
      return toWebhook(rows[0]);
    });
  }

  async getWebhook(scope: WebhookScope, id: number): Promise<WebhookRecord | null> {
    const clause = scopeClause(scope, 2);
    const { rows } = await this.pool.query(`SELECT * FROM webhooks WHERE id = $1 AND ${clause.sql} AND deleted_at IS NULL`, [id, clause.value]);
    return rows[0] ? toWebhook(rows[0]) : null;
  }

  async listWebhooks(scope: WebhookScope): Promise<WebhookRecord[]> {
    const clause = scopeClause(scope, 1);
    const { rows } = await this.pool.query(`SELECT * FROM webhooks WHERE ${clause.sql} AND deleted_at IS NULL ORDER BY id`, [clause.value]);
    return rows.map(toWebhook);
  }

  async updateWebhook(scope: WebhookScope, id: number, patch: WebhookPatch, now: number): Promise<WebhookRecord | null> {
    const values: unknown[] = [id, now];
    const sets: string[] = [];
    const set = (column: string, value: unknown) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (patch.url !== undefined) set('url', patch.url);
    if (patch.events !== undefined) set('events', JSON.stringify(patch.events));
    if (patch.filters !== undefined) set('filters', patch.filters ? JSON.stringify(patch.filters) : null);
    if (patch.insecureSsl !== undefined) set('insecure_ssl', patch.insecureSsl);
    if (patch.active !== undefined) {
      set('active', patch.active);
      if (patch.active) sets.push('disabled_reason = NULL', 'failing_since = NULL');
    }
    if (patch.secret !== undefined) {
      // The right-hand side reads the row before the update, so the old secret moves to previous_secret.
      sets.push('previous_secret = secret');
      set('secret', patch.secret);
      set('previous_secret_expires_at', patch.previousSecretExpiresAt ?? now);
    }
    sets.push('updated_at = $2');
    values.push(scopeClause(scope, 0).value);
    const clause = scopeClause(scope, values.length);
    return withTransaction(this.pool, async (client) => {
      await client.query(sql.lockWebhookForChange([id]));
      const { rows } = await client.query(
        `UPDATE webhooks SET ${sets.join(', ')} WHERE id = $1 AND ${clause.sql} AND deleted_at IS NULL RETURNING *`,
        values,
      );
      if (!rows[0]) return null;
      if (patch.active === false) await client.query(sql.cancelWaiting([id, now]));
      return toWebhook(rows[0]);
    });
  }

  async deleteWebhook(scope: WebhookScope, id: number, now: number): Promise<boolean> {
    const clause = scopeClause(scope, 3);
    return withTransaction(this.pool, async (client) => {
      await client.query(sql.lockWebhookForChange([id]));
      const result = await client.query(
        `UPDATE webhooks SET deleted_at = $2, active = false, updated_at = $2 WHERE id = $1 AND ${clause.sql} AND deleted_at IS NULL`,
        [id, now, clause.value],
      );
      if (result.rowCount === 0) return false;
      await client.query(sql.cancelWaiting([id, now]));
      return true;
    });
  }

  async disableWebhook(id: number, reason: string, now: number): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      await client.query(sql.lockWebhookForChange([id]));
      await client.query(sql.disableWebhook([id, reason, now]));
      await client.query(sql.cancelWaiting([id, now]));
    });
  }

  async listWebhookSecrets(): Promise<WebhookSecretRecord[]> {
    const { rows } = await this.pool.query('SELECT id, secret, previous_secret, deleted_at FROM webhooks ORDER BY id');
    return rows.map(toWebhookSecret);
  }

  async updateWebhookSecrets(id: number, secret: string, previousSecret: string | null): Promise<void> {
    await this.pool.query('UPDATE webhooks SET secret = $2, previous_secret = $3 WHERE id = $1', [id, secret, previousSecret]);
  }

  // Service processes

  async recordServiceProcess(entry: ServiceProcessRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO service_processes (id, role, started_at, seen_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
      [entry.id, entry.role, entry.startedAt, entry.seenAt],
    );
  }

  async removeServiceProcess(id: string): Promise<void> {
    await this.pool.query('DELETE FROM service_processes WHERE id = $1', [id]);
  }

  async listServiceProcesses(seenSince: number): Promise<ServiceProcessRecord[]> {
    const { rows } = await this.pool.query('SELECT * FROM service_processes WHERE seen_at >= $1 ORDER BY started_at, id', [seenSince]);
    return rows.map(toServiceProcess);
  }

  async listFailingWebhooks(failingBefore: number): Promise<number[]> {
    const { rows } = await this.pool.query(sql.failingWebhooks([failingBefore]));
    return rows.map((row: Row) => Number(row.id));
  }

  // Tokens

  async createToken(input: { name: string; scopes: TokenScope[]; hash: string; prefix: string }, now: number): Promise<TokenRecord> {
    const { rows } = await this.pool.query(sql.insertToken([input.name, JSON.stringify(input.scopes), input.hash, input.prefix, now]));
    return toToken(rows[0]);
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const { rows } = await this.pool.query(sql.tokenByHash([hash]));
    return rows[0] ? toToken(rows[0]) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const { rows } = await this.pool.query('SELECT * FROM tokens ORDER BY id');
    return rows.map(toToken);
  }

  async listTokenPage(query: { cursor?: string; limit: number }): Promise<Page<TokenRecord>> {
    const after = query.cursor ? decodeCursor(query.cursor) ?? 0 : 0;
    const { rows } = await this.pool.query('SELECT * FROM tokens WHERE id > $1 ORDER BY id LIMIT $2', [after, query.limit + 1]);
    const items = rows.slice(0, query.limit).map(toToken);
    return { items, nextCursor: rows.length > query.limit ? encodeCursor(items[items.length - 1].id) : null };
  }

  async revokeToken(id: number, now: number): Promise<TokenRevocation> {
    return withTransaction(this.pool, async (client) => {
      // Serialises revocations in this schema, so that two cannot both pass the last-admin check.
      await client.query(sql.lockScope([`dits_webhooks.tokens:${this.schema}`]));
      const { rows } = await client.query('SELECT * FROM tokens WHERE revoked_at IS NULL');
      const rejection = rejectedRevocation(rows.map(toToken), id);
      if (rejection) return rejection;
      await client.query('UPDATE tokens SET revoked_at = $2 WHERE id = $1', [id, now]);
      return 'revoked';
    });
  }

  async countTokens(): Promise<number> {
    const { rows } = await this.pool.query('SELECT count(*) AS n FROM tokens');
    return Number(rows[0].n);
  }

  async touchToken(id: number, now: number): Promise<void> {
    await this.pool.query(sql.touchToken([id, now]));
  }

  // Events

  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    if (items.length === 0) return [];
    return withTransaction(this.pool, (client) => ingestBatch(client, items));
  }

  async createDirectDelivery(input: { webhookId: number; event: string; planned: PlannedDelivery }, now: number): Promise<void> {
    await this.pool.query(sql.insertDirectDelivery([input.planned.id, input.webhookId, input.event, input.planned.body, now]));
  }

  async newestEventSeq(): Promise<number> {
    const { rows } = await this.pool.query('SELECT COALESCE(max(seq), 0) AS n FROM events');
    return Number(rows[0].n);
  }

  async listEvents(query: { repoId: number; afterSeq?: number; cursor?: string; limit: number; payloadBudget?: number }): Promise<Page<EventRecord>> {
    const ascending = query.afterSeq !== undefined;
    const before = query.cursor ? decodeCursor(query.cursor) ?? NO_CURSOR : NO_CURSOR;
    // Ingestion commits one transaction per repository at a time, so events appear in sequence order.
    const { rows: sizes } = await this.pool.query(
      ascending ? sql.eventSizesAfter([query.repoId, query.afterSeq, query.limit]) : sql.eventSizesBefore([query.repoId, before, query.limit + 1]),
    );
    const count = eventsThatFit(sizes.map((row) => Number(row.size)), query.limit, query.payloadBudget);
    if (count === 0) return { items: [], nextCursor: null };
    const picked = sizes.slice(0, count).map((row) => Number(row.seq));
    // Events are never deleted on their own, so the rows picked above are still there.
    const { rows } = await this.pool.query(sql.eventsBySeq([picked]));
    const items = rows.map(toEvent).sort((a, b) => (ascending ? a.seq - b.seq : b.seq - a.seq));
    const more = !ascending && sizes.length > count;
    return { items, nextCursor: more ? encodeCursor(picked[picked.length - 1]) : null };
  }

  // Deliveries

  async listDeliveries(query: DeliveryQuery): Promise<Page<DeliverySummary>> {
    const before = query.cursor ? decodeCursor(query.cursor) ?? NO_CURSOR : NO_CURSOR;
    const { rows } = await this.pool.query(
      sql.listDeliveries([query.webhookId, before, query.status ?? null, query.event ?? null, query.limit + 1]),
    );
    const items = rows.slice(0, query.limit).map(toDeliverySummary);
    return { items, nextCursor: rows.length > query.limit ? encodeCursor(items[items.length - 1].seq) : null };
  }

  async getDelivery(webhookId: number, id: string): Promise<DeliveryDetail | null> {
    const { rows } = await this.pool.query(sql.deliveryById([id, webhookId]));
    const row = rows[0] as Row | undefined;
    if (!row) return null;
    const attempts = await this.pool.query(sql.attemptsOf([row.seq]));
    return { ...toDeliverySummary(row), body: row.body as Buffer, attemptsLog: attempts.rows.map(toAttempt) };
  }

  async requestRedelivery(webhookId: number, id: string, now: number): Promise<DeliverySummary | 'in_progress' | 'inactive' | null> {
    return withTransaction(this.pool, async (client): Promise<DeliverySummary | 'in_progress' | 'inactive' | null> => {
      const exists = await client.query(sql.deliveryExists([id, webhookId]));
      if (exists.rowCount === 0) return null;
      const webhook = await client.query(sql.lockActiveWebhook([webhookId]));
      if (webhook.rows[0]?.usable !== true) return 'inactive';
      const { rows } = await client.query(sql.requestRedelivery([id, webhookId, now]));
      return rows[0] ? toDeliverySummary(rows[0]) : 'in_progress';
    });
  }

  // Replays

  async createReplay(input: { webhookId: number; since: number; until: number | null; onlyFailed: boolean }, now: number): Promise<ReplayRecord | 'inactive'> {
    return replays.createReplay(this.pool, input, now);
  }

  async getReplay(webhookId: number, id: number): Promise<ReplayRecord | null> {
    return replays.getReplay(this.pool, webhookId, id);
  }

  async listReplays(webhookId: number, page: { limit: number; cursor?: string }): Promise<Page<ReplayRecord>> {
    return replays.listReplays(this.pool, webhookId, page);
  }

  // Queue

  async claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    return this.queue.claim(options);
  }

  async completeAttempts(results: AttemptResult[], now: number, claimNext?: ClaimOptions): Promise<ClaimedDelivery[]> {
    await this.queue.complete(results, now);
    return claimNext ? this.queue.claim(claimNext) : [];
  }

  async releaseLeases(leases: { deliveryId: string; leaseToken: string }[]): Promise<void> {
    await this.queue.release(leases);
  }

  async postponeDeliveries(leases: { deliveryId: string; leaseToken: string }[], until: number, reason: string, now: number): Promise<void> {
    await this.queue.postpone(leases, until, reason, now);
  }

  async cancelAbandonedDeliveries(now: number): Promise<number> {
    const { rows } = await this.pool.query(sql.cancelAbandoned([now]));
    return Number(rows[0].n);
  }

  async nextDueAt(): Promise<number | null> {
    return this.queue.nextDueAt();
  }

  async queueSize(): Promise<number> {
    return this.queue.queueSize();
  }

  async listenForWork(onWork: () => void): Promise<() => Promise<void>> {
    const listener = new WorkListener(clientConfig(this.connectionString, this.schema), this.schema, onWork, this.onError);
    await listener.start();
    return () => listener.stop();
  }
}
