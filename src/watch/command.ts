/**
 * The `dits-webhook watch <dir>...` command: flags and environment variables
 * to watcher options, then run until SIGTERM or SIGINT.
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { FieldError } from '../errors.js';
import { UsageError } from '../cli/errors.js';
import { settingsOf, type Settings } from '../cli/settings.js';
import { startWatcher, WatchOptionsError } from './watcher.js';
import { resolveWatchOptions } from './watch-options.js';
import type { WatchOptions } from './watcher.js';

export interface WatchFlags {
  url?: string;
  token?: string;
  repo?: string;
  owner?: string;
  create?: boolean;
  private?: boolean;
  stateDir?: string;
  pollInterval?: string;
  sender?: string;
  fsWatch?: boolean;
  logLevel?: string;
}

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Flag that sets each option, so that validation errors name what the user typed. */
const FLAG_OF_OPTION: Record<string, string> = {
  dirs: '<dir>',
  serverUrl: '--url (or DITS_WEBHOOKS_URL)',
  token: '--token (or DITS_WEBHOOKS_TOKEN)',
  repo: '--repo',
  owner: '--owner',
  create: '--create',
  createPrivate: '--private',
  pollIntervalMs: '--poll-interval',
  sender: '--sender',
};

/** Parses a decimal integer flag; other text is passed on unchanged so that validation reports it as received. */
function integerFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return /^-?\d+$/.test(value.trim()) ? Number(value) : (value as unknown as number);
}

/** Maps command-line flags and `DITS_WEBHOOKS_URL` / `DITS_WEBHOOKS_TOKEN` to watcher options; flags win. */
export function watchOptionsFromFlags(dirs: string[], flags: WatchFlags, env: NodeJS.ProcessEnv, logger: Logger): WatchOptions {
  return {
    dirs,
    serverUrl: flags.url ?? env.DITS_WEBHOOKS_URL ?? DEFAULT_SERVER_URL,
    token: flags.token ?? env.DITS_WEBHOOKS_TOKEN ?? '',
    repo: integerFlag(flags.repo),
    owner: flags.owner,
    create: flags.create ?? false,
    createPrivate: flags.private ?? false,
    stateDir: flags.stateDir,
    pollIntervalMs: integerFlag(flags.pollInterval),
    sender: flags.sender,
    useFsWatch: flags.fsWatch ?? true,
    logger,
  };
}

/** Formats validation problems with the flag names a user typed, one per line. A field such as `dirs[2]` is shown as `<dir>`. */
export function describeOptionErrors(details: FieldError[]): string {
  return details
    .map((detail) => {
      const label = FLAG_OF_OPTION[detail.field] ?? FLAG_OF_OPTION[detail.field.replace(/\[\d+\]$/, '')] ?? detail.field;
      return `${label}: ${detail.message}`;
    })
    .join('\n');
}

export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('Watch Dits working copies and send their ref and lock changes as events')
    .argument('<dir...>', 'working copy folders, each containing a .dits folder')
    .option('--url <url>', `server base URL (default DITS_WEBHOOKS_URL, else ${DEFAULT_SERVER_URL})`)
    .option('--token <token>', 'API token with the events:write scope, read too with --owner, write with --create (default DITS_WEBHOOKS_TOKEN, which keeps it out of the process list)')
    .option('--repo <id>', 'server repository id that receives the events (one folder only)')
    .option('--owner <owner>', 'map each folder to the server repository OWNER/<folder name>')
    .option('--create', 'with --owner: create missing repositories (the token then needs the write scope)')
    .option('--private', 'with --create: create the repositories as private')
    .option('--state-dir <dir>', 'folder for the snapshot and outbox files (default <dir>/.dits)')
    .option('--poll-interval <ms>', 'full rescan interval in milliseconds, the fallback for missed file events (default 500)')
    .option('--sender <login>', 'login reported as sender of ref events (default the committer name, else the OS user name)')
    .option('--no-fs-watch', 'rely on polling only, for file systems without change notifications')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')
    .action(async (dirs: string[], flags: WatchFlags, command: Command) => {
      const level = flags.logLevel ?? 'info';
      if (!LOG_LEVELS.includes(level)) {
        process.stderr.write(`Invalid watch options:\n--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}\n`);
        process.exit(2);
      }
      // The server URL and token come from the settings flags before or after `watch`, the environment or the config
      // file, as for every other command.
      let settings: Settings;
      try {
        settings = settingsOf(command);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        process.stderr.write(`Invalid watch options:\n${error.message}\n`);
        process.exit(2);
      }
      const logger = pino({ level });
      let watcher;
      try {
        const input = watchOptionsFromFlags(dirs, { ...flags, url: settings.url, token: settings.token ?? '' }, process.env, logger);
        // Checked before the server is named in the log, so that a missing token is the only output.
        resolveWatchOptions(input);
        logger.info({ url: settings.url }, 'sending events to this server');
        watcher = await startWatcher(input);
      } catch (error) {
        if (!(error instanceof WatchOptionsError)) throw error;
        process.stderr.write(`Invalid watch options:\n${describeOptionErrors(error.details)}\n`);
        process.exit(2);
      }
      const shutdown = (signal: string): void => {
        logger.info({ signal }, 'stopping the watcher; queued events stay in the outbox for the next start');
        void watcher.stop().then(
          () => process.exit(0),
          (stopError: unknown) => {
            logger.error({ err: stopError }, 'stopping the watcher failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
}
