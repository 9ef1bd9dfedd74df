/**
 * The pg-boss@10 yardstick, run as its own process: workers of one queue
 * whose handler POSTs each job's delivery body, signed like a Dits delivery,
 * with undici to the benchmark receiver. One job is one delivery.
 */
import PgBoss from 'pg-boss';
import { Agent } from 'undici';
import { buildRequestHeaders } from '../src/delivery/request-headers.js';
import { prepareSigningKey, type SigningKey } from '../src/signing/sign.js';
import type { ClaimedDelivery } from '../src/store/types.js';
import { cpuMicros, monotonicMs, serveRpc } from './rpc.js';

/** Job data stored by the parent: one delivery and where it goes. */
export interface DeliveryJob {
  id: string;
  webhookId: number;
  url: string;
  secret: string;
  /** Delivery body, base64. */
  body: string;
}

let boss: PgBoss | null = null;
let failures = 0;
const keys = new Map<string, SigningKey>();

async function send(agent: Agent, job: DeliveryJob): Promise<void> {
  let key = keys.get(job.secret);
  if (!key) {
    key = prepareSigningKey(job.secret);
    keys.set(job.secret, key);
  }
  const body = Buffer.from(job.body, 'base64');
  const claimed = { id: job.id, webhookId: job.webhookId, event: 'push', body } as ClaimedDelivery;
  const headers = buildRequestHeaders(claimed, [key], Math.floor(Date.now() / 1000));
  const response = await agent.request({ origin: new URL(job.url).origin, path: new URL(job.url).pathname, method: 'POST', headers, body });
  await response.body.dump();
  if (response.statusCode < 200 || response.statusCode > 299) {
    failures++;
    throw new Error(`receiver returned status ${response.statusCode}, expected 2xx`);
  }
}

serveRpc({
  /** Starts `workers` pg-boss workers with `batchSize` jobs per fetch; returns when they are polling. */
  async start(params: { connectionString: string; schema: string; queue: string; workers: number; batchSize: number; connections: number }) {
    const startedAt = monotonicMs();
    const cpuAtStart = cpuMicros();
    boss = new PgBoss({ connectionString: params.connectionString, schema: params.schema, supervise: false, schedule: false, max: 10 });
    boss.on('error', (err: Error) => process.stderr.write(`pg-boss error: ${err.message}\n`));
    await boss.start();
    const agent = new Agent({ connections: params.connections, pipelining: 1 });
    for (let i = 0; i < params.workers; i++) {
      await boss.work<DeliveryJob>(params.queue, { batchSize: params.batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        await Promise.all(jobs.map((job) => send(agent, job.data)));
      });
    }
    return { startedAt, cpuAtStart };
  },
  cpu() {
    return { cpuMicros: cpuMicros(), failures };
  },
  async close() {
    if (boss) await boss.stop({ graceful: false, wait: true, timeout: 5000 });
    boss = null;
    setImmediate(() => process.exit(0));
  },
});
