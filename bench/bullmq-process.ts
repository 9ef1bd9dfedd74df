/**
 * The BullMQ + Redis baseline, built the way TypeScript teams usually build
 * webhook delivery. Each delivery is one job. A Worker's handler signs the
 * body and POSTs it with undici, and a fastify ingestion endpoint adds one
 * job per subscribed webhook. It signs and logs like the Dits worker, but
 * it validates no schema, checks no token, keeps webhooks in memory and stores
 * no event record, so it does less work per event than Dits does.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import pino from 'pino';
import { Agent, request } from 'undici';
import { prepareSigningKey, signatureHeaders, type SigningKey } from '../src/signing/sign.js';
import { USER_AGENT } from '../src/version.js';
import { readStoredDeliveries } from './deliveries-file.js';
import { cpuMicros, monotonicMs, serveRpc } from './rpc.js';

const connection = { host: '127.0.0.1', port: 6379 };
const queueName = `dits-bench-${process.pid}-${Date.now()}`;
/** Retries like the Dits default: 8 attempts, starting one minute apart. */
const jobOptions: JobsOptions = { attempts: 8, backoff: { type: 'exponential', delay: 60_000 } };

interface DeliveryJob {
  deliveryId: string;
  webhookId: number;
  event: string;
  url: string;
  body: string;
}

interface BaselineWebhook {
  id: number;
  url: string;
  secret: string;
}

const logger = pino({ level: 'info', base: { service: 'bullmq-baseline' } }, pino.destination({ dest: 1, sync: false, minLength: 4096 }));
const agent = new Agent({ keepAliveTimeout: 30_000, pipelining: 1 });
const keys = new Map<number, SigningKey>();
const queue = new Queue<DeliveryJob>(queueName, { connection });
let worker: Worker<DeliveryJob> | null = null;
let app: FastifyInstance | null = null;

async function deliver(job: Job<DeliveryJob>): Promise<{ status: number }> {
  const data = job.data;
  const key = keys.get(data.webhookId);
  if (!key) throw new Error(`no secret for webhook ${data.webhookId}`);
  const body = Buffer.from(data.body, 'utf8');
  const startedAt = performance.now();
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-dits-event': data.event,
    'x-dits-delivery': data.deliveryId,
    'x-dits-hook-id': String(data.webhookId),
    ...signatureHeaders([key], data.deliveryId, Math.floor(Date.now() / 1000), body),
  };
  const response = await request(data.url, { method: 'POST', headers, body, dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 2000 });
  await response.body.dump();
  const durationMs = performance.now() - startedAt;
  // Successful attempts at debug level, as the Dits worker logs them.
  logger[response.statusCode >= 200 && response.statusCode < 300 ? 'debug' : 'info']({ delivery_id: data.deliveryId, webhook_id: data.webhookId, attempt: job.attemptsMade + 1, status_code: response.statusCode, duration_ms: durationMs }, 'delivery attempt');
  if (response.statusCode < 200 || response.statusCode > 299) throw new Error(`receiver returned ${response.statusCode}`);
  return { status: response.statusCode };
}

function startWorker(concurrency: number): { startedAt: number; cpuAtStart: number } {
  const startedAt = monotonicMs();
  const cpuAtStart = cpuMicros();
  worker = new Worker<DeliveryJob>(queueName, deliver, { connection, concurrency });
  worker.on('error', (err) => logger.error({ err }, 'worker error'));
  return { startedAt, cpuAtStart };
}

/** Adds one job per stored delivery, in chunks, before any worker runs. */
async function enqueueStored(dbFile: string): Promise<{ count: number; ms: number }> {
  const started = monotonicMs();
  const stored = readStoredDeliveries(dbFile);
  for (const delivery of stored) {
    if (!keys.has(delivery.webhookId)) keys.set(delivery.webhookId, prepareSigningKey(delivery.secret));
  }
  for (let i = 0; i < stored.length; i += 1000) {
    const chunk = stored.slice(i, i + 1000).map((d) => ({
      name: d.event,
      data: { deliveryId: d.id, webhookId: d.webhookId, event: d.event, url: d.url, body: d.body.toString('utf8') },
      opts: jobOptions,
    }));
    await queue.addBulk(chunk);
  }
  return { count: stored.length, ms: monotonicMs() - started };
}

/** Starts the ingestion endpoint and the worker in this process, as one "API plus worker" service. */
async function serve(params: { webhooks: BaselineWebhook[]; repository: Record<string, unknown>; concurrency: number }): Promise<{ url: string }> {
  for (const hook of params.webhooks) keys.set(hook.id, prepareSigningKey(hook.secret));
  const server = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
  server.post<{ Params: { repoId: string } }>('/v1/repos/:repoId/events', async (req, reply) => {
    const body = req.body as Record<string, unknown> | null;
    if (!body || typeof body !== 'object' || typeof body.event !== 'string') {
      return reply.status(400).send({ error: { code: 'invalid_request', message: 'Field event must be a string.' } });
    }
    const { event, sender, ...fields } = body;
    const timestamp = new Date().toISOString();
    const jobs = params.webhooks.map((hook) => {
      const deliveryId = randomUUID();
      const payload = JSON.stringify({ event, delivery_id: deliveryId, timestamp, repository: params.repository, sender, ...fields });
      return { name: event as string, data: { deliveryId, webhookId: hook.id, event: event as string, url: hook.url, body: payload }, opts: jobOptions };
    });
    await queue.addBulk(jobs);
    return reply.status(202).send({ id: randomUUID(), event, deliveries: jobs.length });
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  app = server;
  startWorker(params.concurrency);
  const address = server.server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

/** Reads the Redis server's own CPU time, in microseconds; it includes work for any other Redis client. */
async function redisCpuMicros(): Promise<number> {
  const client = await queue.client;
  const info = await client.info();
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/** Reports whether Redis keeps the jobs on disk: append-only file, its fsync policy, and snapshot rules. */
async function redisPersistence(): Promise<string> {
  const client = (await queue.client) as unknown as { config(...args: string[]): Promise<string[]> };
  const value = async (name: string) => (await client.config('GET', name))[1] ?? '';
  const save = await value('save');
  return `appendonly ${await value('appendonly')}, appendfsync ${await value('appendfsync')}, save "${save}"`;
}

serveRpc({
  enqueueStored: (params: { dbFile: string }) => enqueueStored(params.dbFile),
  startWorker: (params: { concurrency: number }) => startWorker(params.concurrency),
  serve,
  counts: () => queue.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed'),
  cpu: () => ({ cpuMicros: cpuMicros(), rssBytes: process.memoryUsage().rss }),
  redisCpu: async () => ({ cpuMicros: await redisCpuMicros() }),
  redisPersistence,
  async close() {
    if (app) await app.close();
    if (worker) await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await agent.close();
    logger.flush();
    setImmediate(() => process.exit(0));
  },
});
