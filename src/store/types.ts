/**
 * The store interface. Two implementations fill it, SQLite (embedded
 * default) and PostgreSQL (many processes on many machines), and one
 * conformance suite runs against both. All times are milliseconds since the
 * Unix epoch; the API layer turns them into ISO 8601 strings.
 */

import type { WebhookFilters } from '../events/filters.js';
import type { DeliveryStatus } from '../delivery/states.js';

export type TokenScope = 'admin' | 'write' | 'events:write' | 'read';

/** A Dits repository known to the service. */
export interface RepositoryRecord {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  description: string | null;
  defaultBranch: string;
  archived: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface RepositoryInput {
  owner: string;
  name: string;
  private: boolean;
  description: string | null;
  defaultBranch: string;
}

export interface RepositoryPatch {
  name?: string;
  private?: boolean;
  description?: string | null;
  defaultBranch?: string;
  archived?: boolean;
}

/** Attachment point of a webhook: one repository, or every repository of an owner. */
export type WebhookScope = { kind: 'repo'; repoId: number } | { kind: 'owner'; owner: string };

/** A subscription of one URL to events. */
export interface WebhookRecord {
  id: number;
  scope: WebhookScope;
  url: string;
  events: string[];
  filters: WebhookFilters | null;
  active: boolean;
  /** Secret as stored: plain, or sealed with the encryption key (`enc:v1:` prefix). */
  secret: string;
  /** Secret replaced by the last rotation; it keeps signing until `previousSecretExpiresAt`. */
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  insecureSsl: boolean;
  /** Reason the service deactivated the webhook (`gone`, `failing`), or null. */
  disabledReason: string | null;
  createdAt: number;
  updatedAt: number;
  lastDelivery: { id: string; event: string; status: DeliveryStatus; statusCode: number | null; at: number } | null;
  /** Time of the first failed attempt since the last success; drives auto-disable. */
  failingSince: number | null;
}

export interface WebhookInput {
  scope: WebhookScope;
  url: string;
  events: string[];
  filters: WebhookFilters | null;
  active: boolean;
  secret: string;
  insecureSsl: boolean;
}

export interface WebhookPatch {
  url?: string;
  events?: string[];
  filters?: WebhookFilters | null;
  active?: boolean;
  /** New secret; the old one moves to previousSecret until `previousSecretExpiresAt`. */
  secret?: string;
  previousSecretExpiresAt?: number;
  insecureSsl?: boolean;
}

/** A running `serve` process, as it records itself in the store it uses. */
export interface ServiceProcessRecord {
  /** `service-<host>-<pid namespace>-<pid>-<random>`. */
  id: string;
  /** The serve role, or `reencrypt` for a running `secrets reencrypt`. */
  role: 'all' | 'api' | 'worker' | 'reencrypt';
  startedAt: number;
  /** Last time the process refreshed its record. */
  seenAt: number;
}

/** The stored secrets of one webhook, plain or sealed (`enc:v1:` prefix), as re-encryption reads and writes them. */
export interface WebhookSecretRecord {
  id: number;
  secret: string;
  previousSecret: string | null;
  /** True for a deleted webhook, whose secrets are kept but never used. */
  deleted: boolean;
}

/** An API token; only the SHA-256 hash of the token string is stored. */
/** Outcome of a token revocation: done, no active token with that id, or rejected for the last active admin token. */
export type TokenRevocation = 'revoked' | 'not_found' | 'last_admin';

export interface TokenRecord {
  id: number;
  name: string;
  scopes: TokenScope[];
  hash: string;
  /** First characters of the token, shown so that people can tell tokens apart. */
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** One delivery to create during ingestion. */
export interface PlannedDelivery {
  id: string;
  webhookId: number;
  /** Exact request body bytes, sent unchanged on every attempt. */
  body: Buffer;
}

/** One event to store, as the ingestion path hands it over. */
export interface IngestItem {
  repoId: number;
  event: string;
  eventId: string;
  /** Time the event was accepted; it is the `timestamp` of every delivery body. */
  createdAt: number;
  idempotencyKey: string | null;
  /** SHA-256 of the request body, compared when an idempotency key is reused. */
  requestHash: string | null;
  /** Event fields plus sender, as JSON, kept for the event list and the event stream. */
  payload: string;
  /**
   * Builds the deliveries inside the storing transaction, so that a webhook
   * created or deleted concurrently is either fully in or fully out.
   * `webhooks` contains the active webhooks of the repository and of its owner.
   */
  plan: (repo: RepositoryRecord, webhooks: WebhookRecord[]) => PlannedDelivery[];
}

export type IngestResult =
  | { ok: true; eventId: string; event: string; deliveries: number; replayed: boolean; createdAt: number }
  | { ok: false; code: 'repo_not_found' | 'idempotency_key_reused' };

export interface EventRecord {
  id: string;
  seq: number;
  repoId: number;
  event: string;
  payload: string;
  deliveries: number;
  createdAt: number;
}

export interface DeliverySummary {
  id: string;
  seq: number;
  webhookId: number;
  eventId: string | null;
  event: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface AttemptRecord {
  attempt: number;
  trigger: 'scheduled' | 'manual';
  startedAt: number;
  durationMs: number;
  requestHeaders: Record<string, string>;
  statusCode: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: Buffer | null;
  responseBodyTruncated: boolean;
  errorCode: string | null;
  errorMessage: string | null;
  outcome: DeliveryStatus;
}

export interface DeliveryDetail extends DeliverySummary {
  body: Buffer;
  attemptsLog: AttemptRecord[];
}

/** A delivery claimed by a worker, with everything needed to send it. */
export interface ClaimedDelivery {
  id: string;
  seq: number;
  webhookId: number;
  event: string;
  body: Buffer;
  status: DeliveryStatus;
  /** Attempts made before this one. */
  attempts: number;
  /** Automatic attempts made before this one; manual redeliveries do not use up the retry schedule. */
  scheduledAttempts: number;
  /** True when this attempt was requested by a manual redelivery. */
  manual: boolean;
  /** Scheduled retry time to restore if a manual attempt fails, or null. */
  resumeAt: number | null;
  leaseToken: string;
  webhook: Pick<WebhookRecord, 'id' | 'url' | 'secret' | 'previousSecret' | 'previousSecretExpiresAt' | 'insecureSsl'>;
}

/** The result of one attempt, written back by the worker. */
export interface AttemptResult {
  deliveryId: string;
  /** Store row number of the delivery, as claimed; saves a lookup by id. */
  seq: number;
  leaseToken: string;
  webhookId: number;
  event: string;
  attempt: AttemptRecord;
  /** Status the delivery moves to. */
  status: DeliveryStatus;
  nextAttemptAt: number | null;
  /** Scheduled retry to keep after a failed manual attempt. */
  resumeAt: number | null;
  /** Deactivate the webhook with this reason (`gone` after a 410). */
  deactivateWebhook: string | null;
}

export interface ClaimOptions {
  workerId: string;
  now: number;
  leaseMs: number;
  limit: number;
  maxInFlightPerWebhook: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface DeliveryQuery {
  webhookId: number;
  status?: DeliveryStatus;
  event?: string;
  cursor?: string;
  limit: number;
}

/** A bulk redelivery of a webhook's deliveries created in a time range. */
export interface ReplayRecord {
  id: number;
  webhookId: number;
  since: number;
  until: number | null;
  /** True when only failed (and cancelled) deliveries were replayed, false for every delivery. */
  onlyFailed: boolean;
  /** Deliveries queued for a manual attempt when the replay was created. */
  total: number;
  /** Deliveries in the range left out because they were in flight or already queued for a manual attempt. */
  skipped: number;
  /** Deliveries whose replay attempt has been made. */
  completed: number;
  /** Deliveries whose replay attempt was cancelled before it ran, because the webhook was deactivated or deleted. */
  cancelled: number;
  createdAt: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the database responds to a trivial query. */
  ping(): Promise<void>;

  createRepository(input: RepositoryInput, now: number): Promise<RepositoryRecord | 'exists'>;
  getRepository(id: number): Promise<RepositoryRecord | null>;
  findRepository(owner: string, name: string): Promise<RepositoryRecord | null>;
  listRepositories(query: { owner?: string; cursor?: string; limit: number }): Promise<Page<RepositoryRecord>>;
  updateRepository(id: number, patch: RepositoryPatch, now: number): Promise<RepositoryRecord | 'exists' | null>;
  /** Marks the repository deleted; its webhooks stop matching new events. */
  deleteRepository(id: number, now: number): Promise<boolean>;

  createWebhook(input: WebhookInput, now: number, maxPerScope: number): Promise<WebhookRecord | 'limit'>;
  getWebhook(scope: WebhookScope, id: number): Promise<WebhookRecord | null>;
  listWebhooks(scope: WebhookScope): Promise<WebhookRecord[]>;
  /** Applies the patch; deactivation cancels waiting deliveries. */
  updateWebhook(scope: WebhookScope, id: number, patch: WebhookPatch, now: number): Promise<WebhookRecord | null>;
  /** Deletes the webhook and cancels its waiting deliveries. */
  deleteWebhook(scope: WebhookScope, id: number, now: number): Promise<boolean>;
  /** Deactivates the webhook for the given reason and cancels its waiting deliveries. */
  disableWebhook(id: number, reason: string, now: number): Promise<void>;
  /** Lists active webhooks whose deliveries have failed since before `failingBefore`. */
  listFailingWebhooks(failingBefore: number): Promise<number[]>;
  /** Lists the stored secrets of every webhook row, deleted ones included, for re-encryption. */
  listWebhookSecrets(): Promise<WebhookSecretRecord[]>;
  /**
   * Replaces both stored secrets of one webhook row with the values given,
   * for re-encryption: unlike a rotation, nothing moves to the previous
   * secret, and the rotation window and `updatedAt` stay as they are.
   */
  updateWebhookSecrets(id: number, secret: string, previousSecret: string | null): Promise<void>;

  /** Records a running service process, or refreshes its `seenAt`. */
  recordServiceProcess(entry: ServiceProcessRecord): Promise<void>;
  /** Removes the record of a service process that stops. */
  removeServiceProcess(id: string): Promise<void>;
  /** Lists the service processes seen at or after `seenSince`, oldest start first. */
  listServiceProcesses(seenSince: number): Promise<ServiceProcessRecord[]>;

  createToken(input: { name: string; scopes: TokenScope[]; hash: string; prefix: string }, now: number): Promise<TokenRecord>;
  findTokenByHash(hash: string): Promise<TokenRecord | null>;
  listTokens(): Promise<TokenRecord[]>;
  /** Lists tokens in creation order, revoked ones included, one page at a time. */
  listTokenPage(query: { cursor?: string; limit: number }): Promise<Page<TokenRecord>>;
  /**
   * Revokes an active token unless it is the last active admin token, which
   * is kept so that someone can still create tokens. The check and the
   * revocation are one atomic step, also across processes.
   */
  revokeToken(id: number, now: number): Promise<TokenRevocation>;
  countTokens(): Promise<number>;
  touchToken(id: number, now: number): Promise<void>;

  /**
   * Stores events and their deliveries in one transaction (group commit).
   * Each item gets its own result; an error rejects the whole batch and
   * stores none of it. Resolves once the commit is durable at the
   * configured level.
   */
  ingest(items: IngestItem[]): Promise<IngestResult[]>;
  /**
   * Ingests like `ingest` and, in the same transaction, records the finished
   * attempts given as `completeAttempts` would and claims due deliveries as
   * `claimDue` would. A worker in this process then needs no transaction of
   * its own for either. Optional: the SQLite store has it.
   */
  ingestAndClaim?(
    items: IngestItem[],
    claim: ClaimOptions,
    finished?: { results: AttemptResult[]; now: number },
  ): Promise<{ results: IngestResult[]; claimed: ClaimedDelivery[] }>;
  /** Creates a single delivery outside an event, for pings. */
  createDirectDelivery(input: { webhookId: number; event: string; planned: PlannedDelivery }, now: number): Promise<void>;
  /**
   * Lists a repository's events, newest first, or oldest first after
   * `afterSeq`. A page ends early, with a cursor to the rest, once its
   * payloads reach `payloadBudget` bytes (default EVENT_PAGE_PAYLOAD_BYTES).
   */
  listEvents(query: { repoId: number; afterSeq?: number; cursor?: string; limit: number; payloadBudget?: number }): Promise<Page<EventRecord>>;
  /** Returns the sequence number of the newest stored event of any repository, or 0 when there is none. */
  newestEventSeq(): Promise<number>;

  listDeliveries(query: DeliveryQuery): Promise<Page<DeliverySummary>>;
  getDelivery(webhookId: number, id: string): Promise<DeliveryDetail | null>;
  /**
   * Queues a manual attempt now, or returns 'in_progress' while a worker
   * leases the delivery or a manual attempt waits, and 'inactive' when the
   * webhook is deactivated or deleted. The webhook is checked in the same
   * transaction, so a concurrent deactivation either comes first or cancels
   * the queued attempt.
   */
  requestRedelivery(webhookId: number, id: string, now: number): Promise<DeliverySummary | 'in_progress' | 'inactive' | null>;

  /**
   * Queues one manual attempt for every delivery of the webhook created in
   * [since, until) that is not in flight, all failed or cancelled ones when
   * `onlyFailed`, and records the replay so that its progress can be read.
   * Returns 'inactive', queueing nothing, when the webhook is deactivated or
   * deleted, checked as requestRedelivery checks it.
   */
  createReplay(input: { webhookId: number; since: number; until: number | null; onlyFailed: boolean }, now: number): Promise<ReplayRecord | 'inactive'>;
  getReplay(webhookId: number, id: number): Promise<ReplayRecord | null>;
  /** Lists a webhook's replays, newest first, a page at a time. */
  listReplays(webhookId: number, page: { limit: number; cursor?: string }): Promise<Page<ReplayRecord>>;

  /** Leases due deliveries, at most `maxInFlightPerWebhook` leased per webhook across all workers. */
  claimDue(options: ClaimOptions): Promise<ClaimedDelivery[]>;
  /**
   * Records attempts and moves deliveries on; a result whose lease was lost
   * still records its attempt. With `claimNext`, it then claims as
   * `claimDue` does, in the same transaction where the store can, and
   * returns the claimed deliveries. Without it, it returns none.
   */
  completeAttempts(results: AttemptResult[], now: number, claimNext?: ClaimOptions): Promise<ClaimedDelivery[]>;
  /**
   * Gives back the leases of workers that `isEnded` reports as ended and
   * returns how many. Only a store whose workers all run on one machine
   * (SQLite) implements it; elsewhere leases of a crashed worker expire.
   */
  releaseOrphanedLeases?(isEnded: (owner: string) => boolean, now: number): Promise<number>;
  /** Gives leases back without an attempt, for shutdown. */
  releaseLeases(leases: { deliveryId: string; leaseToken: string }[]): Promise<void>;
  /**
   * Gives leases back without an attempt and moves each delivery's next
   * attempt to `until`, with `reason` as its last error. Status, attempt
   * count and a manual request stay. For deliveries that could not be sent,
   * such as those whose webhook secret cannot be decrypted.
   */
  postponeDeliveries(leases: { deliveryId: string; leaseToken: string }[], until: number, reason: string, now: number): Promise<void>;
  /**
   * Cancels the waiting deliveries of deleted and deactivated webhooks that
   * no live lease holds, and returns how many. Deleting or deactivating a
   * webhook leaves leased deliveries to their worker. A worker may give such
   * a lease back without a result, at shutdown or after a crash. The delivery
   * then waits, and no claim would ever take it.
   */
  cancelAbandonedDeliveries(now: number): Promise<number>;
  /** Time of the next due delivery, or null when none waits. */
  nextDueAt(): Promise<number | null>;
  /** Counts deliveries waiting (pending or retrying). */
  queueSize(): Promise<number>;
  /**
   * Calls `onWork` when another process created or re-queued deliveries, for
   * stores shared by several processes; returns a function that stops
   * listening. Stores used by one process leave it out.
   */
  listenForWork?(onWork: () => void): Promise<() => Promise<void>>;
}
