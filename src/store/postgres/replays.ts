import type pg from 'pg';
import { decodeCursor, encodeCursor, toReplay, type Row } from '../rows.js';
import type { Page, ReplayRecord } from '../types.js';
import { prepared, withTransaction } from './pool.js';
import { lockActiveWebhook } from './statements.js';
import { WORK_CHANNEL } from './work-listener.js';

const insertReplay = prepared(
  'dits_replay_insert',
  'INSERT INTO replays (webhook_id, since, until, only_failed, total, created_at) VALUES ($1, $2, $3, $4, 0, $5) RETURNING *',
);

// A delivery in flight or already queued for a manual attempt is left alone,
// because its own attempt is on the way, and counted as skipped. The count
// reads the rows as they were before this statement's update. Rows are
// locked in seq order, as in every other statement that updates many deliveries.
const queueReplay = prepared(
  'dits_replay_queue',
  `WITH queued AS (
     UPDATE deliveries d
     SET manual = true, replay_id = $1,
         resume_at = CASE WHEN d.status IN ('retrying', 'pending') THEN d.next_attempt_at END,
         next_attempt_at = $2, updated_at = $2
     FROM (SELECT seq FROM deliveries
           WHERE webhook_id = $3 AND created_at >= $4 AND ($5::bigint IS NULL OR created_at < $5)
             AND NOT manual AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
             AND (NOT $6::boolean OR status IN ('failed', 'cancelled'))
           ORDER BY seq FOR UPDATE) c
     WHERE d.seq = c.seq
     RETURNING 1
   )
   UPDATE replays SET total = (SELECT count(*) FROM queued),
     skipped = (SELECT count(*) FROM deliveries
                WHERE webhook_id = $3 AND created_at >= $4 AND ($5::bigint IS NULL OR created_at < $5)
                  AND (manual OR lease_expires_at > $2)
                  AND (NOT $6::boolean OR status IN ('failed', 'cancelled')))
   WHERE id = $1
   RETURNING total, skipped`,
);

// A replay's attempt is finished once its delivery is no longer queued for a manual attempt under that replay.
const announceWork = prepared('dits_announce_work', `SELECT pg_notify('${WORK_CHANNEL}', current_schema())`);

const replayColumns = `r.*, (SELECT count(*) FROM deliveries d WHERE d.replay_id = r.id AND d.manual) AS queued`;
const replayById = prepared('dits_replay_by_id', `SELECT ${replayColumns} FROM replays r WHERE r.id = $1 AND r.webhook_id = $2`);
const replaysOf = prepared('dits_replay_list', `SELECT ${replayColumns} FROM replays r WHERE r.webhook_id = $1 AND r.id < $2 ORDER BY r.id DESC LIMIT $3`);

export async function createReplay(
  pool: pg.Pool,
  input: { webhookId: number; since: number; until: number | null; onlyFailed: boolean },
  now: number,
): Promise<ReplayRecord | 'inactive'> {
  return withTransaction(pool, async (client): Promise<ReplayRecord | 'inactive'> => {
    const webhook = await client.query(lockActiveWebhook([input.webhookId]));
    if (webhook.rows[0]?.usable !== true) return 'inactive';
    const { rows } = await client.query(insertReplay([input.webhookId, input.since, input.until, input.onlyFailed, now]));
    const replay = rows[0] as Row;
    const queued = await client.query(queueReplay([replay.id, now, input.webhookId, input.since, input.until, input.onlyFailed]));
    const total = Number(queued.rows[0].total);
    // The announcement goes out with the commit that makes the queued attempts visible.
    if (total > 0) await client.query(announceWork());
    return toReplay({ ...replay, total, skipped: queued.rows[0].skipped, queued: total });
  });
}

export async function getReplay(pool: pg.Pool, webhookId: number, id: number): Promise<ReplayRecord | null> {
  const { rows } = await pool.query(replayById([id, webhookId]));
  return rows[0] ? toReplay(rows[0]) : null;
}

export async function listReplays(pool: pg.Pool, webhookId: number, page: { limit: number; cursor?: string }): Promise<Page<ReplayRecord>> {
  const before = page.cursor ? decodeCursor(page.cursor) ?? Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  const { rows } = await pool.query(replaysOf([webhookId, before, page.limit + 1]));
  const items = rows.slice(0, page.limit).map(toReplay);
  return { items, nextCursor: rows.length > page.limit ? encodeCursor(items[items.length - 1].id) : null };
}
