/** The parts of the benchmark report that describe the machine and the method rather than the figures. */
import os from 'node:os';
import { eventCount, totalConcurrency, type BenchSettings } from './context.js';
import type { PostgresOutcome, RunResult } from './report.js';
import { pushEventBody } from './setup.js';

export const NOT_MEASURED = 'not measured';

/** Formats a figure with thousands separators, or returns the not-measured marker. */
export function format(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return NOT_MEASURED;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export interface ReportInput {
  settings: BenchSettings;
  runs: RunResult[];
  postgres: PostgresOutcome;
  startedAt: Date;
  finishedAt: Date;
  command: string;
  parts: string[];
  loadBefore: number[];
  loadAfter: number[];
}

export function machineTable(input: ReportInput): string {
  const cpus = os.cpus();
  const rows: [string, string][] = [
    ['date', `${input.startedAt.toISOString()} (took ${format((input.finishedAt.getTime() - input.startedAt.getTime()) / 1000)} s)`],
    ['machine', `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${format(os.totalmem() / 2 ** 30, 1)} GiB memory, ${os.type()} ${os.release()}`],
    ['Node.js', process.version],
    ['command', `\`${input.command}\``],
    ['parts run', input.parts.join(', ')],
    ['load average (1 min) before / after', `${format(input.loadBefore[0], 2)} / ${format(input.loadAfter[0], 2)}`],
  ];
  return ['| | |', '|---|---|', ...rows.map(([key, value]) => `| ${key} | ${value} |`)].join('\n');
}

function redisPersistence(runs: RunResult[]): string {
  const found = runs.map((run) => run.bullmqDrain?.redisPersistence).find((value) => value !== undefined);
  return found ? `Redis persistence during the run (CONFIG GET): ${found}.` : 'Redis persistence was not read in this run.';
}

export function methodText(input: ReportInput): string {
  const s = input.settings;
  const events = eventCount(s);
  const ingestBytes = Buffer.byteLength(pushEventBody(0));
  return [
    'Every process runs on this one machine and talks over 127.0.0.1. The receiver is a bare `node:http` server in its own process that reads each body and responds with 200 at once. The load generator (undici) runs in the parent process. Each service runs in its own child process, so its CPU time (`process.cpuUsage`, user plus system) is measured apart. Times come from the monotonic clock (`process.hrtime`), which all processes on the machine share, so arrival times in the receiver and send times in other processes compare directly.',
    '',
    `- **Setup**: one repository with ${s.fanOut} webhooks, all pointing at the receiver and subscribed to \`push\`, so every event makes ${s.fanOut} deliveries. Each webhook may have ${s.maxInFlightPerWebhook} requests in flight (the default), so the worker can reach ${totalConcurrency(s)} in flight; the raw limit and the BullMQ worker get the same concurrency. Events are \`push\` events with one commit (${ingestBytes} bytes ingested); the delivery body adds the repository, delivery id and timestamp.`,
    '- **Durability**: SQLite in WAL mode. FULL (the default) syncs the WAL to disk after every commit that stores events and before their responses, so accepted events survive power loss. The sync is an fdatasync on a libuv thread, not on the event loop. NORMAL survives a crash of the process but may lose the last commits on power loss. ' +
      `${redisPersistence(input.runs)} With \`appendonly no\` and no \`save\` rule, Redis keeps the BullMQ jobs in memory only.`,
    '- **Logging and limits**: the service runs at its default log level, `info`, with output to /dev/null. It logs failed and retried attempts at `info` and successful ones at `debug`, so in these runs, where every attempt succeeds, it writes no line per delivery; the BullMQ baseline does the same. The API rate limit is raised to 10,000,000 requests per minute, since the default of 6,000 per token would cap ingestion at 100 events/s.',
    `- **Drain**: ${format(events)} events are ingested through the API of an API-only service (no worker), giving ${format(events * s.fanOut)} deliveries plus one ping per webhook, all pending. A worker-only service then starts on that file. The time and the CPU count from the moment its worker has started to the last delivery arriving at the receiver, as the BullMQ Worker is timed from its creation and the raw client from its first request. Opening the database and binding the health port come before that start and are shown in a row of their own. The run counts only once the database shows every delivery as delivered. The raw limit sends the same stored bodies, with signatures computed beforehand, from an undici Pool. BullMQ gets the same bodies as one job each, added before its Worker starts and not timed.`,
    `- **End to end**: a service running API and worker together. The load generator posts ${format(events)} events with ${s.loadConcurrency} requests in flight, and the time runs from the first POST to the last of the ${format(events * s.fanOut)} deliveries arriving. The BullMQ baseline is a fastify endpoint that adds one job per webhook with \`addBulk\`, plus a Worker in the same process. It checks no token, validates no schema and stores no event, so it does less work per event than Dits.`,
    `- **Latency**: one webhook. The load generator sends ${format(s.latencyRate)} events/s for ${format(s.latencyDurationMs / 1000)} s after a 3 s warm-up at the same rate. Each event carries its send time in an extra top-level field that the service passes through to the delivery body, and the receiver records arrival minus send time.`,
    '- **CPU per delivery**: CPU time of the process doing the work divided by deliveries, over the drain or end-to-end phase. Redis CPU comes from its `INFO` counters and includes any other client of that server.',
    '- **Noise**: the machine has 2 cores shared by the service, the receiver, the load generator and any other work; the load averages above show how busy it was. Each run repeats every measurement, and figures that differ much between runs reflect that noise.',
  ].join('\n');
}
