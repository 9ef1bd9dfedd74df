/**
 * The benchmark suite: `npm run bench` runs every measurement twice and
 * writes docs/benchmarks.md. Flags for development:
 *   --quick            5,000 deliveries and a 3 s latency run instead of 50,000 and 10 s
 *   --only LIST        comma list of drain, e2e, latency (Dits with the default
 *                      synchronous=FULL), normal (the same three with
 *                      synchronous=NORMAL), raw, bullmq, postgres; sqlite stands
 *                      for drain, e2e, latency and normal
 *   --runs N           repetitions of the whole set (default 2)
 *   --out FILE         where to write the report. Partial runs (--quick, --only)
 *                      default to a file in the temporary folder, so they never
 *                      replace the published report.
 * Service settings: BENCH_SERVICE_CONFIG='{"sqliteSynchronous":"normal"}' (JSON
 * of configuration keys) overrides the settings of every Dits service started.
 * bench/store-micro.ts measures the SQLite store alone, without HTTP.
 * Profiling: BENCH_CPU_PROF=service-worker (comma list of child name prefixes,
 * e.g. service-all, service-api, bullmq) writes V8 CPU profiles of those
 * children to BENCH_CPU_PROF_DIR, by default dits-bench-profiles in the
 * temporary folder. BENCH_CPU_PROF_INTERVAL sets the sampling interval in
 * microseconds (V8's default is 1000).
 */
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, writeFileSync } from 'node:fs';
import { BenchChild } from './children.js';
import { withTempDir, type BenchContext, type BenchSettings } from './context.js';
import { drainDits, endToEndDits, latencyDits, seedBacklog } from './dits-scenarios.js';
import { drainBullmq, endToEndBullmq, latencyBullmq, rawLimit } from './baselines.js';
import { renderReport, type BenchRow, type PostgresOutcome, type RunResult } from './report.js';

const PARTS = ['drain', 'e2e', 'latency', 'normal', 'raw', 'bullmq', 'postgres'] as const;
type Part = (typeof PARTS)[number];
const ALIASES: Record<string, Part[]> = { sqlite: ['drain', 'e2e', 'latency', 'normal'] };

interface Options {
  quick: boolean;
  only: Set<Part>;
  runs: number;
  out: string | null;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { quick: false, only: new Set(PARTS), runs: 2, out: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    if (flag === '--quick') options.quick = true;
    else if (flag === '--only') {
      const parts = value().split(',').map((part) => part.trim());
      const unknown = parts.filter((part) => !(PARTS as readonly string[]).includes(part) && !ALIASES[part]);
      if (unknown.length > 0) throw new Error(`--only got ${unknown.join(', ')}; valid parts are sqlite, ${PARTS.join(', ')}`);
      options.only = new Set(parts.flatMap((part) => ALIASES[part] ?? [part as Part]));
    } else if (flag === '--runs') {
      options.runs = Number(value());
      if (!Number.isInteger(options.runs) || options.runs < 1 || options.runs > 10) throw new Error('--runs expects an integer from 1 to 10');
    } else if (flag === '--out') options.out = value();
    else throw new Error(`unknown flag ${flag}; valid flags: --quick, --only LIST, --runs N, --out FILE`);
  }
  return options;
}

function settingsFor(options: Options): BenchSettings {
  return {
    deliveries: options.quick ? 5_000 : 50_000,
    fanOut: 10,
    maxInFlightPerWebhook: 10,
    loadConcurrency: 32,
    latencyRate: 1000,
    latencyDurationMs: options.quick ? 3_000 : 10_000,
    synchronous: 'full',
    phaseTimeoutMs: 240_000,
  };
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/** Runs one measurement; a failure is recorded in the report instead of ending the whole suite. */
async function step<T>(result: RunResult, name: string, body: () => Promise<T>): Promise<T | undefined> {
  log(`${name}...`);
  try {
    const value = await body();
    log(`${name}: ${JSON.stringify(value, (key, v) => (key === 'latencies' ? undefined : typeof v === 'number' ? Math.round(v * 100) / 100 : v))}`);
    return value;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`${name} failed: ${message}`);
    result.errors.push(`${name}: ${message.split('\n')[0]}`);
    return undefined;
  }
}

async function runOnce(context: BenchContext, only: Set<Part>): Promise<RunResult> {
  const result: RunResult = { errors: [] };
  const normal: BenchContext = { ...context, settings: { ...context.settings, synchronous: 'normal' } };
  if (only.has('drain') || only.has('raw') || only.has('bullmq')) {
    await withTempDir(async (dir) => {
      const backlog = await step(result, 'seed backlog', () => seedBacklog(context, dir));
      if (!backlog) return;
      result.seedIngestPerSecond = backlog.ingestPerSecond;
      if (only.has('raw')) result.raw = await step(result, 'raw limit', () => rawLimit(context, backlog));
      if (only.has('bullmq')) result.bullmqDrain = await step(result, 'BullMQ drain', () => drainBullmq(context, backlog));
      if (only.has('drain')) result.drain = await step(result, 'Dits drain', () => drainDits(context, dir, backlog));
    });
  }
  if (only.has('normal')) {
    await withTempDir(async (dir) => {
      const backlog = await step(result, 'seed backlog, NORMAL', () => seedBacklog(normal, dir));
      result.normalSeedIngestPerSecond = backlog?.ingestPerSecond;
      if (backlog) result.normalDrain = await step(result, 'Dits drain, NORMAL', () => drainDits(normal, dir, backlog));
    });
  }
  if (only.has('e2e')) result.e2e = await step(result, 'Dits end to end', () => withTempDir((dir) => endToEndDits(context, dir)));
  if (only.has('normal')) result.normalE2e = await step(result, 'Dits end to end, NORMAL', () => withTempDir((dir) => endToEndDits(normal, dir)));
  if (only.has('bullmq')) result.bullmqE2e = await step(result, 'BullMQ end to end', () => endToEndBullmq(context));
  if (only.has('latency')) result.latency = await step(result, 'Dits latency', () => withTempDir((dir) => latencyDits(context, dir)));
  if (only.has('normal')) result.normalLatency = await step(result, 'Dits latency, NORMAL', () => withTempDir((dir) => latencyDits(normal, dir)));
  if (only.has('bullmq')) result.bullmqLatency = await step(result, 'BullMQ latency', () => latencyBullmq(context));
  return result;
}

/** Imports bench/postgres.ts when it exists and returns its rows, or the reason there are none. */
async function runPostgres(): Promise<PostgresOutcome> {
  if (!existsSync(new URL('./postgres.ts', import.meta.url))) return { kind: 'missing' };
  // A variable specifier keeps the type checker from requiring a file that may not exist yet.
  const specifier = './postgres.js';
  try {
    log('PostgreSQL...');
    const module: { runPostgresBench?: () => Promise<unknown> } = await import(specifier);
    if (typeof module.runPostgresBench !== 'function') return { kind: 'failed', message: 'bench/postgres.ts does not export runPostgresBench' };
    const rows = await module.runPostgresBench();
    if (!Array.isArray(rows)) return { kind: 'failed', message: 'runPostgresBench did not return an array of rows' };
    return { kind: 'rows', rows: rows as BenchRow[] };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`PostgreSQL failed: ${message}`);
    return { kind: 'failed', message: `bench/postgres.ts failed: ${message.split('\n')[0]}` };
  }
}

function reportPath(options: Options): string {
  if (options.out) return options.out;
  const partial = options.quick || options.only.size < PARTS.length;
  if (partial) return join(tmpdir(), `dits-benchmarks-${Date.now()}.md`);
  return fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
}

/** An invalid command-line flag; reported without a stack trace. */
class UsageError extends Error {}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const settings = settingsFor(options);
  const startedAt = new Date();
  const loadBefore = loadavg();
  const receiver = await BenchChild.start('receiver.ts', 'receiver');
  const runs: RunResult[] = [];
  let postgres: PostgresOutcome = { kind: 'skipped' };
  try {
    const { port } = await receiver.call('listen');
    const context: BenchContext = { settings, receiver, receiverPort: port };
    for (let i = 0; i < options.runs; i++) {
      log(`run ${i + 1} of ${options.runs}`);
      runs.push(await runOnce(context, options.only));
    }
    if (options.only.has('postgres')) postgres = await runPostgres();
  } finally {
    await receiver.stop();
  }
  const path = reportPath(options);
  const argv = process.argv.slice(2);
  const command = `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`;
  const report = renderReport({ settings, runs, postgres, startedAt, finishedAt: new Date(), command, parts: [...options.only], loadBefore, loadAfter: loadavg() });
  writeFileSync(path, report);
  log(`report written to ${path}`);
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`[bench] ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
