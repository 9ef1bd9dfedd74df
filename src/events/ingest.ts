import { uuidv7 } from './ids.js';
import type { Logger } from 'pino';
import type { AttemptResult, ClaimedDelivery, ClaimOptions, IngestItem, IngestResult, PlannedDelivery, RepositoryRecord, Store, WebhookRecord } from '../store/types.js';
import { compileEventPatterns } from './patterns.js';
import { compileWebhookFilters } from './filters.js';
import { buildDeliveryBody, prepareBodyTemplate, repositoryPayload } from './payload.js';

/** One event ready to store: validated, normalised fields and the sender. */
export interface IngestRequest {
  repoId: number;
  event: string;
  sender: unknown;
  fields: Record<string, unknown>;
  idempotencyKey: string | null;
  requestHash: string | null;
}

/** Compiled webhooks kept for reuse, oldest dropped first. */
const MAX_COMPILED_WEBHOOKS = 500;

/** Work that an ingestion does for the worker in its transaction: finished attempts to record and a claim. */
export interface IngestRide {
  claim: ClaimOptions;
  finished: AttemptResult[];
  now: number;
}

/** A delivery worker in this process that lets ingestions record its attempts and claim deliveries for it. */
export interface IngestClaimer {
  claimForIngest(): IngestRide | undefined;
  /** Receives the ride back; `recorded` is false when the transaction failed and the finished attempts are not stored. */
  adopt(claimed: ClaimedDelivery[], ride: IngestRide, recorded: boolean): void;
}

/** Largest number of events committed in one transaction. */
const MAX_BATCH = 512;

interface CompiledWebhook {
  version: string;
  matchesEvent: (event: string) => boolean;
  matchesFilters: (event: string, payload: Record<string, unknown>) => boolean;
}

/**
 * Stores events and fans them out to matching webhooks. Requests that arrive
 * in the same event-loop turn share one transaction commit (group commit),
 * and each caller gets its response only after that commit.
 */
export class EventIngestor {
  private queue: { request: IngestRequest; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private running: Promise<void> | null = null;
  private readonly compiled = new Map<number, CompiledWebhook>();
  /** The compiled form of each webhook record object; the store reads new records for every batch. */
  private readonly compiledRecords = new WeakMap<WebhookRecord, CompiledWebhook>();
  private claimer: IngestClaimer | null = null;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /** Called after every commit that created deliveries, to wake the worker. */
    private readonly onDeliveriesCreated: () => void,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Lets ingestion record the finished attempts of a worker in this process
   * and claim due deliveries for it, in the transaction that stores the
   * events, when the store can. The worker then needs fewer transactions.
   */
  attachWorker(claimer: IngestClaimer): void {
    this.claimer = claimer;
  }

  submit(request: IngestRequest): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    if (this.running) await this.running;
    this.scheduled = false;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    if (this.queue.length > 0) this.schedule();
    this.running = this.commit(batch);
    await this.running;
    this.running = null;
  }

  private async commit(batch: IngestEntry[]): Promise<void> {
    const items = batch.map((entry) => this.toItem(entry.request));
    const ride = this.store.ingestAndClaim ? this.claimer?.claimForIngest() : undefined;
    try {
      let results: IngestResult[];
      if (ride && this.store.ingestAndClaim) {
        let claimed: ClaimedDelivery[] = [];
        let recorded = false;
        try {
          ({ results, claimed } = await this.store.ingestAndClaim(items, ride.claim, { results: ride.finished, now: ride.now }));
          recorded = true;
        } finally {
          this.claimer?.adopt(claimed, ride, recorded);
        }
      } else {
        results = await this.store.ingest(items);
        if (results.some((result) => result.ok && !result.replayed && result.deliveries > 0)) this.onDeliveriesCreated();
      }
      results.forEach((result, i) => batch[i].resolve(result));
    } catch (err) {
      this.logger.error({ err, count: batch.length }, 'storing events failed');
      for (const entry of batch) entry.reject(err);
    }
  }

  private toItem(request: IngestRequest): IngestItem {
    const eventId = uuidv7();
    const createdAt = this.clock();
    return {
      repoId: request.repoId,
      event: request.event,
      eventId,
      createdAt,
      idempotencyKey: request.idempotencyKey,
      requestHash: request.requestHash,
      payload: JSON.stringify({ sender: request.sender, ...request.fields }),
      plan: (repo, webhooks) => this.plan(request, createdAt, repo, webhooks),
    };
  }

  /** Builds one delivery per matching webhook; the body differs only in its `delivery_id`. */
  private plan(request: IngestRequest, createdAt: number, repo: RepositoryRecord, webhooks: WebhookRecord[]): PlannedDelivery[] {
    const planned: PlannedDelivery[] = [];
    let template: ReturnType<typeof prepareBodyTemplate> | null = null;
    for (const webhook of webhooks) {
      const compiled = this.compile(webhook);
      if (!compiled.matchesEvent(request.event)) continue;
      if (!compiled.matchesFilters(request.event, request.fields)) continue;
      template ??= prepareBodyTemplate(request.event, createdAt, repositoryPayload(repo), request.sender, request.fields);
      const id = uuidv7();
      planned.push({ id, webhookId: webhook.id, body: buildDeliveryBody(template, id) });
    }
    return planned;
  }

  private compile(webhook: WebhookRecord): CompiledWebhook {
    // A batch of events reads each webhook record once, so its events after the first skip building the version.
    const known = this.compiledRecords.get(webhook);
    if (known) return known;
    const compiled = this.compileVersion(webhook);
    this.compiledRecords.set(webhook, compiled);
    return compiled;
  }

  private compileVersion(webhook: WebhookRecord): CompiledWebhook {
    const version = `${webhook.updatedAt}:${JSON.stringify(webhook.events)}:${JSON.stringify(webhook.filters)}`;
    const cached = this.compiled.get(webhook.id);
    if (cached && cached.version === version) return cached;
    // Deleted webhooks are never looked up again, so a small bound keeps their entries from piling up.
    if (this.compiled.size >= MAX_COMPILED_WEBHOOKS) this.compiled.delete(this.compiled.keys().next().value as number);
    const compiled = {
      version,
      matchesEvent: compileEventPatterns(webhook.events),
      matchesFilters: compileWebhookFilters(webhook.filters),
    };
    this.compiled.set(webhook.id, compiled);
    return compiled;
  }
}

type IngestEntry = EventIngestor['queue'][number];
