import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AttemptResult, Store } from './store/types.js';

/** Prometheus metrics of one process, served at /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly deliveries: Counter<'status' | 'event'>;
  readonly duration: Histogram<'event'>;
  readonly retries: Counter;
  readonly webhooksDisabled: Counter<'reason'>;
  readonly queueSize: Gauge;

  constructor(store: Store | null) {
    collectDefaultMetrics({ register: this.registry });
    this.deliveries = new Counter({
      name: 'dits_webhook_deliveries_total',
      help: 'Delivery attempts by the outcome the worker decided and by event name.',
      labelNames: ['status', 'event'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'dits_webhook_delivery_duration_seconds',
      help: 'Time from sending a delivery request to receiving the response headers, in seconds.',
      labelNames: ['event'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.retries = new Counter({
      name: 'dits_webhook_retry_count',
      help: 'Attempts whose outcome was a retry.',
      registers: [this.registry],
    });
    this.webhooksDisabled = new Counter({
      name: 'dits_webhook_webhooks_disabled_total',
      help: 'Webhooks deactivated by the service, by reason (gone: a 410 response, failing: failures without success for too long).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.queueSize = new Gauge({
      name: 'dits_webhook_queue_size',
      help: 'Deliveries waiting for an attempt: pending, retrying, or queued for a redelivery or a replay.',
      registers: [this.registry],
      collect: store
        ? async () => {
            this.queueSize.set(await store.queueSize());
          }
        : undefined,
    });
  }

  attemptFinished(result: AttemptResult, durationSeconds: number): void {
    this.deliveries.inc({ status: result.status, event: result.event });
    this.duration.observe({ event: result.event }, durationSeconds);
    if (result.status === 'retrying') this.retries.inc();
  }

  webhookDisabled(_webhookId: number, reason: string): void {
    this.webhooksDisabled.inc({ reason });
  }
}
