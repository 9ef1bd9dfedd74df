/**
 * The Dits Webhooks measurements on SQLite: drain of a stored backlog, end to
 * end with HTTP ingestion, and latency at a steady event rate. The service
 * always runs in its own child process; the receiver in another.
 */
import { join } from 'node:path';
import { BenchChild } from './children.js';
import {
  eventCount,
  pollUntil,
  receiverCpu,
  summarizeLatencies,
  type BenchContext,
  type BenchSettings,
  type Latency,
  type StoreStats,
  type Throughput,
} from './context.js';
import { postAtRate, postClosedLoop, type LoadResult } from './load.js';
import { cpuMicros } from './rpc.js';
import { createRepoWithWebhooks, pushEventBody } from './setup.js';

export interface StartedService {
  child: BenchChild;
  url: string;
  adminToken: string;
  /** Monotonic time just before the service process called startService. */
  startedAt: number;
  cpuAtStart: number;
  /** Monotonic time when startService returned: store open, port bound, worker started. */
  readyAt: number;
  cpuAtReady: number;
}

function serviceOverrides(settings: BenchSettings, dataDir: string, role: 'all' | 'api' | 'worker'): Record<string, unknown> {
  return {
    port: 0,
    host: '127.0.0.1',
    dataDir,
    role,
    allowPrivateTargets: true,
    logLevel: 'info',
    sqliteSynchronous: settings.synchronous,
    maxInFlightPerWebhook: settings.maxInFlightPerWebhook,
    // The default of 6,000 requests per minute per token would cap ingestion at 100 events/s.
    rateLimitPerMinute: 10_000_000,
    // Development aid: BENCH_SERVICE_CONFIG='{"leaseMs":60000}' tries other settings.
    ...(process.env.BENCH_SERVICE_CONFIG ? (JSON.parse(process.env.BENCH_SERVICE_CONFIG) as Record<string, unknown>) : {}),
  };
}

export async function startDits(settings: BenchSettings, dataDir: string, role: 'all' | 'api' | 'worker'): Promise<StartedService> {
  const child = await BenchChild.start('service-process.ts', `service-${role}`);
  try {
    const started = await child.call('start', { overrides: serviceOverrides(settings, dataDir, role) });
    return { child, ...started };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** Fails when any ingestion request was not accepted, so that no figure rests on a partial load. */
export function assertAllAccepted(load: LoadResult, expected: number, phase: string): void {
  const accepted = load.statuses[202] ?? 0;
  if (accepted !== expected) throw new Error(`${phase}: ${accepted} of ${expected} events accepted; statuses ${JSON.stringify(load.statuses)}`);
}

/** Creates the repository and webhooks, then waits until their pings have arrived, so they stay out of the measured phase. */
async function setUpTarget(context: BenchContext, service: StartedService, fanOut: number): Promise<{ repoId: number }> {
  await context.receiver.call('reset', {});
  const target = await createRepoWithWebhooks(service.url, service.adminToken, context.receiverPort, fanOut);
  await context.receiver.call('waitFor', { count: fanOut, timeoutMs: 30_000 });
  return target;
}

export interface SeededBacklog {
  dbFile: string;
  /** Deliveries waiting in the file: the events' deliveries plus one ping per webhook. */
  deliveries: number;
  /** Events the API-only service accepted per second while seeding. */
  ingestPerSecond: number;
}

/** Stores the backlog with an API-only service (no worker), then stops it. */
export async function seedBacklog(context: BenchContext, dataDir: string): Promise<SeededBacklog> {
  const { settings } = context;
  const service = await startDits(settings, dataDir, 'api');
  try {
    const target = await createRepoWithWebhooks(service.url, service.adminToken, context.receiverPort, settings.fanOut);
    const events = eventCount(settings);
    const load = await postClosedLoop(
      { origin: service.url, path: `/v1/repos/${target.repoId}/events`, token: service.adminToken },
      { count: events, concurrency: settings.loadConcurrency, timeoutMs: settings.phaseTimeoutMs, body: (i) => pushEventBody(i) },
    );
    assertAllAccepted(load, events, 'seeding the backlog');
    const counts: Record<string, number> = await service.child.call('statusCounts');
    const pending = counts.pending ?? 0;
    if (Object.keys(counts).some((status) => status !== 'pending')) throw new Error(`seeded backlog is not all pending: ${JSON.stringify(counts)}`);
    return { dbFile: join(dataDir, 'dits-webhooks.db'), deliveries: pending, ingestPerSecond: (events * 1000) / (load.lastAt - load.firstAt) };
  } finally {
    await service.child.stop();
  }
}

/** Starts a worker-only service on the seeded file and times it until every delivery has arrived and is recorded. */
export async function drainDits(context: BenchContext, dataDir: string, backlog: SeededBacklog): Promise<Throughput> {
  await context.receiver.call('reset', {});
  const receiverBefore = await receiverCpu(context);
  const service = await startDits(context.settings, dataDir, 'worker');
  try {
    const arrived = await context.receiver.call('waitFor', { count: backlog.deliveries, timeoutMs: context.settings.phaseTimeoutMs }, context.settings.phaseTimeoutMs + 5000);
    await pollUntil(
      async () => ((await service.child.call('statusCounts')) as Record<string, number>).delivered === backlog.deliveries,
      30_000,
      'every delivery to be recorded as delivered',
    );
    const cpu = await service.child.call('cpu');
    const store: StoreStats = await service.child.call('storeStats');
    const receiverCpuMicros = (await receiverCpu(context)) - receiverBefore;
    // Timed from the worker's start, as the BullMQ Worker is timed from its creation: opening the database and binding the port are not draining.
    const ms = arrived.lastAt - service.readyAt;
    return { count: arrived.count, ms, perSecond: (arrived.count * 1000) / ms, cpuMicros: cpu.cpuMicros - service.cpuAtReady, receiverCpuMicros, store, startupMs: service.readyAt - service.startedAt };
  } finally {
    await service.child.stop();
  }
}

/** Posts every event through the API of an API-plus-worker service and times first POST to last arrival. */
export async function endToEndDits(context: BenchContext, dataDir: string): Promise<Throughput> {
  const { settings } = context;
  const service = await startDits(settings, dataDir, 'all');
  try {
    const { repoId } = await setUpTarget(context, service, settings.fanOut);
    await context.receiver.call('reset', {});
    const cpuBefore = (await service.child.call('cpu')).cpuMicros;
    const receiverBefore = await receiverCpu(context);
    const loadBefore = cpuMicros();
    await service.child.call('storeStats');
    const events = eventCount(settings);
    const load = await postClosedLoop(
      { origin: service.url, path: `/v1/repos/${repoId}/events`, token: service.adminToken },
      { count: events, concurrency: settings.loadConcurrency, timeoutMs: settings.phaseTimeoutMs, body: (i) => pushEventBody(i) },
    );
    assertAllAccepted(load, events, 'end-to-end run');
    const expected = events * settings.fanOut;
    const arrived = await context.receiver.call('waitFor', { count: expected, timeoutMs: settings.phaseTimeoutMs }, settings.phaseTimeoutMs + 5000);
    const loadCpuMicros = cpuMicros() - loadBefore;
    const cpu = await service.child.call('cpu');
    const receiverCpuMicros = (await receiverCpu(context)) - receiverBefore;
    const store: StoreStats = await service.child.call('storeStats');
    const ms = arrived.lastAt - load.firstAt;
    return {
      count: arrived.count,
      ms,
      perSecond: (arrived.count * 1000) / ms,
      ingestPerSecond: (events * 1000) / (load.lastAt - load.firstAt),
      cpuMicros: cpu.cpuMicros - cpuBefore,
      receiverCpuMicros,
      loadCpuMicros,
      store,
    };
  } finally {
    await service.child.stop();
  }
}

/**
 * Warm-up before a latency run, in ms. After a 1 s warm-up, the first second
 * of the measured run still had Dits latencies of 50 to 140 ms on a 2-core
 * machine, which alone decided the p99. The cause was not found; after a 3 s
 * warm-up that pile-up was gone.
 */
const LATENCY_WARM_UP_MS = 3000;

/**
 * Sends events at a steady rate to an ingestion endpoint with one webhook,
 * after a warm-up, and returns the receiver's arrival-minus-send times.
 */
export async function measureLatency(
  context: BenchContext,
  origin: string,
  path: string,
  token: string | null,
  afterWarmUp: () => Promise<unknown> = async () => {},
): Promise<Latency> {
  const { settings } = context;
  const target = { origin, path, token };
  const run = async (durationMs: number) => {
    await context.receiver.call('reset', { latency: true });
    const load = await postAtRate(target, {
      ratePerSecond: settings.latencyRate,
      durationMs,
      maxInFlight: 2000,
      body: (sentAt) => pushEventBody(0, sentAt),
    });
    const accepted = load.statuses[202] ?? 0;
    const arrived = await context.receiver.call('waitFor', { count: accepted, timeoutMs: 60_000, withLatencies: true }, 65_000);
    return { load, accepted, arrived };
  };
  await run(LATENCY_WARM_UP_MS);
  await afterWarmUp();
  const { load, accepted, arrived } = await run(settings.latencyDurationMs);
  return {
    ...summarizeLatencies(arrived.latencies),
    sentPerSecond: (load.sent * 1000) / (load.lastAt - load.firstAt),
    maxLagMs: load.maxLagMs,
    rejected: load.sent - accepted + (arrived.unmatched ?? 0),
    phaseMs: arrived.lastAt - load.firstAt,
  };
}

export async function latencyDits(context: BenchContext, dataDir: string): Promise<Latency> {
  const service = await startDits(context.settings, dataDir, 'all');
  try {
    const { repoId } = await setUpTarget(context, service, 1);
    const latency = await measureLatency(context, service.url, `/v1/repos/${repoId}/events`, service.adminToken, () => service.child.call('storeStats'));
    return { ...latency, store: await service.child.call('storeStats') };
  } finally {
    await service.child.stop();
  }
}
