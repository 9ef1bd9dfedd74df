import { readFileSync } from 'node:fs';
import type { FieldError } from './errors.js';
import { BODY_READ_TIMEOUT_MS } from './delivery/sender.js';
import { parseCidr } from './delivery/ip-ranges.js';
import { parseEncryptionKey } from './signing/secret-box.js';
import { inexactJsonNumber, repeatedJsonKey, withoutByteOrderMark } from './api/json-body.js';

/** Integer and decimal number text, with optional surrounding spaces. */
const INTEGER = /^\s*-?\d+\s*$/;
const DECIMAL = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** Time a lease must outlast the longest attempt, for recording the attempt, in ms. */
const LEASE_MARGIN_MS = 2000;

/**
 * Service configuration. Values come from flags, then `DITS_WEBHOOKS_*`
 * environment variables, then an optional JSON config file, then the defaults
 * below. `loadConfig` validates the merged result once and freezes it.
 */
export interface Config {
  /** Interface the HTTP server binds to. */
  host: string;
  /** TCP port of the HTTP server; 0 picks a free port. */
  port: number;
  /** Parts this process runs: the API, the delivery worker, or both. */
  role: 'all' | 'api' | 'worker';
  /** Folder of the SQLite database file, used when `databaseUrl` is empty. */
  dataDir: string;
  /** PostgreSQL connection string; empty means SQLite under `dataDir`. */
  databaseUrl: string;
  /** PostgreSQL schema that contains the tables, created at start when missing: lower-case letters, digits and '_'. */
  databaseSchema: string;
  /** SQLite `synchronous` pragma for stored events: `full` survives power loss, `normal` survives process crashes only. */
  sqliteSynchronous: 'full' | 'normal';
  /** pino log level. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

  /** Maximum webhooks per repository or per owner. */
  maxWebhooksPerTarget: number;
  /** Maximum size of an ingested event body, in bytes. */
  maxEventBodyBytes: number;
  /** Maximum size of any other request body, in bytes. */
  maxRequestBodyBytes: number;
  /** Maximum commits kept in one push payload; `total_commits_count` keeps the real number. */
  maxCommitsPerPush: number;

  /** Time allowed for connecting and receiving the response status line and headers, in milliseconds. */
  deliveryTimeoutMs: number;
  /** Maximum response body bytes stored per attempt; the rest is cut and flagged. */
  responseBodyLimitBytes: number;
  /** Delays between attempts, in seconds; its length plus one is the number of attempts. */
  retrySchedule: number[];
  /** Relative jitter applied to each retry delay, 0.2 meaning plus or minus 20 %. */
  retryJitter: number;
  /** Upper bound for a delay requested by Retry-After, in seconds. */
  maxRetryAfterSeconds: number;
  /** Maximum requests in flight to one webhook, across all workers. */
  maxInFlightPerWebhook: number;
  /** Maximum requests in flight from one worker process. */
  maxInFlight: number;
  /** Time a worker owns a claimed delivery before another worker may take it, in milliseconds; more than deliveryTimeoutMs + 4000. */
  leaseMs: number;
  /** Maximum time a worker sleeps before it looks for due retries again, in milliseconds. */
  pollIntervalMs: number;
  /** Time the previous secret keeps signing after a rotation, in seconds. */
  secretRotationOverlapSeconds: number;
  /** Days without a successful delivery, while deliveries keep failing, after which a webhook is deactivated. */
  disableAfterFailingDays: number;

  /** Unsafe outside trusted networks: lets webhooks target loopback, private and link-local addresses. */
  allowPrivateTargets: boolean;
  /** CIDRs that webhooks may target even though their address class is blocked. */
  allowCidrs: string[];
  /** 32-byte key (64 hex characters or base64) that encrypts webhook secrets at rest with AES-256-GCM. */
  encryptionKey: string;
  /** Requests per minute allowed for one API token. */
  rateLimitPerMinute: number;
  /** Grace period for in-flight deliveries on SIGTERM, in milliseconds. */
  shutdownGraceMs: number;
  /** Interval of the comment lines that keep an idle event stream open through proxies, in milliseconds. */
  eventStreamHeartbeatMs: number;
  /** Maximum number of event streams one token may keep open on one API process. */
  eventStreamsPerToken: number;
  /** Free bytes the disk of the SQLite data folder needs for /readyz to report ready; 0 turns the check off. */
  minFreeDiskBytes: number;
}

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  role: 'all',
  dataDir: './data',
  databaseUrl: '',
  databaseSchema: 'public',
  sqliteSynchronous: 'full',
  logLevel: 'info',
  maxWebhooksPerTarget: 20,
  maxEventBodyBytes: 10 * 1024 * 1024,
  maxRequestBodyBytes: 1024 * 1024,
  maxCommitsPerPush: 2048,
  deliveryTimeoutMs: 10_000,
  responseBodyLimitBytes: 64 * 1024,
  retrySchedule: [60, 300, 1800, 7200, 21600, 43200, 86400],
  retryJitter: 0.2,
  maxRetryAfterSeconds: 86400,
  maxInFlightPerWebhook: 10,
  maxInFlight: 256,
  leaseMs: 60_000,
  pollIntervalMs: 1000,
  secretRotationOverlapSeconds: 86400,
  disableAfterFailingDays: 5,
  allowPrivateTargets: false,
  allowCidrs: [],
  encryptionKey: '',
  rateLimitPerMinute: 6000,
  shutdownGraceMs: 15_000,
  eventStreamHeartbeatMs: 15_000,
  eventStreamsPerToken: 20,
  minFreeDiskBytes: 16 * 1024 * 1024,
}) as Readonly<Config>;

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'numberList';

interface KeySpec {
  kind: Kind;
  /** For strings: whether the empty string is rejected. */
  nonEmpty?: boolean;
  min?: number;
  max?: number;
  choices?: readonly string[];
}

const SPEC: Record<keyof Config, KeySpec> = {
  host: { kind: 'string' },
  port: { kind: 'integer', min: 0, max: 65535 },
  role: { kind: 'string', choices: ['all', 'api', 'worker'] },
  dataDir: { kind: 'string', nonEmpty: true },
  databaseUrl: { kind: 'string' },
  databaseSchema: { kind: 'string' },
  sqliteSynchronous: { kind: 'string', choices: ['full', 'normal'] },
  logLevel: { kind: 'string', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  maxWebhooksPerTarget: { kind: 'integer', min: 1, max: 10_000 },
  maxEventBodyBytes: { kind: 'integer', min: 1024, max: 100 * 1024 * 1024 },
  maxRequestBodyBytes: { kind: 'integer', min: 1024, max: 100 * 1024 * 1024 },
  maxCommitsPerPush: { kind: 'integer', min: 1, max: 100_000 },
  deliveryTimeoutMs: { kind: 'integer', min: 100, max: 120_000 },
  responseBodyLimitBytes: { kind: 'integer', min: 0, max: 10 * 1024 * 1024 },
  retrySchedule: { kind: 'numberList', min: 0, max: 7 * 86400 },
  retryJitter: { kind: 'number', min: 0, max: 0.9 },
  maxRetryAfterSeconds: { kind: 'integer', min: 0, max: 7 * 86400 },
  maxInFlightPerWebhook: { kind: 'integer', min: 1, max: 10_000 },
  maxInFlight: { kind: 'integer', min: 1, max: 100_000 },
  leaseMs: { kind: 'integer', min: 1000, max: 3_600_000 },
  pollIntervalMs: { kind: 'integer', min: 10, max: 60_000 },
  secretRotationOverlapSeconds: { kind: 'integer', min: 0, max: 30 * 86400 },
  disableAfterFailingDays: { kind: 'number', min: 0, max: 365 },
  allowPrivateTargets: { kind: 'boolean' },
  allowCidrs: { kind: 'list' },
  encryptionKey: { kind: 'string' },
  rateLimitPerMinute: { kind: 'integer', min: 1, max: 10_000_000 },
  shutdownGraceMs: { kind: 'integer', min: 0, max: 600_000 },
  eventStreamHeartbeatMs: { kind: 'integer', min: 10, max: 300_000 },
  eventStreamsPerToken: { kind: 'integer', min: 1, max: 10_000 },
  minFreeDiskBytes: { kind: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
};

/** Maps `maxInFlight` to `DITS_WEBHOOKS_MAX_IN_FLIGHT`. */
export function envName(key: string): string {
  return 'DITS_WEBHOOKS_' + key.replace(/([A-Z])/g, '_$1').toUpperCase();
}

/** Variables with the settings' prefix that other commands read: the CLI's server and token, the config file, key rotation. */
const OTHER_ENV_NAMES = ['DITS_WEBHOOKS_URL', 'DITS_WEBHOOKS_TOKEN', 'DITS_WEBHOOKS_CONFIG', 'DITS_WEBHOOKS_OLD_ENCRYPTION_KEY'];

/** Returns the number of single-character edits that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Lists the `DITS_WEBHOOKS_*` variables of `env` that no setting or command
 * reads, each with the known name closest to it, so that a misspelt
 * variable is reported rather than silently ignored.
 */
export function unknownEnvVariables(env: NodeJS.ProcessEnv): { name: string; closest: string }[] {
  const known = [...Object.keys(SPEC).map(envName), ...OTHER_ENV_NAMES];
  return Object.keys(env)
    .filter((name) => name.startsWith('DITS_WEBHOOKS_') && !known.includes(name))
    .sort()
    .map((name) => {
      const distances = known.map((candidate) => editDistance(name, candidate));
      return { name, closest: known[distances.indexOf(Math.min(...distances))] };
    });
}

/** Converts one raw value (a string from the environment, or a JSON value) to the key's type. */
function coerce(key: string, spec: KeySpec, raw: unknown): { value?: unknown; error?: string } {
  const fromText = typeof raw === 'string';
  switch (spec.kind) {
    case 'string':
      if (typeof raw !== 'string') return { error: `expected a string, got ${JSON.stringify(raw)}` };
      // An empty folder path would put the database in the current folder without a word.
      if (spec.nonEmpty && raw.trim() === '') return { error: 'expected a non-empty value, got ""' };
      return { value: raw };
    case 'boolean':
      if (typeof raw === 'boolean') return { value: raw };
      if (fromText && /^(true|1|yes)$/i.test(raw as string)) return { value: true };
      if (fromText && /^(false|0|no)$/i.test(raw as string)) return { value: false };
      return { error: `expected true, false, 1, 0, yes or no, got ${JSON.stringify(raw)}` };
    case 'integer':
    case 'number': {
      // Text must be plain decimal: Number() alone would also take hex, binary and, for integers, exponents.
      const pattern = spec.kind === 'integer' ? INTEGER : DECIMAL;
      if (fromText && !pattern.test(raw as string)) {
        return { error: `expected ${spec.kind === 'integer' ? 'an integer' : 'a number'} in decimal digits, got ${JSON.stringify(raw)}` };
      }
      const n = fromText ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n) || (spec.kind === 'integer' && !Number.isInteger(n))) {
        return { error: `expected ${spec.kind === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}` };
      }
      // Past 2^53 the number is rounded, so the message quotes the digits as given.
      if (fromText && spec.kind === 'integer' && !Number.isSafeInteger(n)) {
        const bound = n < 0 ? `at least ${spec.min ?? Number.MIN_SAFE_INTEGER}` : `at most ${spec.max ?? Number.MAX_SAFE_INTEGER}`;
        return { error: `must be ${bound}, got ${raw as string}` };
      }
      return { value: n };
    }
    case 'list':
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return { value: raw };
      if (fromText) return { value: (raw as string).split(',').map((s) => s.trim()).filter(Boolean) };
      return { error: `expected a list of strings, got ${JSON.stringify(raw)}` };
    case 'numberList': {
      const parts = fromText ? (raw as string).split(',') : [];
      if (fromText && !parts.every((part) => DECIMAL.test(part))) {
        return { error: `expected a comma-separated list of numbers in decimal digits for ${key}, got ${JSON.stringify(raw)}` };
      }
      const items = fromText ? parts.map(Number) : raw;
      // Text is checked against the range here, so that the message quotes each number as given, not rounded.
      for (const part of parts) {
        const n = Number(part);
        if (spec.max !== undefined && n > spec.max) return { error: `must be at most ${spec.max}, got ${part}` };
        if (spec.min !== undefined && n < spec.min) return { error: `must be at least ${spec.min}, got ${part}` };
      }
      if (Array.isArray(items) && items.length > 0 && items.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        return { value: items };
      }
      return { error: `expected a comma-separated list of numbers for ${key}, got ${JSON.stringify(raw)}` };
    }
  }
}

function checkRange(spec: KeySpec, value: unknown): string | null {
  const values = Array.isArray(value) ? value : [value];
  for (const v of values) {
    if (typeof v === 'number' && spec.min !== undefined && v < spec.min) return `must be at least ${spec.min}, got ${v}`;
    if (typeof v === 'number' && spec.max !== undefined && v > spec.max) return `must be at most ${spec.max}, got ${v}`;
    if (typeof v === 'string' && spec.choices && !spec.choices.includes(v)) {
      return `must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(v)}`;
    }
  }
  return null;
}

export class ConfigError extends Error {
  readonly errors: FieldError[];
  constructor(errors: FieldError[]) {
    super('Invalid configuration:\n' + errors.map((e) => `  ${e.field}: ${e.message}`).join('\n'));
    this.name = 'ConfigError';
    this.errors = errors;
  }
}

export interface ConfigSources {
  /** Values from command-line flags or from code; highest precedence. */
  overrides?: Partial<Record<keyof Config, unknown>>;
  /** Flag that set each override, such as `--port`, named in errors instead of the key. */
  overrideFlags?: Partial<Record<keyof Config, string>>;
  /** Environment to read `DITS_WEBHOOKS_*` variables from. */
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file whose keys are the Config field names. */
  configFile?: string;
}

function readConfigFile(path: string, errors: FieldError[]): Record<string, unknown> {
  try {
    const text = withoutByteOrderMark(readFileSync(path, 'utf8'));
    const parsed: unknown = JSON.parse(text);
    const repeated = repeatedJsonKey(text);
    if (repeated !== null) {
      errors.push({ field: 'configFile', message: `${path} sets key ${JSON.stringify(repeated)} twice in one object; keep one` });
      return {};
    }
    const inexact = inexactJsonNumber(text);
    if (inexact !== null) {
      errors.push({ field: 'configFile', message: `${path}: ${inexact}; no setting takes such a value, so fix the number` });
      return {};
    }
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    errors.push({ field: 'configFile', message: `${path} must contain a JSON object` });
  } catch (err) {
    errors.push({ field: 'configFile', message: `cannot read ${path}: ${(err as Error).message}` });
  }
  return {};
}

/** Merges flags, environment, config file and defaults, validates every key, and returns a frozen Config. */
export function loadConfig(sources: ConfigSources = {}): Readonly<Config> {
  const errors: FieldError[] = [];
  const env = sources.env ?? {};
  const configPath = sources.configFile ?? env.DITS_WEBHOOKS_CONFIG;
  const file = configPath ? readConfigFile(configPath, errors) : {};
  const known = new Set(Object.keys(SPEC));
  for (const key of Object.keys(file)) {
    if (!known.has(key)) errors.push({ field: key, message: `unknown key in ${configPath}; valid keys: ${[...known].join(', ')}` });
  }
  for (const key of Object.keys(sources.overrides ?? {})) {
    if (!known.has(key)) errors.push({ field: key, message: 'unknown configuration key' });
  }

  const result: Record<string, unknown> = { ...DEFAULT_CONFIG };
  /** Source of each value that was set: a flag, an environment variable or the config file. */
  const origins = new Map<keyof Config, string>();
  const failed = new Set<keyof Config>();
  for (const key of Object.keys(SPEC) as (keyof Config)[]) {
    const spec = SPEC[key];
    const layers: [string, unknown][] = [
      [sources.overrideFlags?.[key] ?? key, sources.overrides?.[key]],
      [envName(key), env[envName(key)]],
      [`${configPath}: ${key}`, file[key]],
    ];
    const found = layers.find(([, v]) => v !== undefined);
    if (!found) continue;
    const [origin, raw] = found;
    const { value, error } = coerce(key, spec, raw);
    const problem = error ?? checkRange(spec, value);
    if (problem) {
      errors.push({ field: origin, message: problem });
      failed.add(key);
    } else {
      result[key] = value;
      origins.set(key, origin);
    }
  }
  const originOf = (key: keyof Config) => origins.get(key) ?? 'the default';
  // DITS_WEBHOOKS_DATABASE_URL set to '' chooses SQLite, whatever DATABASE_URL another program left in the environment.
  if (env.DATABASE_URL && sources.overrides?.databaseUrl === undefined && env[envName('databaseUrl')] === undefined) {
    result.databaseUrl = env.DATABASE_URL;
    origins.set('databaseUrl', 'DATABASE_URL');
  }
  // A data folder given by a command-line flag next to a PostgreSQL URL from any source would be ignored without a
  // word. Callers that pass settings in code without naming flags, such as tests, may set both.
  if (sources.overrides?.dataDir !== undefined && sources.overrideFlags?.dataDir !== undefined && result.databaseUrl) {
    errors.push({
      field: originOf('dataDir'),
      message: `names a SQLite folder, but databaseUrl is set (from ${originOf('databaseUrl')}), so the service would use PostgreSQL and ignore the folder; drop one of the two`,
    });
  }

  const config = result as unknown as Config;
  // Shells expand a leading ~ to the home folder, config files and quoted values do not: the store would go to a folder named ~.
  if (!failed.has('dataDir') && /^~(\/|$)/.test(config.dataDir)) {
    errors.push({ field: originOf('dataDir'), message: `is ${JSON.stringify(config.dataDir)}, and ~ is not expanded here, so the store would go to a folder named ~; write the full path` });
  }
  // An attempt lasts at most the headers deadline plus the body read deadline, so the lease must outlive both, with room to record it.
  if (!failed.has('allowCidrs')) {
    for (const entry of config.allowCidrs) {
      const parsed = parseCidr(entry);
      if ('error' in parsed) {
        errors.push({ field: originOf('allowCidrs'), message: `entry ${JSON.stringify(entry)} is not a CIDR: ${parsed.error}` });
      }
    }
  }
  if (!failed.has('encryptionKey') && config.encryptionKey !== '') {
    try {
      parseEncryptionKey(config.encryptionKey);
    } catch (err) {
      errors.push({ field: originOf('encryptionKey'), message: (err as Error).message });
    }
  }
  const longestAttemptMs = config.deliveryTimeoutMs + BODY_READ_TIMEOUT_MS + LEASE_MARGIN_MS;
  if (!failed.has('leaseMs') && !failed.has('deliveryTimeoutMs') && config.leaseMs <= longestAttemptMs) {
    errors.push({
      field: origins.get('leaseMs') ?? origins.get('deliveryTimeoutMs') ?? 'leaseMs',
      message:
        `leaseMs ${config.leaseMs} (${originOf('leaseMs')}) must exceed deliveryTimeoutMs ${config.deliveryTimeoutMs} (${originOf('deliveryTimeoutMs')}) ` +
        `+ ${BODY_READ_TIMEOUT_MS + LEASE_MARGIN_MS} = ${longestAttemptMs}, so that a lease outlives a request and its response body; ` +
        `raise leaseMs (DITS_WEBHOOKS_LEASE_MS) above ${longestAttemptMs} or lower deliveryTimeoutMs`,
    });
  }
  // An empty host would make the server listen on every interface, the opposite of the loopback default.
  if (!failed.has('host') && config.host.trim() === '') {
    errors.push({ field: originOf('host'), message: 'must not be empty; leave it unset for 127.0.0.1, or set 0.0.0.0 to listen on every interface' });
  }
  if (config.databaseUrl && !/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    errors.push({ field: origins.get('databaseUrl') ?? 'DATABASE_URL', message: 'must start with postgres:// or postgresql://' });
  }
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(config.databaseSchema)) {
    errors.push({
      field: origins.get('databaseSchema') ?? 'databaseSchema',
      message: `must be 1 to 63 lower-case letters, digits or '_', starting with a letter or '_', got ${JSON.stringify(config.databaseSchema)}`,
    });
  }
  if (errors.length > 0) throw new ConfigError(errors);
  config.retrySchedule = Object.freeze([...config.retrySchedule]) as number[];
  config.allowCidrs = Object.freeze([...config.allowCidrs]) as string[];
  return Object.freeze(config);
}

/** Lists every key with its environment variable and default, for help text and docs. */
export function describeConfig(): { key: string; env: string; default: unknown }[] {
  return Object.keys(SPEC).map((key) => ({ key, env: envName(key), default: DEFAULT_CONFIG[key as keyof Config] }));
}
