/**
 * Row mappers shared by the SQLite and PostgreSQL stores. Both use the same
 * column names; PostgreSQL returns BIGINT as strings and booleans as
 * booleans, SQLite returns integers for both, so every value is normalised.
 */
import type { DeliveryStatus } from '../delivery/states.js';
import type {
  AttemptRecord,
  ClaimedDelivery,
  DeliverySummary,
  EventRecord,
  ReplayRecord,
  RepositoryRecord,
  ServiceProcessRecord,
  TokenRecord,
  TokenScope,
  WebhookRecord,
  WebhookSecretRecord,
} from './types.js';

export type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 't';
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function toRepository(row: Row): RepositoryRecord {
  return {
    id: num(row.id),
    owner: String(row.owner),
    name: String(row.name),
    private: bool(row.private),
    description: strOrNull(row.description),
    defaultBranch: String(row.default_branch),
    archived: bool(row.archived),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export function toWebhook(row: Row): WebhookRecord {
  return {
    id: num(row.id),
    scope: row.repo_id !== null && row.repo_id !== undefined ? { kind: 'repo', repoId: num(row.repo_id) } : { kind: 'owner', owner: String(row.owner) },
    url: String(row.url),
    events: JSON.parse(String(row.events)) as string[],
    filters: row.filters ? JSON.parse(String(row.filters)) : null,
    active: bool(row.active),
    secret: String(row.secret),
    previousSecret: strOrNull(row.previous_secret),
    previousSecretExpiresAt: numOrNull(row.previous_secret_expires_at),
    insecureSsl: bool(row.insecure_ssl),
    disabledReason: strOrNull(row.disabled_reason),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
    lastDelivery: row.last_delivery_id
      ? {
          id: String(row.last_delivery_id),
          event: String(row.last_delivery_event),
          status: String(row.last_delivery_status) as DeliveryStatus,
          statusCode: numOrNull(row.last_status_code),
          at: num(row.last_delivery_at),
        }
      : null,
    failingSince: numOrNull(row.failing_since),
  };
}

export function toWebhookSecret(row: Row): WebhookSecretRecord {
  return { id: num(row.id), secret: String(row.secret), previousSecret: strOrNull(row.previous_secret), deleted: row.deleted_at !== null && row.deleted_at !== undefined };
}

export function toServiceProcess(row: Row): ServiceProcessRecord {
  return { id: String(row.id), role: String(row.role) as ServiceProcessRecord['role'], startedAt: num(row.started_at), seenAt: num(row.seen_at) };
}

export function toToken(row: Row): TokenRecord {
  return {
    id: num(row.id),
    name: String(row.name),
    scopes: JSON.parse(String(row.scopes)) as TokenScope[],
    hash: String(row.hash),
    prefix: String(row.prefix),
    createdAt: num(row.created_at),
    lastUsedAt: numOrNull(row.last_used_at),
    revokedAt: numOrNull(row.revoked_at),
  };
}

export function toEvent(row: Row): EventRecord {
  return {
    id: String(row.id),
    seq: num(row.seq),
    repoId: num(row.repo_id),
    event: String(row.event),
    payload: String(row.payload),
    deliveries: num(row.deliveries),
    createdAt: num(row.created_at),
  };
}

export function toDeliverySummary(row: Row): DeliverySummary {
  return {
    id: String(row.id),
    seq: num(row.seq),
    webhookId: num(row.webhook_id),
    eventId: strOrNull(row.event_id),
    event: String(row.event),
    status: String(row.status) as DeliveryStatus,
    attempts: num(row.attempts),
    nextAttemptAt: numOrNull(row.next_attempt_at),
    lastStatusCode: numOrNull(row.last_status_code),
    lastError: strOrNull(row.last_error),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export function toAttempt(row: Row): AttemptRecord {
  return {
    attempt: num(row.attempt),
    trigger: String(row.trigger) as AttemptRecord['trigger'],
    startedAt: num(row.started_at),
    durationMs: num(row.duration_ms),
    requestHeaders: JSON.parse(String(row.request_headers)) as Record<string, string>,
    statusCode: numOrNull(row.status_code),
    responseHeaders: row.response_headers ? (JSON.parse(String(row.response_headers)) as Record<string, string>) : null,
    responseBody: row.response_body ? Buffer.from(row.response_body as Uint8Array) : null,
    responseBodyTruncated: bool(row.response_body_truncated),
    errorCode: strOrNull(row.error_code),
    errorMessage: strOrNull(row.error_message),
    outcome: String(row.outcome) as DeliveryStatus,
  };
}

/** Encodes a sequence number as an opaque pagination cursor. */
export function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString('base64url');
}

/** Decodes a cursor from encodeCursor; returns null for anything else. */
export function decodeCursor(cursor: string): number | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^s:(\d{1,15})$/.exec(text);
  return match ? Number(match[1]) : null;
}

/** Splits a replay's deliveries into attempted and cancelled; the rest still wait for their attempt. */
function replayProgress(total: number, queued: number, cancelled: number): { completed: number; cancelled: number } {
  const done = Math.max(0, total - queued);
  return { completed: Math.max(0, done - cancelled), cancelled: Math.min(cancelled, done) };
}

export function toReplay(row: Row): ReplayRecord {
  return {
    id: num(row.id),
    webhookId: num(row.webhook_id),
    since: num(row.since),
    until: numOrNull(row.until),
    onlyFailed: bool(row.only_failed),
    total: num(row.total),
    skipped: num(row.skipped ?? 0),
    ...replayProgress(num(row.total), num(row.queued ?? 0), num(row.cancelled ?? 0)),
    createdAt: num(row.created_at),
  };
}

/** Maps a claimed delivery joined with its webhook; the row carries the lease token just written. */
export function toClaimedDelivery(row: Row): ClaimedDelivery {
  return {
    id: String(row.id),
    seq: num(row.seq),
    webhookId: num(row.webhook_id),
    event: String(row.event),
    body: Buffer.isBuffer(row.body) ? row.body : Buffer.from(row.body as Uint8Array),
    status: String(row.status) as DeliveryStatus,
    attempts: num(row.attempts),
    // The queue counts them for deliveries attempted before; a first attempt has none.
    scheduledAttempts: 0,
    manual: bool(row.manual),
    resumeAt: numOrNull(row.resume_at),
    leaseToken: String(row.lease_token),
    webhook: toClaimedWebhook({ ...row, id: row.webhook_id }),
  };
}

/** Maps the webhook columns a worker needs to send a delivery: id, url, secrets and TLS setting. */
export function toClaimedWebhook(row: Row): ClaimedDelivery['webhook'] {
  return {
    id: num(row.id),
    url: String(row.url),
    secret: String(row.secret),
    previousSecret: strOrNull(row.previous_secret),
    previousSecretExpiresAt: numOrNull(row.previous_secret_expires_at),
    insecureSsl: bool(row.insecure_ssl),
  };
}
