import type pg from 'pg';
import { toRepository, toWebhook, type Row } from '../rows.js';
import type { IngestItem, IngestResult, PlannedDelivery, RepositoryRecord, WebhookRecord } from '../types.js';
import { prepared } from './pool.js';
import { WORK_CHANNEL } from './work-listener.js';

/**
 * Serialises the ingestion transactions of each repository, taking the locks
 * in id order. Event sequence numbers are drawn at insert and become visible
 * at commit. With one writer per repository at a time, they become visible
 * in order. So the event stream, which follows a repository's events by
 * sequence number, never passes over an event that commits late.
 */
export const lockRepos = prepared(
  'dits_ingest_lock_repos',
  `SELECT pg_advisory_xact_lock(hashtextextended('dits_webhooks.events:' || current_schema() || ':' || id, 0))
   FROM unnest($1::bigint[]) AS id`,
);

const reposById = prepared('dits_ingest_repos', 'SELECT * FROM repositories WHERE id = ANY ($1::bigint[]) AND deleted_at IS NULL');

// FOR KEY SHARE conflicts only with the FOR UPDATE that deactivation and
// deletion take. Such a change waits for this batch, or this batch waits for
// it and then skips the webhook. So a webhook is either fully in or fully
// out, and no delivery outlives a cancellation. Attempt records, which update
// the webhook's last delivery, do not block ingestion. Rows are locked in id order.
const hooksForRepos = prepared(
  'dits_ingest_hooks',
  `SELECT r.id AS matched_repo_id, w.*
   FROM repositories r
   JOIN webhooks w ON w.repo_id = r.id OR (w.repo_id IS NULL AND lower(w.owner) = lower(r.owner))
   WHERE r.id = ANY ($1::bigint[]) AND r.deleted_at IS NULL AND w.deleted_at IS NULL AND w.active
   ORDER BY w.id
   FOR KEY SHARE OF w`,
);

const eventsByKey = prepared(
  'dits_ingest_keys',
  `SELECT e.repo_id, e.idempotency_key, e.id, e.event, e.deliveries, e.request_hash, e.created_at
   FROM events e JOIN unnest($1::bigint[], $2::text[]) AS k(repo_id, idempotency_key)
     ON e.repo_id = k.repo_id AND e.idempotency_key = k.idempotency_key`,
);

// A key stored by a concurrent batch after this one read the keys makes its
// row conflict; DO NOTHING leaves the transaction usable, and the missing
// RETURNING row identifies the events that were not stored.
const insertEvents = prepared(
  'dits_ingest_events',
  `INSERT INTO events (id, repo_id, event, payload, deliveries, idempotency_key, request_hash, created_at)
   SELECT id, repo_id, event, payload, deliveries, idempotency_key, request_hash, created_at
   FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::bigint[])
     WITH ORDINALITY AS e(id, repo_id, event, payload, deliveries, idempotency_key, request_hash, created_at, ord)
   ORDER BY ord
   ON CONFLICT (repo_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
   RETURNING id`,
);

// The announcement runs in the storing transaction, so listeners hear it only once the deliveries are visible.
const insertDeliveries = prepared(
  'dits_ingest_deliveries',
  `WITH inserted AS (
     INSERT INTO deliveries (id, webhook_id, event_id, event, status, body, next_attempt_at, created_at, updated_at)
     SELECT id, webhook_id, event_id, event, 'pending', body, created_at, created_at, created_at
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bytea[], $6::bigint[])
       WITH ORDINALITY AS d(id, webhook_id, event_id, event, body, created_at, ord)
     ORDER BY ord
     RETURNING 1
   )
   SELECT pg_notify('${WORK_CHANNEL}', current_schema()) FROM (SELECT count(*) AS n FROM inserted) c WHERE c.n > 0`,
);

interface StoredKey {
  id: string;
  event: string;
  deliveries: number;
  requestHash: string | null;
  createdAt: number;
}

interface PendingEvent {
  index: number;
  item: IngestItem;
  planned: PlannedDelivery[];
}

const keyOf = (repoId: number, key: string) => `${repoId}\u0000${key}`;

function replayOrReject(item: IngestItem, stored: StoredKey): IngestResult {
  if (stored.requestHash !== item.requestHash) return { ok: false, code: 'idempotency_key_reused' };
  return { ok: true, eventId: stored.id, event: stored.event, deliveries: stored.deliveries, replayed: true, createdAt: stored.createdAt };
}

function toStoredKey(row: Row): StoredKey {
  return {
    id: String(row.id),
    event: String(row.event),
    deliveries: Number(row.deliveries),
    requestHash: row.request_hash === null ? null : String(row.request_hash),
    createdAt: Number(row.created_at),
  };
}

/**
 * Stores a batch of events and their deliveries in the caller's transaction
 * with a fixed number of statements, whatever the batch size. Results match
 * the SQLite store's item-by-item processing: a key seen earlier in the
 * batch or already stored replays that event, or is rejected when the
 * request hash differs.
 */
export async function ingestBatch(client: pg.ClientBase, items: IngestItem[]): Promise<IngestResult[]> {
  const repoIds = [...new Set(items.map((item) => item.repoId))].sort((a, b) => a - b);
  await client.query(lockRepos([repoIds]));
  const context = await loadContext(client, repoIds);
  const stored = await loadStoredKeys(client, items);

  const results: (IngestResult | null)[] = new Array(items.length).fill(null);
  const pending: PendingEvent[] = [];
  // Keys first used by an earlier item of this batch; later items wait for that item's fate.
  const claimedKeys = new Map<string, PendingEvent>();
  const followers: { index: number; owner: PendingEvent }[] = [];

  items.forEach((item, index) => {
    const key = item.idempotencyKey === null ? null : keyOf(item.repoId, item.idempotencyKey);
    if (key !== null) {
      const prior = stored.get(key);
      if (prior) {
        results[index] = replayOrReject(item, prior);
        return;
      }
      const owner = claimedKeys.get(key);
      if (owner) {
        followers.push({ index, owner });
        return;
      }
    }
    const found = context.get(item.repoId);
    if (!found) {
      results[index] = { ok: false, code: 'repo_not_found' };
      return;
    }
    const entry = { index, item, planned: item.plan(found.repo, found.hooks) };
    pending.push(entry);
    if (key !== null) claimedKeys.set(key, entry);
  });

  const insertedIds = await insertPending(client, pending);
  const lost = pending.filter((entry) => !insertedIds.has(entry.item.eventId));
  const winners = lost.length > 0 ? await loadStoredKeys(client, lost.map((entry) => entry.item)) : new Map<string, StoredKey>();

  for (const entry of pending) {
    const { item } = entry;
    results[entry.index] = insertedIds.has(item.eventId)
      ? { ok: true, eventId: item.eventId, event: item.event, deliveries: entry.planned.length, replayed: false, createdAt: item.createdAt }
      : replayOrReject(item, winnerFor(winners, item));
  }
  for (const { index, owner } of followers) {
    const item = items[index];
    const ownerItem = owner.item;
    const stored = insertedIds.has(ownerItem.eventId)
      ? { id: ownerItem.eventId, event: ownerItem.event, deliveries: owner.planned.length, requestHash: ownerItem.requestHash, createdAt: ownerItem.createdAt }
      : winnerFor(winners, ownerItem);
    results[index] = replayOrReject(item, stored);
  }
  return results as IngestResult[];
}

function winnerFor(winners: Map<string, StoredKey>, item: IngestItem): StoredKey {
  const winner = winners.get(keyOf(item.repoId, item.idempotencyKey ?? ''));
  // Only a unique-key conflict skips an insert, so the conflicting row is committed and visible now.
  if (!winner) throw new Error(`event ${item.eventId} was neither stored nor found under its idempotency key`);
  return winner;
}

async function loadContext(client: pg.ClientBase, repoIds: number[]): Promise<Map<number, { repo: RepositoryRecord; hooks: WebhookRecord[] }>> {
  const context = new Map<number, { repo: RepositoryRecord; hooks: WebhookRecord[] }>();
  const repos = await client.query(reposById([repoIds]));
  for (const row of repos.rows as Row[]) context.set(Number(row.id), { repo: toRepository(row), hooks: [] });
  if (context.size === 0) return context;
  const hooks = await client.query(hooksForRepos([[...context.keys()]]));
  for (const row of hooks.rows as Row[]) context.get(Number(row.matched_repo_id))?.hooks.push(toWebhook(row));
  return context;
}

async function loadStoredKeys(client: pg.ClientBase, items: IngestItem[]): Promise<Map<string, StoredKey>> {
  const keyed = items.filter((item) => item.idempotencyKey !== null);
  const stored = new Map<string, StoredKey>();
  if (keyed.length === 0) return stored;
  const { rows } = await client.query(eventsByKey([keyed.map((item) => item.repoId), keyed.map((item) => item.idempotencyKey)]));
  for (const row of rows as Row[]) stored.set(keyOf(Number(row.repo_id), String(row.idempotency_key)), toStoredKey(row));
  return stored;
}

async function insertPending(client: pg.ClientBase, pending: PendingEvent[]): Promise<Set<string>> {
  if (pending.length === 0) return new Set();
  const items = pending.map((entry) => entry.item);
  const { rows } = await client.query(
    insertEvents([
      items.map((item) => item.eventId),
      items.map((item) => item.repoId),
      items.map((item) => item.event),
      items.map((item) => item.payload),
      pending.map((entry) => entry.planned.length),
      items.map((item) => item.idempotencyKey),
      items.map((item) => item.requestHash),
      items.map((item) => item.createdAt),
    ]),
  );
  const inserted = new Set((rows as Row[]).map((row) => String(row.id)));
  const deliveries = pending.filter((entry) => inserted.has(entry.item.eventId)).flatMap((entry) => entry.planned.map((planned) => ({ planned, item: entry.item })));
  if (deliveries.length > 0) {
    await client.query(
      insertDeliveries([
        deliveries.map((d) => d.planned.id),
        deliveries.map((d) => d.planned.webhookId),
        deliveries.map((d) => d.item.eventId),
        deliveries.map((d) => d.item.event),
        deliveries.map((d) => d.planned.body),
        deliveries.map((d) => d.item.createdAt),
      ]),
    );
  }
  return inserted;
}
