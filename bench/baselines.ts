/**
 * The yardsticks: the raw HTTP limit (undici Pool, precomputed signed bodies,
 * no store) and the BullMQ + Redis baseline, each in its own child process.
 */
import { BenchChild } from './children.js';
import { eventCount, pollUntil, receiverCpu, totalConcurrency, type BenchContext, type Latency, type Throughput } from './context.js';
import { assertAllAccepted, measureLatency, type SeededBacklog } from './dits-scenarios.js';
import { postClosedLoop } from './load.js';
import { pushEventBody, type BenchWebhook } from './setup.js';

/** Sends the seeded deliveries straight to the receiver at the worker's total concurrency. */
export async function rawLimit(context: BenchContext, backlog: SeededBacklog): Promise<Throughput> {
  const child = await BenchChild.start('raw-client.ts', 'raw-client');
  try {
    const { count } = await child.call('prepare', { dbFile: backlog.dbFile });
    await context.receiver.call('reset', {});
    const receiverBefore = await receiverCpu(context);
    const run = await child.call('run', { concurrency: totalConcurrency(context.settings), timeoutMs: context.settings.phaseTimeoutMs }, context.settings.phaseTimeoutMs + 5000);
    if (run.failures > 0) throw new Error(`raw client: ${run.failures} of ${count} requests failed`);
    const arrived = await context.receiver.call('waitFor', { count, timeoutMs: 10_000 });
    const receiverCpuMicros = (await receiverCpu(context)) - receiverBefore;
    const ms = arrived.lastAt - run.startedAt;
    return { count: arrived.count, ms, perSecond: (arrived.count * 1000) / ms, cpuMicros: run.cpuMicros, receiverCpuMicros };
  } finally {
    await child.stop();
  }
}

async function completedJobs(child: BenchChild): Promise<number> {
  const counts: Record<string, number> = await child.call('counts');
  return counts.completed ?? 0;
}

/** Enqueues the seeded deliveries as BullMQ jobs, then times a Worker until all have arrived and completed. */
export async function drainBullmq(context: BenchContext, backlog: SeededBacklog): Promise<Throughput> {
  const { settings } = context;
  const child = await BenchChild.start('bullmq-process.ts', 'bullmq-drain');
  try {
    const { count } = await child.call('enqueueStored', { dbFile: backlog.dbFile }, settings.phaseTimeoutMs);
    await context.receiver.call('reset', {});
    const redisBefore = (await child.call('redisCpu')).cpuMicros;
    const receiverBefore = await receiverCpu(context);
    const worker = await child.call('startWorker', { concurrency: totalConcurrency(settings) });
    const arrived = await context.receiver.call('waitFor', { count, timeoutMs: settings.phaseTimeoutMs }, settings.phaseTimeoutMs + 5000);
    await pollUntil(async () => (await completedJobs(child)) === count, 30_000, 'every BullMQ job to complete');
    const cpu = await child.call('cpu');
    const redisAfter = (await child.call('redisCpu')).cpuMicros;
    const receiverCpuMicros = (await receiverCpu(context)) - receiverBefore;
    const ms = arrived.lastAt - worker.startedAt;
    return {
      count: arrived.count,
      ms,
      perSecond: (arrived.count * 1000) / ms,
      cpuMicros: cpu.cpuMicros - worker.cpuAtStart,
      redisCpuMicros: redisAfter - redisBefore,
      receiverCpuMicros,
      redisPersistence: await child.call('redisPersistence'),
    };
  } finally {
    await child.stop();
  }
}

/** The repository object the baseline puts in each payload, shaped like the Dits one. */
const BASELINE_REPOSITORY = {
  id: 1,
  name: 'project',
  full_name: 'bench/project',
  private: false,
  owner: { login: 'bench' },
  description: null,
  default_branch: 'main',
  archived: false,
  created_at: '2026-01-02T03:04:05.000Z',
  updated_at: '2026-01-02T03:04:05.000Z',
};

function baselineWebhooks(context: BenchContext, count: number): BenchWebhook[] {
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    url: `http://127.0.0.1:${context.receiverPort}/hook/${i}`,
    secret: `bench-secret-0123456789abcdef-${i}`,
  }));
}

async function startBaselineService(context: BenchContext, webhooks: number, name: string): Promise<{ child: BenchChild; url: string }> {
  const child = await BenchChild.start('bullmq-process.ts', name);
  try {
    const { url } = await child.call('serve', {
      webhooks: baselineWebhooks(context, webhooks),
      repository: BASELINE_REPOSITORY,
      concurrency: totalConcurrency(context.settings),
    });
    return { child, url };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** Drives the baseline's ingestion endpoint with the same load generator and times first POST to last arrival. */
export async function endToEndBullmq(context: BenchContext): Promise<Throughput> {
  const { settings } = context;
  const { child, url } = await startBaselineService(context, settings.fanOut, 'bullmq-e2e');
  try {
    await context.receiver.call('reset', {});
    const cpuBefore = (await child.call('cpu')).cpuMicros;
    const redisBefore = (await child.call('redisCpu')).cpuMicros;
    const events = eventCount(settings);
    const load = await postClosedLoop(
      { origin: url, path: '/v1/repos/1/events', token: null },
      { count: events, concurrency: settings.loadConcurrency, timeoutMs: settings.phaseTimeoutMs, body: (i) => pushEventBody(i) },
    );
    assertAllAccepted(load, events, 'BullMQ end-to-end run');
    const expected = events * settings.fanOut;
    const arrived = await context.receiver.call('waitFor', { count: expected, timeoutMs: settings.phaseTimeoutMs }, settings.phaseTimeoutMs + 5000);
    const cpu = await child.call('cpu');
    const redisAfter = (await child.call('redisCpu')).cpuMicros;
    const ms = arrived.lastAt - load.firstAt;
    return {
      count: arrived.count,
      ms,
      perSecond: (arrived.count * 1000) / ms,
      ingestPerSecond: (events * 1000) / (load.lastAt - load.firstAt),
      cpuMicros: cpu.cpuMicros - cpuBefore,
      redisCpuMicros: redisAfter - redisBefore,
    };
  } finally {
    await child.stop();
  }
}

export async function latencyBullmq(context: BenchContext): Promise<Latency> {
  const { child, url } = await startBaselineService(context, 1, 'bullmq-latency');
  try {
    return await measureLatency(context, url, '/v1/repos/1/events', null);
  } finally {
    await child.stop();
  }
}
