/**
 * PostgreSQL measurements: drain throughput of a stored backlog with one and
 * with two worker processes, end-to-end latency at a steady event rate, and
 * a pg-boss@10 yardstick draining the same delivery bodies to the same
 * receiver. Every service, the receiver and the pg-boss workers run in their
 * own processes. Each run uses fresh schemas in the database named by
 * DITS_BENCH_DATABASE_URL (default the local `test` database) and drops them.
 *
 *   node --import tsx bench/postgres.ts      prints the rows as JSON
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { BenchChild } from './children.js';
import { pollUntil, type BenchContext, type BenchSettings } from './context.js';
import { measureLatency, assertAllAccepted } from './dits-scenarios.js';
import { postClosedLoop } from './load.js';
import type { DeliveryJob } from './pgboss-process.js';
import { createRepoWithWebhooks, pushEventBody } from './setup.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const DATABASE_URL = process.env.DITS_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const SETTINGS: BenchSettings = {
  deliveries: 20_000,
  fanOut: 10,
  maxInFlightPerWebhook: 10,
  loadConcurrency: 32,
  latencyRate: 1000,
  latencyDurationMs: 10_000,
  synchronous: 'full',
  phaseTimeoutMs: 180_000,
};

/**
 * pg-boss worker layouts tried. The first two keep at most 100 requests in
 * flight, as Dits does here (10 webhooks with 10 each); the last allows 400.
 */
const PGBOSS_LAYOUTS = [
  { workers: 10, batchSize: 10 },
  { workers: 1, batchSize: 100 },
  { workers: 2, batchSize: 200 },
];
/** Jobs per pg-boss layout: fewer than the Dits backlog, because its 0.5 s polling makes the small layouts slow. */
const PGBOSS_JOBS = 10_000;

interface PgService {
  child: BenchChild;
  url: string | null;
  adminToken: string | null;
  startedAt: number;
  cpuAtStart: number;
}

function log(line: string): void {
  process.stderr.write(`[bench:postgres] ${line}\n`);
}

async function startService(schema: string, role: 'api' | 'worker'): Promise<PgService> {
  const child = await BenchChild.start('service-process.ts', `service-pg-${role}`);
  try {
    const started = await child.call('start', {
      overrides: {
        port: 0,
        host: '127.0.0.1',
        role,
        databaseUrl: DATABASE_URL,
        databaseSchema: schema,
        allowPrivateTargets: true,
        logLevel: 'warn',
        maxInFlightPerWebhook: SETTINGS.maxInFlightPerWebhook,
        rateLimitPerMinute: 10_000_000,
      },
    });
    return { child, ...started };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** Counts deliveries not yet recorded as finished: waiting, or still leased. */
async function unfinished(db: pg.Client, schema: string): Promise<number> {
  const { rows } = await db.query(`SELECT count(*) AS n FROM ${schema}.deliveries WHERE next_attempt_at IS NOT NULL OR lease_expires_at IS NOT NULL`);
  return Number(rows[0].n);
}

/** Stores `events` push events through the API with no worker running; returns the deliveries waiting. */
async function seedBacklog(db: pg.Client, schema: string, api: PgService, repoId: number, events: number): Promise<number> {
  const load = await postClosedLoop(
    { origin: api.url as string, path: `/v1/repos/${repoId}/events`, token: api.adminToken },
    { count: events, concurrency: SETTINGS.loadConcurrency, timeoutMs: SETTINGS.phaseTimeoutMs, body: (i) => pushEventBody(i) },
  );
  assertAllAccepted(load, events, 'seeding the PostgreSQL backlog');
  log(`seeded ${events} events at ${Math.round((events * 1000) / (load.lastAt - load.firstAt))} events/s`);
  return unfinished(db, schema);
}

/** Starts `workers` worker processes together and times them from start until the receiver has every delivery. */
async function drain(context: BenchContext, db: pg.Client, schema: string, workers: number, backlog: number): Promise<BenchRow> {
  await context.receiver.call('reset', {});
  const services = await Promise.all(Array.from({ length: workers }, () => startService(schema, 'worker')));
  try {
    const arrived = await context.receiver.call('waitFor', { count: backlog, timeoutMs: SETTINGS.phaseTimeoutMs }, SETTINGS.phaseTimeoutMs + 5000);
    await pollUntil(async () => (await unfinished(db, schema)) === 0, 30_000, 'every delivery to be recorded');
    const startedAt = Math.min(...services.map((s) => s.startedAt));
    const ms = arrived.lastAt - startedAt;
    const cpu = await Promise.all(services.map(async (s) => (await s.child.call('cpu')).cpuMicros - s.cpuAtStart));
    return {
      name: `PostgreSQL drain, ${workers} worker process${workers > 1 ? 'es' : ''}`,
      value: Math.round((arrived.count * 1000) / ms),
      unit: 'deliveries/s',
      note: `${arrived.count} deliveries to ${SETTINGS.fanOut} webhooks, at most ${SETTINGS.maxInFlightPerWebhook} in flight each, in ${Math.round(ms)} ms; worker CPU ${cpu.map((c) => (c / 1e6).toFixed(1)).join(' + ')} s`,
    };
  } finally {
    await Promise.all(services.map((s) => s.child.stop()));
  }
}

/** Reads the delivered bodies back as pg-boss jobs, so that the yardstick sends the same bytes to the same URLs. */
async function deliveryJobs(db: pg.Client, schema: string): Promise<DeliveryJob[]> {
  const { rows } = await db.query(
    `SELECT d.id, d.webhook_id, d.body, w.url, w.secret FROM ${schema}.deliveries d JOIN ${schema}.webhooks w ON w.id = d.webhook_id
     WHERE d.event <> 'ping' ORDER BY d.seq LIMIT $1`,
    [PGBOSS_JOBS],
  );
  return rows.map((r) => ({ id: String(r.id), webhookId: Number(r.webhook_id), url: String(r.url), secret: String(r.secret), body: (r.body as Buffer).toString('base64') }));
}

async function drainPgBoss(context: BenchContext, jobs: DeliveryJob[], layout: { workers: number; batchSize: number }): Promise<BenchRow> {
  const schema = `pgboss_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const queue = 'deliveries';
  const boss = new PgBoss({ connectionString: DATABASE_URL, schema, supervise: false, schedule: false });
  boss.on('error', (err: Error) => log(`pg-boss error: ${err.message}`));
  await boss.start();
  let child: BenchChild | null = null;
  try {
    await boss.createQueue(queue);
    for (let i = 0; i < jobs.length; i += 1000) {
      await boss.insert(jobs.slice(i, i + 1000).map((data) => ({ name: queue, data, retryLimit: 2 })));
    }
    await context.receiver.call('reset', {});
    child = await BenchChild.start('pgboss-process.ts', 'pgboss-worker');
    const connections = layout.workers * layout.batchSize;
    const started = await child.call('start', { connectionString: DATABASE_URL, schema, queue, connections, ...layout });
    const arrived = await context.receiver.call('waitFor', { count: jobs.length, timeoutMs: SETTINGS.phaseTimeoutMs }, SETTINGS.phaseTimeoutMs + 5000);
    const ms = arrived.lastAt - started.startedAt;
    const cpu = await child.call('cpu');
    return {
      name: `pg-boss@10 drain, ${layout.workers} worker${layout.workers > 1 ? 's' : ''} x batch ${layout.batchSize}`,
      value: Math.round((arrived.count * 1000) / ms),
      unit: 'deliveries/s',
      note: `${arrived.count} jobs in ${Math.round(ms)} ms, up to ${connections} requests in flight, polling every 0.5 s (its minimum); worker CPU ${((cpu.cpuMicros - started.cpuAtStart) / 1e6).toFixed(1)} s, ${cpu.failures} failed requests`,
    };
  } finally {
    await child?.stop();
    await boss.stop({ graceful: false, wait: true, timeout: 5000 });
    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
  }
}

async function latency(context: BenchContext, schema: string, api: PgService): Promise<BenchRow[]> {
  const worker = await startService(schema, 'worker');
  try {
    await context.receiver.call('reset', {});
    const target = await createRepoWithWebhooks(api.url as string, api.adminToken as string, context.receiverPort, 1);
    await context.receiver.call('waitFor', { count: 1, timeoutMs: 30_000 });
    const result = await measureLatency(context, api.url as string, `/v1/repos/${target.repoId}/events`, api.adminToken);
    const note = `${result.count} events at ${Math.round(result.sentPerSecond)}/s for ${SETTINGS.latencyDurationMs / 1000} s, one API and one worker process, HTTP ingestion to receiver arrival; ${result.rejected} not accepted`;
    return [
      { name: 'PostgreSQL end-to-end latency p50', value: Math.round(result.p50 * 10) / 10, unit: 'ms', note },
      { name: 'PostgreSQL end-to-end latency p99', value: Math.round(result.p99 * 10) / 10, unit: 'ms', note },
    ];
  } finally {
    await worker.child.stop();
  }
}

/** Runs every PostgreSQL measurement once and returns one row per figure. */
export async function runPostgresBench(): Promise<BenchRow[]> {
  const schema = `bench_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const receiver = await BenchChild.start('receiver.ts', 'pg-receiver');
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  let api: PgService | null = null;
  const rows: BenchRow[] = [];
  try {
    const { port } = await receiver.call('listen');
    const context: BenchContext = { settings: SETTINGS, receiver, receiverPort: port };
    api = await startService(schema, 'api');
    const target = await createRepoWithWebhooks(api.url as string, api.adminToken as string, port, SETTINGS.fanOut);
    const events = Math.ceil(SETTINGS.deliveries / SETTINGS.fanOut);
    for (const workers of [1, 2]) {
      const backlog = await seedBacklog(db, schema, api, target.repoId, events);
      rows.push(await drain(context, db, schema, workers, backlog));
      log(JSON.stringify(rows[rows.length - 1]));
    }
    rows.push(...(await latency(context, schema, api)));
    log(JSON.stringify(rows.slice(-2)));

    const jobs = await deliveryJobs(db, schema);
    const boss: BenchRow[] = [];
    for (const layout of PGBOSS_LAYOUTS) {
      boss.push(await drainPgBoss(context, jobs, layout));
      log(JSON.stringify(boss[boss.length - 1]));
    }
    rows.push(...boss);
    const bestDits = Math.max(...rows.filter((r) => r.name.startsWith('PostgreSQL drain')).map((r) => r.value));
    const sameConcurrency = Math.max(...boss.filter((_, i) => PGBOSS_LAYOUTS[i].workers * PGBOSS_LAYOUTS[i].batchSize <= 100).map((r) => r.value));
    const anyConcurrency = Math.max(...boss.map((r) => r.value));
    rows.push(
      {
        name: 'PostgreSQL drain / best pg-boss drain, same requests in flight',
        value: Math.round((bestDits / sameConcurrency) * 100) / 100,
        unit: 'ratio',
        note: `best Dits ${bestDits} deliveries/s against ${sameConcurrency} jobs/s, both with at most 100 requests in flight, same run`,
      },
      {
        name: 'PostgreSQL drain / best pg-boss drain, any layout',
        value: Math.round((bestDits / anyConcurrency) * 100) / 100,
        unit: 'ratio',
        note: `best Dits ${bestDits} deliveries/s against ${anyConcurrency} jobs/s, the best pg-boss layout tried (up to 400 requests in flight), same run`,
      },
    );
    return rows;
  } finally {
    await api?.child.stop();
    await receiver.stop();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runPostgresBench().then(
    (rows) => process.stdout.write(JSON.stringify(rows, null, 2) + '\n'),
    (err: unknown) => {
      process.stderr.write(`[bench:postgres] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
