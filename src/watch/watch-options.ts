/**
 * Options of `startWatcher` and `dits-webhook watch`, their defaults, and
 * their validation. Every problem is reported with the option name, what was
 * expected, what arrived and how to fix it.
 */
import { userInfo } from 'node:os';
import { basename, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { FieldError } from '../errors.js';
import type { BackoffPolicy } from './backoff.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import type { ReadRetry } from './working-copy-reader.js';
import { DEFAULT_READ_RETRY } from './working-copy-reader.js';

export interface WatchOptions {
  /** Working copies to watch: folders that contain a `.dits` folder. */
  dirs: string[];
  /** Base URL of the Dits Webhooks server, such as `http://127.0.0.1:8080`. */
  serverUrl: string;
  /** API token with the `events:write` scope; `write` too when `create` is set. */
  token: string;
  /** Server repository id that receives the events; allowed with exactly one working copy. */
  repo?: number;
  /** Owner on the server; each working copy maps to the repository `owner/<folder name>`. */
  owner?: string;
  /** With `owner`: create the repository on the server when it does not exist. */
  create?: boolean;
  /** With `create`: make created repositories private. */
  createPrivate?: boolean;
  /** Folder for snapshots and outboxes; default `<working copy>/.dits`. */
  stateDir?: string;
  /** Interval of the full rescan that backs up file watching, in milliseconds; default 500. */
  pollIntervalMs?: number;
  /** Wait after a file change before scanning, so one Dits command gives one scan, in milliseconds; default 20. */
  debounceMs?: number;
  /** Use `fs.watch` as well as polling; default true. */
  useFsWatch?: boolean;
  /** Login reported as sender and pusher of ref events; default the committer name of the new head, else the OS user name. */
  sender?: string;
  logger: Logger;
  /** Clock for lock expiry, in milliseconds since the epoch; default `Date.now`. */
  now?: () => number;
  /** Retry policy of the event sender; defaults: 1 s doubling up to 60 s, 20 % jitter. */
  backoff?: Partial<BackoffPolicy>;
  /** Time allowed for the server's response headers, and again for its body, in milliseconds; default 10000. */
  requestTimeoutMs?: number;
  /** Commits listed in one push payload; default 2048, the newest ones are kept. */
  maxCommitsListed?: number;
  /** Commit objects read by one history walk, which bounds `total_commits_count`; default 100000. */
  maxCommitsRead?: number;
  /** Re-reads of half-written ref and lock files within one scan. */
  readRetry?: Partial<ReadRetry>;
  /**
   * Size of the waiting events in one outbox at which scanning pauses until
   * the server has taken enough of them, in bytes; default 64 MiB.
   */
  outboxPauseBytes?: number;
}

/** Options with every default applied. */
export interface ResolvedWatchOptions {
  dirs: string[];
  serverUrl: string;
  token: string;
  repo: number | null;
  owner: string | null;
  create: boolean;
  createPrivate: boolean;
  stateDir: string | null;
  pollIntervalMs: number;
  debounceMs: number;
  useFsWatch: boolean;
  sender: string | null;
  logger: Logger;
  now: () => number;
  backoff: BackoffPolicy;
  requestTimeoutMs: number;
  maxCommitsListed: number;
  maxCommitsRead: number;
  readRetry: ReadRetry;
  outboxPauseBytes: number;
}

/** Raised by `startWatcher` for invalid options; `details` lists every problem. */
export class WatchOptionsError extends Error {
  constructor(readonly details: FieldError[]) {
    super(`Invalid watch options. ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`);
    this.name = 'WatchOptionsError';
  }
}

function checkInteger(errors: FieldError[], field: string, value: number | undefined, min: number, max: number, unit: string): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    errors.push({ field, message: `expected an integer from ${min} to ${max} ${unit}, got ${JSON.stringify(value)}` });
  }
}

function checkServerUrl(errors: FieldError[], serverUrl: string): void {
  let url: URL | null = null;
  try {
    url = new URL(serverUrl);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    errors.push({ field: 'serverUrl', message: `expected an absolute http or https URL such as http://127.0.0.1:8080, got ${JSON.stringify(serverUrl)}` });
  }
}

/** The service's rule for owner logins and repository names (`slug` in src/api/schemas.ts). */
const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const SERVER_NAME_RULE = "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit";

function checkMapping(errors: FieldError[], options: WatchOptions): void {
  const hasRepo = options.repo !== undefined;
  const hasOwner = options.owner !== undefined;
  if (hasRepo === hasOwner) {
    errors.push({ field: 'repo', message: 'expected exactly one of repo (a repository id) or owner (repositories named after each folder), got ' + (hasRepo ? 'both' : 'neither') });
  }
  if (hasRepo && (!Number.isSafeInteger(options.repo) || options.repo! < 1)) {
    errors.push({ field: 'repo', message: `expected a positive integer repository id, got ${JSON.stringify(options.repo)}` });
  }
  if (hasRepo && options.dirs.length > 1) {
    errors.push({ field: 'repo', message: `one repository id cannot serve ${options.dirs.length} working copies; use owner to map each folder to its own repository, or start one watcher per folder` });
  }
  if (hasOwner && (typeof options.owner !== 'string' || !SERVER_NAME.test(options.owner))) {
    errors.push({ field: 'owner', message: `expected an owner name of ${SERVER_NAME_RULE}, got ${JSON.stringify(options.owner)}` });
  }
  if (options.create && !hasOwner) errors.push({ field: 'create', message: 'create needs owner: only repositories named after their folder can be created' });
  if (options.createPrivate && !options.create) errors.push({ field: 'createPrivate', message: 'private applies only to repositories that --create makes; add --create or drop --private' });
}

/**
 * Reports a folder given twice, and, with owner, a folder whose name is not a
 * valid repository name or two folders whose names map to the same repository.
 */
function checkDirs(errors: FieldError[], options: WatchOptions): void {
  const seenPaths = new Map<string, number>();
  const seenNames = new Map<string, number>();
  for (const [index, dir] of options.dirs.entries()) {
    const absolute = resolve(dir);
    const name = basename(absolute);
    if (options.owner !== undefined && !SERVER_NAME.test(name)) {
      errors.push({
        field: `dirs[${index}]`,
        message:
          `expected a folder name that is a valid repository name (${SERVER_NAME_RULE}), because the repository ${options.owner}/<folder name> is named after it, ` +
          `got ${JSON.stringify(name)} from ${JSON.stringify(dir)}; rename the folder, or watch it alone with --repo and the id of an existing repository`,
      });
    }
    if (seenPaths.has(absolute)) {
      errors.push({ field: `dirs[${index}]`, message: `expected each working copy once, got ${JSON.stringify(dir)} again (also dirs[${seenPaths.get(absolute)}]); remove the repeat` });
    } else if (options.owner !== undefined && seenNames.has(name)) {
      errors.push({
        field: `dirs[${index}]`,
        message: `expected folder names that differ, got ${JSON.stringify(name)} twice (also dirs[${seenNames.get(name)}]), which would send both to ${options.owner}/${name}; run one watcher per folder with --repo`,
      });
    }
    seenPaths.set(absolute, index);
    seenNames.set(name, index);
  }
}

/** Lists every problem of `options`; an empty list means they are valid. */
export function validateWatchOptions(options: WatchOptions): FieldError[] {
  const errors: FieldError[] = [];
  if (!Array.isArray(options.dirs) || options.dirs.length === 0) {
    errors.push({ field: 'dirs', message: 'expected at least one working copy folder, got none; pass the folders that contain .dits' });
  }
  checkServerUrl(errors, options.serverUrl);
  if (typeof options.token !== 'string' || options.token === '') {
    errors.push({ field: 'token', message: 'expected an API token with the events:write scope, got an empty value; set --token or DITS_WEBHOOKS_TOKEN' });
  }
  checkMapping(errors, options);
  if (Array.isArray(options.dirs)) checkDirs(errors, options);
  if (options.sender !== undefined && options.sender.trim() === '') errors.push({ field: 'sender', message: 'expected a non-empty login, got an empty string' });
  checkInteger(errors, 'pollIntervalMs', options.pollIntervalMs, 10, 3_600_000, 'milliseconds');
  checkInteger(errors, 'debounceMs', options.debounceMs, 0, 60_000, 'milliseconds');
  checkInteger(errors, 'requestTimeoutMs', options.requestTimeoutMs, 100, 600_000, 'milliseconds');
  checkInteger(errors, 'maxCommitsListed', options.maxCommitsListed, 1, 100_000, 'commits');
  checkInteger(errors, 'maxCommitsRead', options.maxCommitsRead, 1, 10_000_000, 'commits');
  checkInteger(errors, 'backoff.initialMs', options.backoff?.initialMs, 1, 3_600_000, 'milliseconds');
  checkInteger(errors, 'backoff.maxMs', options.backoff?.maxMs, 1, 86_400_000, 'milliseconds');
  checkInteger(errors, 'readRetry.attempts', options.readRetry?.attempts, 1, 20, 'reads');
  checkInteger(errors, 'outboxPauseBytes', options.outboxPauseBytes, 1, 2 ** 30, 'bytes');
  return errors;
}

/** Returns the name of the OS user running the watcher, or `unknown` when the system has none for this uid. */
export function osLogin(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return process.env.USER || 'unknown';
  }
}

/**
 * Default outbox size at which scanning pauses. Each waiting event is held in
 * memory too, and the file is read whole at start.
 */
export const DEFAULT_OUTBOX_PAUSE_BYTES = 64 * 1024 * 1024;

/** Validates the options and applies the defaults; throws WatchOptionsError listing every problem. */
export function resolveWatchOptions(options: WatchOptions): ResolvedWatchOptions {
  const errors = validateWatchOptions(options);
  if (errors.length > 0) throw new WatchOptionsError(errors);
  return {
    dirs: options.dirs,
    serverUrl: options.serverUrl,
    token: options.token,
    repo: options.repo ?? null,
    owner: options.owner ?? null,
    create: options.create ?? false,
    createPrivate: options.createPrivate ?? false,
    stateDir: options.stateDir ?? null,
    pollIntervalMs: options.pollIntervalMs ?? 500,
    debounceMs: options.debounceMs ?? 20,
    useFsWatch: options.useFsWatch ?? true,
    sender: options.sender ?? null,
    logger: options.logger,
    now: options.now ?? Date.now,
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    maxCommitsListed: options.maxCommitsListed ?? 2048,
    maxCommitsRead: options.maxCommitsRead ?? 100_000,
    readRetry: { ...DEFAULT_READ_RETRY, ...options.readRetry },
    outboxPauseBytes: options.outboxPauseBytes ?? DEFAULT_OUTBOX_PAUSE_BYTES,
  };
}
