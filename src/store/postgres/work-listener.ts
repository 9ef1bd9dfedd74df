import pg from 'pg';

/**
 * Channel that announces new or re-queued deliveries. Channels are shared by
 * the whole database, so the payload names the schema and listeners ignore
 * other schemas' announcements.
 */
export const WORK_CHANNEL = 'dits_webhooks_work';

/** First and largest delay before reconnecting a dropped LISTEN connection, in milliseconds. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 10_000;

/** Returns the delay before reconnect attempt `failures` (1-based): doubling, capped, with up to 25 % jitter. */
export function reconnectDelayMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(failures - 1, 20));
  return Math.round(base * (1 - 0.25 * random()));
}

/**
 * Keeps one dedicated connection in LISTEN on the work channel and calls
 * `onWork` for each announcement of its schema. A dropped connection is
 * opened again with backoff, and `onWork` runs after every reconnect because
 * announcements sent while disconnected are lost.
 */
export class WorkListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly schema: string,
    private readonly onWork: () => void,
    private readonly onError: (err: Error, context: string) => void,
  ) {}

  /** Opens the first connection; when that fails, reconnection goes on in the background. */
  async start(): Promise<void> {
    await this.connect(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(reconnecting: boolean): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    const client = new pg.Client({ ...this.config, keepAlive: true, application_name: `dits_webhooks_listener:${this.schema}` });
    client.on('notification', (message) => {
      if (message.payload === this.schema) this.onWork();
    });
    // Errors while connecting reject connect() or the query; this handler only keeps them from crashing the process.
    const ignore = () => undefined;
    client.on('error', ignore);
    try {
      await client.connect();
      await client.query(`LISTEN ${WORK_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      if (this.stopped) return;
      this.onError(err as Error, 'opening the LISTEN connection failed; retrying');
      this.scheduleReconnect();
      return;
    }
    client.off('error', ignore);
    // 'error' and 'end' both follow a dropped connection; `dropped` makes them schedule one reconnect.
    let dropped = false;
    const onDrop = (err?: Error) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = null;
      if (this.stopped) return;
      this.onError(err ?? new Error('connection closed by the server'), 'LISTEN connection dropped; reconnecting');
      this.scheduleReconnect();
    };
    client.on('error', onDrop);
    client.on('end', () => onDrop());
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    if (reconnecting) this.onWork();
  }

  private scheduleReconnect(): void {
    if (this.timer || this.stopped) return;
    this.failures++;
    this.timer = setTimeout(() => void this.connect(true), reconnectDelayMs(this.failures));
    this.timer.unref();
  }
}
