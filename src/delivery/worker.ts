import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Config } from '../config.js';
import type { AttemptResult, ClaimedDelivery, ClaimOptions, Store } from '../store/types.js';
import { buildRequestHeaders } from './request-headers.js';
import { decideAttemptOutcome } from './outcome.js';
import type { RetryPolicy } from './retry-policy.js';
import { sendWebhookRequest, type SendResult } from './sender.js';
import { SecretUnavailableError } from '../signing/secret-box.js';
import { prepareSigningKey, type SigningKey } from '../signing/sign.js';
import { assertTransition, DeliveryStatus } from './states.js';
import { redactLocation } from './target-url.js';
import { isEndedProcess, processIdentity } from './worker-identity.js';
import { isPassingStoreFailure, isStoreFull, isStoreLocked } from '../errors.js';
import type { IngestRide } from '../events/ingest.js';

/** Observes attempts for metrics; every method is optional. */
export interface DeliveryObserver {
  attemptFinished?(result: AttemptResult, durationSeconds: number): void;
  webhookDisabled?(webhookId: number, reason: string): void;
}

export interface WorkerOptions {
  store: Store;
  config: Readonly<Config>;
  logger: Logger;
  /** Returns the dispatcher for a webhook: a guarded agent, with TLS checks off only for `insecure_ssl` webhooks. */
  dispatcher: (insecureSsl: boolean) => Dispatcher;
  /** Turns a stored secret back into plain text (decrypts it when encryption at rest is on). */
  openSecret?: (stored: string) => string;
  observer?: DeliveryObserver;
  clock?: () => number;
  random?: () => number;
  workerId?: string;
  /** How long finished attempts wait for an ingestion to record them while events come in, in ms; default RIDE_WAIT_MS. */
  rideWaitMs?: number;
  /** How long a delivery whose webhook secret cannot be decrypted waits before the next try, in ms; default SECRET_WAIT_MS. */
  secretWaitMs?: number;
}

/** Largest number of deliveries claimed in one store round trip. */
const CLAIM_BATCH = 128;
/** How often the worker looks for webhooks that have failed for too long, in ms. */
const DISABLE_CHECK_INTERVAL_MS = 60_000;
/** Wait before recording attempts again after the database was locked or full, in ms. */
const FLUSH_RETRY_MS = 500;
/** Minimum time between two log lines about retried attempt records, in ms. */
const RECORD_RETRY_LOG_MS = 30_000;
/**
 * How long finished attempts wait for an ingestion to record them in its own
 * transaction, in ms, while events come in. At 1,000 events/s one ingestion
 * transaction then records most attempts, instead of a transaction each.
 */
const RIDE_WAIT_MS = 2;
/** Time after an ingestion transaction during which finished attempts wait for the next one, in ms. */
const INGESTING_MS = 50;
/** How often the worker looks for leases of workers on this host that have ended, in ms. */
const ORPHAN_CHECK_INTERVAL_MS = 5000;
/**
 * How long a delivery whose webhook secret cannot be decrypted waits before
 * the next try, in ms. The wait counts no attempt, so the deliveries go out in
 * full once the service runs with the right key or the webhook gets a new secret.
 */
const SECRET_WAIT_MS = 30_000;

/**
 * Claims due deliveries, sends them, and writes the attempts back in batches.
 * A wake-up (new event, finished attempt, timer) runs one pump, and pumps
 * never overlap. Attempt results are flushed before the next claim, so the
 * per-webhook in-flight count read from the leases is current.
 */
export class DeliveryWorker {
  readonly workerId: string;
  private readonly options: WorkerOptions;
  private readonly policy: RetryPolicy;
  private readonly clock: () => number;
  private readonly keyCache = new Map<string, SigningKey>();
  private readonly targetCache = new Map<string, Target>();
  /** Each delivery in flight, by delivery id. */
  private readonly inFlight = new Map<string, InFlight>();
  /** Deliveries in flight per webhook id. */
  private readonly inFlightPerWebhook = new Map<number, number>();
  private readonly warned = new Set<string>();
  private results: AttemptResult[] = [];
  /** Deliveries that could not be signed, with the reason, waiting to be postponed in one store call. */
  private unsigned: { delivery: ClaimedDelivery; reason: string }[] = [];
  /** Room promised to claims that ride along with ingestion and have not come back yet. */
  private reserved = 0;
  /** Set when a claim was skipped because of reserved room, so that the next `adopt` requests a pump. */
  private heldBackByReservation = false;
  private running = false;
  private pumping = false;
  private wakeRequested = false;
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private disableTimer: NodeJS.Timeout | null = null;
  private orphanTimer: NodeJS.Timeout | null = null;
  private flushRetry: NodeJS.Timeout | null = null;
  /** Starts the flush that waits for an ingestion without further wait; null when no flush waits. */
  private flushNow: (() => void) | null = null;
  private lastRecordRetryLog = 0;
  /** Date.now() of the last log line about claims that failed on a full disk. */
  private lastClaimFullLog = 0;
  /** performance.now() of the last ingestion that offered to record attempts, or -Infinity. */
  private lastIngestAt = -Infinity;
  private idleWaiters: (() => void)[] = [];
  private unlisten: (() => Promise<void>) | null = null;

  constructor(options: WorkerOptions) {
    this.options = options;
    this.workerId = options.workerId ?? `worker-${processIdentity()}-${randomUUID().slice(0, 8)}`;
    this.clock = options.clock ?? Date.now;
    this.policy = {
      scheduleSeconds: options.config.retrySchedule,
      jitter: options.config.retryJitter,
      maxRetryAfterSeconds: options.config.maxRetryAfterSeconds,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.options.store.listenForWork) {
      void this.options.store.listenForWork(() => this.notify()).then(
        (unlisten) => {
          this.unlisten = unlisten;
        },
        (err: unknown) => this.options.logger.error({ err }, 'listening for new deliveries failed; relying on polling'),
      );
    }
    this.options.logger.info({ worker_id: this.workerId }, 'delivery worker started');
    this.disableTimer = setInterval(() => {
      void this.disableFailingWebhooks();
      // Catches the leases that expired (a crashed worker elsewhere) on a deleted or deactivated webhook or a deleted repository.
      void this.cancelAbandoned();
    }, DISABLE_CHECK_INTERVAL_MS);
    this.disableTimer.unref();
    void this.releaseOrphanedLeases().then(() => this.notify());
    // Checked again later too: a worker killed just before this one started may not have ended yet.
    this.orphanTimer = setInterval(() => void this.releaseOrphanedLeases(), ORPHAN_CHECK_INTERVAL_MS);
    this.orphanTimer.unref();
  }

  /**
   * Frees the leases of workers on this machine whose process has ended (a
   * kill -9), so that their deliveries go out now rather than when the
   * leases expire. Until then they would count against each webhook's limit.
   * Wakes the worker when it freed any.
   */
  private async releaseOrphanedLeases(): Promise<void> {
    const { store, logger } = this.options;
    if (!store.releaseOrphanedLeases || !this.running) return;
    try {
      const released = await store.releaseOrphanedLeases(isEndedProcess, this.clock());
      if (released === 0) return;
      logger.warn({ count: released }, 'released leases of a delivery worker that ended without giving them back');
      await this.cancelAbandoned();
      this.notify();
    } catch (err) {
      logger.error({ err }, 'releasing the leases of ended workers failed; they expire after leaseMs');
    }
  }

  /** Requests a pump soon; cheap to call often. */
  notify(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.wakeRequested = true;
      return;
    }
    this.pumping = true;
    setImmediate(() => void this.pump());
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Hands the finished attempts waiting to be recorded, and the options of a
   * claim, to an ingestion that runs both in its own transaction. Returns
   * undefined when the worker is stopping or has nothing to record and no
   * room. The claim's room stays reserved until `adopt` gets the ride back.
   */
  claimForIngest(): IngestRide | undefined {
    if (!this.running) return undefined;
    this.lastIngestAt = performance.now();
    const finished = this.results;
    const room = this.roomLeft(this.inFlight.size - finished.length);
    if (room <= 0 && finished.length === 0) return undefined;
    this.results = [];
    const claim = this.claimOptions(Math.max(room, 0));
    this.reserved += claim.limit;
    return { claim, finished, now: this.clock() };
  }

  /**
   * Takes back a ride from `claimForIngest`: settles the attempts it
   * recorded, or queues them for the next flush when the transaction failed,
   * and sends the deliveries it claimed. `claimed` is empty when the
   * ingestion failed. A full claim may have left more due, so a pump follows.
   */
  adopt(claimed: ClaimedDelivery[], ride: IngestRide, recorded: boolean): void {
    this.reserved -= ride.claim.limit;
    if (ride.finished.length > 0) {
      if (recorded) {
        void this.settle(ride.finished);
      } else {
        // Recording the same results again changes nothing when the failure came after the commit.
        this.results = ride.finished.concat(this.results);
        this.scheduleFlush();
      }
    }
    if (!this.running) {
      // A worker that stopped meanwhile gives the leases back, so that the next worker sends these at once.
      if (claimed.length > 0) {
        this.options.store.releaseLeases(claimed.map((delivery) => ({ deliveryId: delivery.id, leaseToken: delivery.leaseToken }))).catch((err: unknown) => {
          this.options.logger.error({ err, count: claimed.length }, 'releasing the leases of deliveries claimed during shutdown failed; they expire after leaseMs');
        });
      }
      return;
    }
    for (const delivery of claimed) void this.attempt(delivery);
    const heldBack = this.heldBackByReservation;
    this.heldBackByReservation = false;
    if ((ride.claim.limit > 0 && claimed.length >= ride.claim.limit) || heldBack) this.notify();
  }

  /** Returns the room for more requests with `inFlight` in flight, net of reserved room, and notes when only the reservation leaves none. */
  private roomLeft(inFlight: number): number {
    const room = this.options.config.maxInFlight - inFlight;
    if (room > 0 && room <= this.reserved) this.heldBackByReservation = true;
    return room - this.reserved;
  }

  private async pump(): Promise<void> {
    const { store, logger } = this.options;
    try {
      do {
        this.wakeRequested = false;
        if (this.flushing) await this.flushing;
        while (this.running) {
          const room = this.roomLeft(this.inFlight.size);
          if (room <= 0) break;
          const options = this.claimOptions(room);
          const claimed = await store.claimDue(options);
          for (const delivery of claimed) void this.attempt(delivery);
          if (claimed.length < options.limit) break;
        }
      } while (this.wakeRequested && this.running);
    } catch (err) {
      if (isStoreLocked(err)) logger.warn({ worker_id: this.workerId }, 'claiming deliveries failed: the database is locked by another process; retrying after the poll interval');
      else if (isStoreFull(err)) this.warnClaimFull();
      else logger.error({ err, worker_id: this.workerId }, 'claiming deliveries failed; retrying after the poll interval');
    } finally {
      this.pumping = false;
    }
    await this.scheduleTimer();
  }

  private async scheduleTimer(): Promise<void> {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    let delay = this.options.config.pollIntervalMs;
    try {
      const next = await this.options.store.nextDueAt();
      const now = this.clock();
      // A due time in the past means the head is leased or its webhook is saturated; finished attempts wake the worker.
      if (next !== null && next > now) delay = Math.min(delay, next - now);
    } catch (err) {
      this.options.logger.error({ err }, 'reading the next due time failed');
    }
    this.timer = setTimeout(() => this.notify(), delay);
    this.timer.unref();
  }

  private signingKeys(webhook: ClaimedDelivery['webhook'], now: number): SigningKey[] {
    const open = this.options.openSecret ?? ((s: string) => s);
    const key = (stored: string): SigningKey => {
      let cached = this.keyCache.get(stored);
      if (!cached) {
        if (this.keyCache.size > 10_000) this.keyCache.clear();
        cached = prepareSigningKey(open(stored));
        this.keyCache.set(stored, cached);
      }
      return cached;
    };
    const keys = [key(webhook.secret)];
    if (webhook.previousSecret && webhook.previousSecretExpiresAt !== null && webhook.previousSecretExpiresAt > now) {
      // The previous secret only adds a second signature, so one the key cannot open is left out rather than
      // failing the attempt: replacing an unreadable secret through the API must make deliveries work at once.
      try {
        keys.push(key(webhook.previousSecret));
      } catch (err) {
        if (!(err instanceof SecretUnavailableError)) throw err;
        this.warnOnce(`previous:${webhook.id}:${webhook.previousSecret}`, { webhook_id: webhook.id, reason: err.message }, 'the previous webhook secret cannot be decrypted; signing with the current secret only');
      }
    }
    return keys;
  }

  /** Logs a warning the first time `key` occurs; the set is cleared once it contains 10,000 keys. */
  private warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.warned.has(key)) return;
    if (this.warned.size >= 10_000) this.warned.clear();
    this.warned.add(key);
    this.options.logger.warn(fields, message);
  }

  /**
   * Builds the signed request headers, or returns why the stored secret
   * cannot be decrypted: a delivery is never sent unsigned. The error is
   * logged once per webhook secret, not on every try.
   */
  private signedHeaders(delivery: ClaimedDelivery, startedAt: number): { headers: Record<string, string> } | { unavailable: string } {
    try {
      const keys = this.signingKeys(delivery.webhook, startedAt);
      return { headers: buildRequestHeaders(delivery, keys, Math.floor(startedAt / 1000)) };
    } catch (err) {
      const message = err instanceof SecretUnavailableError ? err.message : 'the webhook secret could not be decrypted';
      if (!this.warned.has(`secret:${delivery.webhookId}:${delivery.webhook.secret}`)) {
        this.warned.add(`secret:${delivery.webhookId}:${delivery.webhook.secret}`);
        this.options.logger.error(
          { delivery_id: delivery.id, webhook_id: delivery.webhookId, reason: message },
          'webhook secret unavailable; its deliveries wait unsent until the secret can be decrypted',
        );
      }
      return { unavailable: message };
    }
  }

  /**
   * Puts a delivery that cannot be signed back in the queue for
   * SECRET_WAIT_MS, with no attempt counted, so that a wrong or missing key
   * spends none of its retries. The deliveries of one claim share a store call.
   */
  private postpone(delivery: ClaimedDelivery, reason: string): void {
    this.unsigned.push({ delivery, reason });
    if (this.unsigned.length === 1) setImmediate(() => void this.flushUnsigned());
  }

  /** Postpones the deliveries gathered by `postpone`, then frees their in-flight slots. */
  private async flushUnsigned(): Promise<void> {
    const batch = this.unsigned;
    this.unsigned = [];
    const { store, logger } = this.options;
    const now = this.clock();
    const until = now + (this.options.secretWaitMs ?? SECRET_WAIT_MS);
    const byReason = new Map<string, { deliveryId: string; leaseToken: string }[]>();
    for (const { delivery, reason } of batch) {
      const leases = byReason.get(reason) ?? [];
      leases.push({ deliveryId: delivery.id, leaseToken: delivery.leaseToken });
      byReason.set(reason, leases);
    }
    try {
      for (const [reason, leases] of byReason) {
        await store.postponeDeliveries(leases, until, `not sent: ${reason}; the next try is at ${new Date(until).toISOString()}`, now);
      }
    } catch (err) {
      logger.error({ err, count: batch.length }, 'postponing deliveries whose webhook secret cannot be decrypted failed; they are tried again when their leases expire');
    }
    for (const { delivery } of batch) this.untrack(delivery.id);
    this.wakeIdleWaiters();
    this.notify();
  }

  private target(raw: string): Target {
    let target = this.targetCache.get(raw);
    if (!target) {
      if (this.targetCache.size > 10_000) this.targetCache.clear();
      const url = new URL(raw);
      target = { url, authorization: basicAuthorization(url) };
      this.targetCache.set(raw, target);
    }
    return target;
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { config, logger } = this.options;
    this.track(delivery);
    const startedAt = this.clock();
    const attemptNumber = delivery.attempts + 1;
    let result: AttemptResult;
    try {
      const signed = this.signedHeaders(delivery, startedAt);
      if ('unavailable' in signed) {
        this.postpone(delivery, signed.unavailable);
        return;
      }
      const target = this.target(delivery.webhook.url);
      let headers = signed.headers;
      let sentHeaders = headers;
      if (target.authorization !== null) {
        sentHeaders = { ...headers, authorization: target.authorization };
        // The delivery log shows that credentials were sent, never the credentials.
        headers = { ...headers, authorization: 'Basic [redacted]' };
      }
      const entry = this.inFlight.get(delivery.id);
      if (entry) entry.request = { startedAt, headers };
      const response = await sendWebhookRequest({
        url: target.url,
        headers: sentHeaders,
        body: delivery.body,
        timeoutMs: config.deliveryTimeoutMs,
        bodyLimitBytes: config.responseBodyLimitBytes,
        dispatcher: this.options.dispatcher(delivery.webhook.insecureSsl),
      });
      // The worker stopped and released this lease while the request ran; another worker owns the delivery now.
      if (!this.inFlight.has(delivery.id)) return;
      const now = this.clock();
      const decision = decideAttemptOutcome(
        {
          statusCode: response.statusCode,
          errorKind: response.error?.kind ?? null,
          retryAfter: response.headers?.['retry-after'] ?? null,
          scheduledAttemptsMade: delivery.scheduledAttempts + 1,
          manual: delivery.manual,
          resumeAt: delivery.resumeAt,
        },
        this.policy,
        now,
        this.options.random,
      );
      assertTransition(delivery.status, decision.status);
      const received = response.statusCode !== null && response.statusCode >= 300 && response.statusCode < 400 ? response.headers?.location : undefined;
      // Receivers that redirect often echo the request URL, so the log keeps the location redacted like a webhook URL.
      const location = received === undefined ? undefined : redactLocation(received);
      result = {
        deliveryId: delivery.id,
        seq: delivery.seq,
        leaseToken: delivery.leaseToken,
        webhookId: delivery.webhookId,
        event: delivery.event,
        status: decision.status,
        nextAttemptAt: decision.nextAttemptAt,
        resumeAt: decision.resumeAt,
        deactivateWebhook: decision.deactivate,
        attempt: {
          attempt: attemptNumber,
          trigger: delivery.manual ? 'manual' : 'scheduled',
          startedAt,
          durationMs: Math.round(response.durationMs * 1000) / 1000,
          requestHeaders: headers,
          statusCode: response.statusCode,
          responseHeaders: location === undefined ? response.headers : { ...response.headers, location },
          responseBody: response.body,
          responseBodyTruncated: response.bodyTruncated,
          ...attemptError(response.error, location),
          outcome: decision.status,
        },
      };
      // Successful attempts are logged at debug level: the delivery log and the metrics already count them.
      logger[decision.status === 'delivered' ? 'debug' : 'info'](
        {
          delivery_id: delivery.id,
          webhook_id: delivery.webhookId,
          event: delivery.event,
          attempt: attemptNumber,
          status_code: response.statusCode,
          error: response.error?.kind,
          duration_ms: result.attempt.durationMs,
          outcome: decision.status,
        },
        'delivery attempt',
      );
    } catch (err) {
      // Only a programming error lands here; the lease expires and another attempt follows.
      logger.error({ err, delivery_id: delivery.id, webhook_id: delivery.webhookId }, 'delivery attempt crashed');
      this.untrack(delivery.id);
      return;
    }
    this.options.observer?.attemptFinished?.(result, result.attempt.durationMs / 1000);
    this.results.push(result);
    this.scheduleFlush();
  }

  /** Logs why attempt records wait for another try. `lastRecordRetryLog` keeps the lines RECORD_RETRY_LOG_MS apart. */
  private warnRecordRetry(err: unknown, count: number): void {
    const now = Date.now();
    if (now - this.lastRecordRetryLog < RECORD_RETRY_LOG_MS) return;
    this.lastRecordRetryLog = now;
    const reason = isStoreLocked(err) ? 'the database is locked by another process' : isStoreFull(err) ? 'the database disk is full' : `an I/O error (${(err as Error).message})`;
    this.options.logger.warn({ count }, `recording delivery attempts failed: ${reason}; trying again every ${FLUSH_RETRY_MS} ms`);
  }

  /** Logs that claims fail on a full disk, at most once per RECORD_RETRY_LOG_MS: the worker tries again at every poll. */
  private warnClaimFull(): void {
    const now = Date.now();
    if (now - this.lastClaimFullLog < RECORD_RETRY_LOG_MS) return;
    this.lastClaimFullLog = now;
    this.options.logger.warn({ worker_id: this.workerId }, 'claiming deliveries failed: the database disk is full; free disk space, and claiming goes on at the next poll');
  }

  /** Flushes again after FLUSH_RETRY_MS, not at once, so that a locked database does not keep the event loop waiting. */
  private retryFlushLater(): void {
    if (this.flushRetry) return;
    this.flushRetry = setTimeout(() => {
      this.flushRetry = null;
      this.scheduleFlush();
    }, FLUSH_RETRY_MS);
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushRetry) return;
    this.flushing = new Promise<void>((resolve) => {
      const run = () => {
        void this.flush().then((moreMayWait) => {
          this.flushing = null;
          resolve();
          if (this.results.length > 0) this.scheduleFlush();
          if (moreMayWait) this.notify();
        });
      };
      // While events come in, the next ingestion will likely record these attempts before the wait is over. A worker
      // or webhook at its in-flight limit flushes at once, because the freed slots may let waiting deliveries go out.
      if (this.running && performance.now() - this.lastIngestAt < INGESTING_MS && !this.atALimit()) {
        const timer = setTimeout(() => {
          this.flushNow = null;
          run();
        }, this.options.rideWaitMs ?? RIDE_WAIT_MS);
        this.flushNow = () => {
          clearTimeout(timer);
          this.flushNow = null;
          run();
        };
      } else {
        setImmediate(run);
      }
    });
  }

  /** Returns the options of a claim for up to `room` deliveries, at most one batch. */
  private claimOptions(room: number): ClaimOptions {
    const { config } = this.options;
    return {
      workerId: this.workerId,
      now: this.clock(),
      leaseMs: config.leaseMs,
      limit: Math.min(CLAIM_BATCH, room),
      maxInFlightPerWebhook: config.maxInFlightPerWebhook,
    };
  }

  /** Returns the claim that rides along with a flush, or undefined when a pump is claiming anyway or the worker stops. */
  private claimAfter(batch: AttemptResult[]): ClaimOptions | undefined {
    if (!this.running || this.pumping) return undefined;
    const room = this.roomLeft(this.inFlight.size - batch.length);
    return room > 0 ? this.claimOptions(room) : undefined;
  }

  /**
   * Records the finished attempts and, in the same store transaction, claims
   * the deliveries that the freed capacity allows. Returns true when a pump
   * should look for more: recording failed, the claim came back full, or no
   * claim ran and an earlier one may have stopped at an in-flight limit.
   */
  private async flush(): Promise<boolean> {
    const batch = this.results;
    // An ingestion took the results into its own transaction, and its claim wakes the worker when needed.
    if (batch.length === 0) return false;
    this.results = [];
    const { store, logger } = this.options;
    const claimNext = this.claimAfter(batch);
    let claimed: ClaimedDelivery[] = [];
    let recorded = true;
    try {
      claimed = await store.completeAttempts(batch, this.clock(), claimNext);
    } catch (err) {
      if (isPassingStoreFailure(err) && this.running) {
        // The attempts stay in flight and are recorded once the lock is gone or the disk has room again, rather than
        // sent again after their leases expire, while those leases keep their webhooks at the in-flight limit.
        this.warnRecordRetry(err, batch.length);
        this.results = batch.concat(this.results);
        this.retryFlushLater();
        return false;
      }
      // The leases expire and the deliveries are attempted again: at least once, never lost.
      logger.error({ err, count: batch.length }, 'recording delivery attempts failed');
      recorded = false;
    }
    // Read before the batch leaves the in-flight set: the state that the claims since the last flush saw.
    const limited = this.atALimit();
    await this.settle(batch);
    for (const delivery of claimed) void this.attempt(delivery);
    // Without a claim of its own, a flush requests a pump only when an earlier claim may have left due deliveries
    // waiting because this worker or one of its webhooks was at its in-flight limit.
    if (!recorded) return true;
    return claimNext ? claimed.length >= claimNext.limit : limited;
  }

  /** Ends the tracking of attempts whose records were stored, or failed for good, and deactivates webhooks as they decided. */
  private async settle(batch: AttemptResult[]): Promise<void> {
    for (const result of batch) {
      if (this.inFlight.get(result.deliveryId)?.leaseToken === result.leaseToken) this.untrack(result.deliveryId);
      if (result.deactivateWebhook) await this.disable(result.webhookId, result.deactivateWebhook);
    }
    this.wakeIdleWaiters();
  }

  /** Resolves the calls that wait for this worker to have nothing in flight, once it has nothing in flight. */
  private wakeIdleWaiters(): void {
    if (this.inFlight.size > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private track(delivery: ClaimedDelivery): void {
    this.inFlight.set(delivery.id, { leaseToken: delivery.leaseToken, webhookId: delivery.webhookId, delivery, request: null });
    this.inFlightPerWebhook.set(delivery.webhookId, (this.inFlightPerWebhook.get(delivery.webhookId) ?? 0) + 1);
  }

  private untrack(deliveryId: string): void {
    const entry = this.inFlight.get(deliveryId);
    if (!entry) return;
    this.inFlight.delete(deliveryId);
    const left = (this.inFlightPerWebhook.get(entry.webhookId) ?? 1) - 1;
    if (left > 0) this.inFlightPerWebhook.set(entry.webhookId, left);
    else this.inFlightPerWebhook.delete(entry.webhookId);
  }

  /**
   * Reports whether this worker, or one of its webhooks, is at its in-flight
   * limit, so that a claim may have left due deliveries waiting. Leases that
   * other workers hold are not counted; their own flushes claim again.
   */
  private atALimit(): boolean {
    const { maxInFlight, maxInFlightPerWebhook } = this.options.config;
    if (this.inFlight.size >= maxInFlight) return true;
    for (const count of this.inFlightPerWebhook.values()) if (count >= maxInFlightPerWebhook) return true;
    return false;
  }

  private async disable(webhookId: number, reason: string): Promise<void> {
    try {
      await this.options.store.disableWebhook(webhookId, reason, this.clock());
      this.options.logger.warn({ webhook_id: webhookId, reason }, 'webhook deactivated');
      this.options.observer?.webhookDisabled?.(webhookId, reason);
    } catch (err) {
      this.options.logger.error({ err, webhook_id: webhookId }, 'deactivating the webhook failed');
    }
  }

  /** Cancels what deleted or deactivated webhooks, and deleted repositories, left waiting when leases came back without a result. */
  private async cancelAbandoned(): Promise<void> {
    const { store, logger } = this.options;
    try {
      const cancelled = await store.cancelAbandonedDeliveries(this.clock());
      if (cancelled > 0) logger.info({ count: cancelled }, 'cancelled deliveries of deleted or deactivated webhooks or deleted repositories that a worker gave back unfinished');
    } catch (err) {
      if (isStoreLocked(err)) logger.warn('cancelling deliveries of deleted or deactivated webhooks or deleted repositories failed: the database is locked; trying again later');
      else logger.error({ err }, 'cancelling deliveries of deleted or deactivated webhooks or deleted repositories failed');
    }
  }

  /** Deactivates webhooks whose deliveries have failed, without a success, for longer than the configured period. */
  async disableFailingWebhooks(): Promise<void> {
    const days = this.options.config.disableAfterFailingDays;
    if (days <= 0 || !this.running) return;
    try {
      const ids = await this.options.store.listFailingWebhooks(this.clock() - days * 86_400_000);
      for (const id of ids) await this.disable(id, 'failing');
    } catch (err) {
      this.options.logger.error({ err }, 'checking for failing webhooks failed');
    }
  }

  /**
   * Records the requests still in flight when the grace period ends as
   * attempts without a response, so that the log shows every request sent.
   * Each is recorded like the result of a lost lease: it leaves the delivery
   * alone, and the delivery is sent again once its lease is released.
   */
  private async recordInterrupted(): Promise<void> {
    const now = this.clock();
    const results: AttemptResult[] = [];
    for (const [deliveryId, { webhookId, delivery, request }] of this.inFlight) {
      if (request === null) continue;
      results.push({
        deliveryId,
        seq: delivery.seq,
        // No lease matches an empty token, so recording leaves the delivery as it is.
        leaseToken: '',
        webhookId,
        event: delivery.event,
        status: DeliveryStatus.retrying,
        nextAttemptAt: null,
        resumeAt: null,
        deactivateWebhook: null,
        attempt: {
          attempt: delivery.attempts + 1,
          trigger: delivery.manual ? 'manual' : 'scheduled',
          startedAt: request.startedAt,
          durationMs: Math.max(0, now - request.startedAt),
          requestHeaders: request.headers,
          statusCode: null,
          responseHeaders: null,
          responseBody: null,
          responseBodyTruncated: false,
          errorCode: 'interrupted',
          errorMessage: 'the service stopped before the response arrived; the delivery is sent again',
          outcome: DeliveryStatus.retrying,
        },
      });
    }
    if (results.length === 0) return;
    try {
      await this.options.store.completeAttempts(results, now);
    } catch (err) {
      this.options.logger.error({ err, count: results.length }, 'recording the attempts interrupted by the shutdown failed; the deliveries are sent again without them in the log');
    }
  }

  /**
   * Stops claiming, waits up to `graceMs` for requests in flight, records
   * their attempts, and releases the leases of any still running so that
   * another worker retries them at once.
   */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.disableTimer) clearInterval(this.disableTimer);
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    if (this.flushRetry) clearTimeout(this.flushRetry);
    this.flushRetry = null;
    // Attempts that wait for an ingestion are recorded now, and attempts that finish later at once, so stopping waits no longer.
    this.flushNow?.();
    if (this.unlisten) await this.unlisten();
    if (this.inFlight.size > 0) {
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
      ]);
    }
    if (this.flushing) await this.flushing;
    await this.flush();
    await this.recordInterrupted();
    const leftover = [...this.inFlight].map(([deliveryId, { leaseToken }]) => ({ deliveryId, leaseToken }));
    this.inFlight.clear();
    this.inFlightPerWebhook.clear();
    if (leftover.length > 0) {
      await this.options.store.releaseLeases(leftover);
      this.options.logger.warn({ count: leftover.length }, 'released leases of deliveries still in flight at shutdown');
      await this.cancelAbandoned();
    }
    this.options.logger.info({ worker_id: this.workerId }, 'delivery worker stopped');
  }
}

/** A delivery in flight: its lease and, once the request went out, when it started and the headers the log shows. */
interface InFlight {
  leaseToken: string;
  webhookId: number;
  delivery: ClaimedDelivery;
  request: { startedAt: number; headers: Record<string, string> } | null;
}

/** A parsed webhook URL and the Authorization header its user name and password give, if any. */
interface Target {
  url: URL;
  authorization: string | null;
}

/**
 * Returns the Basic Authorization header for the credentials in a URL
 * (`https://user:pass@host/`), as browsers and GitHub send it, or null
 * without credentials. Percent-escapes are decoded; a malformed escape is
 * sent as typed.
 */
export function basicAuthorization(url: URL): string | null {
  if (url.username === '' && url.password === '') return null;
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  return `Basic ${Buffer.from(`${decode(url.username)}:${decode(url.password)}`, 'utf8').toString('base64')}`;
}

/** Returns the error code and message recorded for an attempt: the send error, a redirect left unfollowed, or none. */
function attemptError(error: SendResult['error'], location: string | undefined): { errorCode: string | null; errorMessage: string | null } {
  if (error) return { errorCode: error.kind, errorMessage: error.message };
  if (location !== undefined) return { errorCode: 'redirect_not_followed', errorMessage: `redirect to ${location} not followed` };
  return { errorCode: null, errorMessage: null };
}
