/**
 * Renders docs/benchmarks.md from measured results. Every figure in the file
 * comes from this renderer; a measurement that did not run or failed shows as
 * "not measured", never as a number.
 */
import os from 'node:os';
import type { Latency, StoreStats, Throughput } from './context.js';
import { format, machineTable, methodText, NOT_MEASURED, type ReportInput } from './report-method.js';

export type { ReportInput } from './report-method.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export type PostgresOutcome =
  | { kind: 'rows'; rows: BenchRow[] }
  | { kind: 'missing' }
  | { kind: 'skipped' }
  | { kind: 'failed'; message: string };

/** One repetition of every measurement; the `normal` ones ran with synchronous=NORMAL, the others with the default FULL. */
export interface RunResult {
  drain?: Throughput;
  normalDrain?: Throughput;
  raw?: Throughput;
  bullmqDrain?: Throughput;
  e2e?: Throughput;
  normalE2e?: Throughput;
  bullmqE2e?: Throughput;
  latency?: Latency;
  normalLatency?: Latency;
  bullmqLatency?: Latency;
  /** Events per second an API-only service accepted while the drain backlog was stored. */
  seedIngestPerSecond?: number;
  normalSeedIngestPerSecond?: number;
  /** Measurements that failed, with the first line of their error. */
  errors: string[];
}

/** Targets the product is held to. */
const TARGETS = { drainShareOfRaw: 0.6, endToEndOverBullmq: 2, p99Ms: 10 };


type Cell = (run: RunResult) => string;
type Row = [label: string, cell: Cell, unit: string];

function table(runs: RunResult[], header: string, rows: Row[]): string {
  const runColumns = runs.map((_, i) => `run ${i + 1}`);
  const lines = [`| ${header} | ${runColumns.join(' | ')} | unit |`, `|---|${runColumns.map(() => '---:').join('|')}|---|`];
  for (const [label, cell, unit] of rows) lines.push(`| ${label} | ${runs.map(cell).join(' | ')} | ${unit} |`);
  return lines.join('\n');
}

function perDelivery(t: Throughput | undefined, micros: number | undefined): number | undefined {
  return t && micros !== undefined ? micros / t.count : undefined;
}

function verdict(value: number | undefined, pass: (v: number) => boolean, show: (v: number) => string): string {
  if (value === undefined || !Number.isFinite(value)) return NOT_MEASURED;
  return `${show(value)} **${pass(value) ? 'PASS' : 'FAIL'}**`;
}

function ratio(a: Throughput | undefined, b: Throughput | undefined): number | undefined {
  return a && b ? a.perSecond / b.perSecond : undefined;
}

function targetRows(suffix: string, pick: { drain: Cell1<Throughput>; e2e: Cell1<Throughput>; latency: Cell1<Latency> }): Row[] {
  return [
    [
      `Drain at least ${TARGETS.drainShareOfRaw * 100} % of the raw limit${suffix}`,
      (r) => verdict(ratio(pick.drain(r), r.raw), (v) => v >= TARGETS.drainShareOfRaw, (v) => `${format(v * 100)} %`),
      'share of raw limit',
    ],
    [
      `End to end at least ${TARGETS.endToEndOverBullmq} × BullMQ${suffix}`,
      (r) => verdict(ratio(pick.e2e(r), r.bullmqE2e), (v) => v >= TARGETS.endToEndOverBullmq, (v) => `${format(v, 2)} ×`),
      'times BullMQ',
    ],
    [
      `p99 at most ${TARGETS.p99Ms} ms at 1,000 events/s${suffix}`,
      (r) => verdict(pick.latency(r)?.p99, (v) => v <= TARGETS.p99Ms, (v) => `${format(v, 1)} ms`),
      'ms',
    ],
  ];
}

type Cell1<T> = (run: RunResult) => T | undefined;

function targetsTable(runs: RunResult[]): string {
  return table(runs, 'target', [
    ...targetRows(' (default, FULL)', { drain: (r) => r.drain, e2e: (r) => r.e2e, latency: (r) => r.latency }),
    ...targetRows(' (NORMAL)', { drain: (r) => r.normalDrain, e2e: (r) => r.normalE2e, latency: (r) => r.normalLatency }),
  ]);
}

function throughputRows(label: string, pick: Cell1<Throughput>): Row[] {
  return [
    [label, (r) => format(pick(r)?.perSecond), 'deliveries/s'],
    [`${label}: time`, (r) => format(pick(r) ? pick(r)!.ms / 1000 : undefined, 2), 's'],
  ];
}

function latencyRows(label: string, pick: Cell1<Latency>): Row[] {
  return [
    [`${label}: p50`, (r) => format(pick(r)?.p50, 2), 'ms'],
    [`${label}: p90`, (r) => format(pick(r)?.p90, 2), 'ms'],
    [`${label}: p99`, (r) => format(pick(r)?.p99, 2), 'ms'],
    [`${label}: max`, (r) => format(pick(r)?.max, 2), 'ms'],
    [`${label}: events timed`, (r) => format(pick(r)?.count), 'events'],
    [`${label}: rate sent`, (r) => format(pick(r)?.sentPerSecond), 'events/s'],
    [`${label}: not accepted or not timed`, (r) => format(pick(r)?.rejected), 'events'],
  ];
}

function cpuRows(): Row[] {
  const cpu = (label: string, pick: Cell1<Throughput>, field: CpuField): Row => [
    label,
    (r) => format(perDelivery(pick(r), pick(r)?.[field])),
    'µs/delivery',
  ];
  return [
    cpu('Dits worker process, drain, FULL', (r) => r.drain, 'cpuMicros'),
    cpu('Dits worker process, drain, NORMAL', (r) => r.normalDrain, 'cpuMicros'),
    cpu('Dits API + worker process, end to end, FULL', (r) => r.e2e, 'cpuMicros'),
    cpu('Dits API + worker process, end to end, NORMAL', (r) => r.normalE2e, 'cpuMicros'),
    cpu('Receiver process, Dits end to end, FULL', (r) => r.e2e, 'receiverCpuMicros'),
    cpu('Load generator (the bench process), Dits end to end, FULL', (r) => r.e2e, 'loadCpuMicros'),
    cpu('Raw limit client process', (r) => r.raw, 'cpuMicros'),
    cpu('Receiver process, during the raw limit', (r) => r.raw, 'receiverCpuMicros'),
    cpu('BullMQ worker process, drain', (r) => r.bullmqDrain, 'cpuMicros'),
    cpu('Redis server, BullMQ drain', (r) => r.bullmqDrain, 'redisCpuMicros'),
    cpu('BullMQ endpoint + worker process, end to end', (r) => r.bullmqE2e, 'cpuMicros'),
    cpu('Redis server, BullMQ end to end', (r) => r.bullmqE2e, 'redisCpuMicros'),
  ];
}

type CpuField = 'cpuMicros' | 'redisCpuMicros' | 'receiverCpuMicros' | 'loadCpuMicros';

/** Sums the CPU per delivery of the processes named, or undefined when one was not measured. */
function cpuPerDelivery(throughput: Throughput | undefined, fields: CpuField[]): number | undefined {
  if (!throughput) return undefined;
  let total = 0;
  for (const field of fields) {
    const value = perDelivery(throughput, throughput[field]);
    if (value === undefined) return undefined;
    total += value;
  }
  return total;
}

/**
 * Returns the maximum deliveries per second that the machine's cores allow at
 * the measured CPU per delivery, if every process could use any idle core:
 * cores times one second divided by the CPU one delivery costs all processes.
 */
function ceiling(cores: number, micros: number | undefined): number | undefined {
  return micros === undefined || micros <= 0 ? undefined : (cores * 1e6) / micros;
}

function ceilingRows(cores: number): Row[] {
  const drainCeiling = (r: RunResult) => ceiling(cores, cpuPerDelivery(r.drain, ['cpuMicros', 'receiverCpuMicros']));
  const e2eCeiling = (r: RunResult) => ceiling(cores, cpuPerDelivery(r.e2e, ['cpuMicros', 'receiverCpuMicros', 'loadCpuMicros']));
  return [
    ['Drain, FULL: Dits worker + receiver CPU', (r) => format(cpuPerDelivery(r.drain, ['cpuMicros', 'receiverCpuMicros'])), 'µs/delivery'],
    [`Drain, FULL: ceiling on ${cores} cores`, (r) => format(drainCeiling(r)), 'deliveries/s'],
    ['Drain, FULL: ceiling as a share of the raw limit', (r) => format(r.raw && drainCeiling(r) ? (drainCeiling(r)! / r.raw.perSecond) * 100 : undefined), '%'],
    ['End to end, FULL: Dits + receiver + load generator CPU', (r) => format(cpuPerDelivery(r.e2e, ['cpuMicros', 'receiverCpuMicros', 'loadCpuMicros'])), 'µs/delivery'],
    [`End to end, FULL: ceiling on ${cores} cores`, (r) => format(e2eCeiling(r)), 'deliveries/s'],
    ['End to end, FULL: ceiling over BullMQ', (r) => format(r.bullmqE2e && e2eCeiling(r) ? e2eCeiling(r)! / r.bullmqE2e.perSecond : undefined, 2), 'times BullMQ'],
  ];
}

/** Rows that show how the phase's store transactions went: how many, how full, how long. */
function storeRows(label: string, pick: (r: RunResult) => StoreStats | undefined, phaseMs: (r: RunResult) => number | undefined, ingests = true): Row[] {
  const per = (r: RunResult, key: keyof StoreStats, f: (s: StoreStats[keyof StoreStats]) => number) => {
    const stats = pick(r)?.[key];
    return stats && stats.calls > 0 ? f(stats) : undefined;
  };
  const inStore = (r: RunResult) => {
    const stats = pick(r);
    const ms = phaseMs(r);
    return stats && ms ? ((stats.claimDue.ms + stats.completeAttempts.ms + stats.ingest.ms) * 100) / ms : undefined;
  };
  const ingestRows: Row[] = [
    [`${label}: ingest transactions`, (r) => format(per(r, 'ingest', (s) => s.calls)), 'transactions'],
    [`${label}: events per ingest`, (r) => format(per(r, 'ingest', (s) => s.items / s.calls), 1), 'events'],
    [`${label}: attempts recorded per ingest`, (r) => format(per(r, 'ingestRecorded', (s) => s.items / s.calls), 1), 'attempts'],
    [`${label}: deliveries claimed per ingest`, (r) => format(per(r, 'ingestClaim', (s) => s.items / s.calls), 1), 'deliveries'],
    [`${label}: time per ingest`, (r) => format(per(r, 'ingest', (s) => s.ms / s.calls), 2), 'ms'],
  ];
  return [
    [`${label}: claim transactions`, (r) => format(per(r, 'claimDue', (s) => s.calls)), 'transactions'],
    [`${label}: claims that found nothing`, (r) => format(per(r, 'claimDue', (s) => s.empty)), 'transactions'],
    [`${label}: deliveries per claim`, (r) => format(per(r, 'claimDue', (s) => s.items / s.calls), 1), 'deliveries'],
    [`${label}: time per claim`, (r) => format(per(r, 'claimDue', (s) => s.ms / s.calls), 2), 'ms'],
    [`${label}: completes that also claimed`, (r) => format(per(r, 'flushClaim', (s) => s.calls)), 'transactions'],
    [`${label}: deliveries claimed per such complete`, (r) => format(per(r, 'flushClaim', (s) => s.items / s.calls), 1), 'deliveries'],
    [`${label}: deliveries per complete`, (r) => format(per(r, 'completeAttempts', (s) => s.items / s.calls), 1), 'deliveries'],
    [`${label}: time per complete`, (r) => format(per(r, 'completeAttempts', (s) => s.ms / s.calls), 2), 'ms'],
    ...(ingests ? ingestRows : []),
    [`${label}: event loop blocked in store calls`, (r) => format(inStore(r)), '% of the phase'],
  ];
}

function storeTable(runs: RunResult[]): string {
  return table(runs, 'measurement', [
    ...storeRows('Drain, FULL', (r) => r.drain?.store, (r) => r.drain?.ms, false),
    ...storeRows('Drain, NORMAL', (r) => r.normalDrain?.store, (r) => r.normalDrain?.ms, false),
    ...storeRows('End to end, FULL', (r) => r.e2e?.store, (r) => r.e2e?.ms),
    ...storeRows('End to end, NORMAL', (r) => r.normalE2e?.store, (r) => r.normalE2e?.ms),
    ...storeRows('Latency, FULL', (r) => r.latency?.store, (r) => r.latency?.phaseMs),
    ...storeRows('Latency, NORMAL', (r) => r.normalLatency?.store, (r) => r.normalLatency?.phaseMs),
  ]);
}

function postgresSection(outcome: PostgresOutcome): string {
  switch (outcome.kind) {
    case 'rows':
      if (outcome.rows.length === 0) return 'bench/postgres.ts ran but returned no rows.';
      return [
        '| measurement | value | unit | note |',
        '|---|---:|---|---|',
        ...outcome.rows.map((row) => `| ${row.name} | ${format(row.value, Number.isInteger(row.value) ? 0 : 2)} | ${row.unit} | ${row.note ?? ''} |`),
      ].join('\n');
    case 'missing':
      return 'Not measured: bench/postgres.ts does not exist, so this run has no PostgreSQL figures.';
    case 'skipped':
      return 'Not measured: the PostgreSQL part was left out of this run (`--only`).';
    case 'failed':
      return `Not measured: ${outcome.message}`;
  }
}

function errorsSection(runs: RunResult[]): string {
  const lines = runs.flatMap((run, i) => run.errors.map((error) => `- run ${i + 1}: ${error}`));
  return lines.length === 0 ? '' : ['## Failed measurements', '', ...lines, '', ''].join('\n');
}

export function renderReport(input: ReportInput): string {
  const { runs } = input;
  return [
    '# Benchmarks',
    '',
    'Generated by `bench/run.ts`. Do not edit the figures by hand: rerun `npm run bench` instead.',
    '',
    machineTable(input),
    '',
    '## Targets',
    '',
    'The service default is `sqliteSynchronous: full`, so the FULL rows are the ones the targets apply to; the NORMAL rows show what that durability setting costs.',
    '',
    targetsTable(runs),
    '',
    '## 1. Drain of a stored backlog',
    '',
    table(runs, 'measurement', [
      ...throughputRows('Dits worker, SQLite FULL', (r) => r.drain),
      ...throughputRows('Dits worker, SQLite NORMAL', (r) => r.normalDrain),
      ...throughputRows('Raw limit: undici Pool, no store', (r) => r.raw),
      ...throughputRows('BullMQ + Redis worker', (r) => r.bullmqDrain),
      ['Deliveries drained (Dits, FULL)', (r) => format(r.drain?.count), 'deliveries'],
      ['Dits worker service start-up before the drain, not timed (FULL)', (r) => format(r.drain?.startupMs, 0), 'ms'],
    ]),
    '',
    '## 2. End to end with HTTP ingestion',
    '',
    table(runs, 'measurement', [
      ...throughputRows('Dits API + worker, SQLite FULL', (r) => r.e2e),
      ['Dits, FULL: events accepted', (r) => format(r.e2e?.ingestPerSecond), 'events/s'],
      ...throughputRows('Dits API + worker, SQLite NORMAL', (r) => r.normalE2e),
      ['Dits, NORMAL: events accepted', (r) => format(r.normalE2e?.ingestPerSecond), 'events/s'],
      ...throughputRows('BullMQ + Redis, fastify endpoint + Worker', (r) => r.bullmqE2e),
      ['BullMQ: events accepted', (r) => format(r.bullmqE2e?.ingestPerSecond), 'events/s'],
      ['Dits API only (no worker), FULL: events accepted while seeding the drain', (r) => format(r.seedIngestPerSecond), 'events/s'],
      ['Dits API only (no worker), NORMAL: events accepted while seeding the drain', (r) => format(r.normalSeedIngestPerSecond), 'events/s'],
    ]),
    '',
    `## 3. Latency at ${format(input.settings.latencyRate)} events/s`,
    '',
    table(runs, 'measurement', [
      ...latencyRows('Dits, SQLite FULL', (r) => r.latency),
      ...latencyRows('Dits, SQLite NORMAL', (r) => r.normalLatency),
      ...latencyRows('BullMQ + Redis', (r) => r.bullmqLatency),
    ]),
    '',
    '## 4. CPU per delivery',
    '',
    table(runs, 'process', cpuRows()),
    '',
    '### What the cores allow',
    '',
    `The Dits worker is one event loop, so it uses at most one core for its main work, while the receiver and the load generator run in processes of their own on the same ${os.cpus().length} cores. The ceiling below is the rate that the measured CPU per delivery would allow if every process could use any idle core at every moment; a measured rate close to it means that CPU, not waiting, limits the run.`,
    '',
    table(runs, 'measurement', ceilingRows(os.cpus().length)),
    '',
    '## 5. Store transactions of the Dits service',
    '',
    'Counted by wrapping the SQLite store in the service process (bench/store-trace.ts). A claim leases due deliveries. A complete records attempts and usually claims again in the same transaction. An ingest stores events with their deliveries, and in the same transaction it also records the attempts that finished since the last one and claims for the worker. Each of these is one SQLite transaction that runs on the event loop. Times count the part of each call that blocks the event loop; the wait of an ingest for the WAL sync runs on a libuv thread and is not counted.',
    '',
    storeTable(runs),
    '',
    '## 6. PostgreSQL',
    '',
    postgresSection(input.postgres),
    '',
    errorsSection(runs) + '## Method',
    '',
    methodText(input),
    '',
  ].join('\n');
}
