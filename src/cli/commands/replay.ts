/** `replay`: resend a webhook's failed (or all) deliveries since a time, with a progress bar. */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { print, printJson } from '../output.js';
import { webhookPath, type ScopeFlags } from '../references.js';
import { runAction } from '../run-action.js';
import { addSettingsOptions, connect } from '../settings.js';

interface Replay {
  id: number;
  webhook_id: number;
  since: string;
  until: string | null;
  status_filter: 'failed' | 'all';
  total: number;
  completed: number;
  cancelled: number;
  skipped: number;
  state: 'running' | 'completed';
}

interface ReplayFlags extends ScopeFlags {
  since?: string;
  until?: string;
  all?: boolean;
  detach?: boolean;
  timeout?: string;
}

/** Time between progress polls, in ms. */
const POLL_MS = 500;
const BAR_WIDTH = 30;

/** Renders `[#####-----]  12/40  30 %` for a replay. */
export function progressBar(completed: number, total: number, width = BAR_WIDTH): string {
  const share = total === 0 ? 1 : Math.min(1, completed / total);
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${completed}/${total} ${Math.floor(share * 100)} %`;
}

/** Accepts an RFC 3339 time, or a duration back from now such as 30m, 6h or 2d; `flag` names the option in errors. */
export function parseSince(value: string, now = Date.now(), flag = '--since'): string {
  const relative = /^(\d{1,6})([smhd])$/.exec(value.trim());
  if (relative) {
    const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    const time = new Date(now - Number(relative[1]) * unitMs).toISOString();
    // toISOString writes years before 0 with a sign and six digits, which RFC 3339 has no form for.
    if (!isRfc3339Time(time)) {
      throw new UsageError(`${flag} ${value} reaches back before the year 0; give a shorter duration or an RFC 3339 time`);
    }
    return time;
  }
  if (isRfc3339Time(value)) {
    if (flag === '--since' && Date.parse(value) > now) {
      throw new UsageError(`--since ${value} is in the future, where no delivery was made yet; give a past time`);
    }
    return value;
  }
  const leap = /T\d{2}:\d{2}:60/.test(value) ? '; leap seconds (:60) are not supported, so use :59' : '';
  throw new UsageError(`${flag} must be an RFC 3339 time such as 2026-01-02T03:04:05Z or a duration such as 90s, 30m, 6h or 2d, got ${JSON.stringify(value)}${leap}`);
}

/** Days of each month, February of a common year included. */
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Returns the days of February in `year` of the Gregorian calendar, year 0 included. */
function februaryDays(year: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return leap ? 29 : 28;
}

const RFC3339_PARTS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/i;

/**
 * Tells whether `value` is an RFC 3339 time of a real calendar day, as the
 * server requires. Date.parse alone takes 2026-02-30 and moves it to March.
 */
function isRfc3339Time(value: string): boolean {
  const parts = RFC3339_PARTS.exec(value);
  if (!parts) return false;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(Number);
  const daysInMonth = month === 2 ? februaryDays(year) : MONTH_DAYS[month - 1];
  const offsetValid = parts[9] === undefined || (Number(parts[9]) <= 23 && Number(parts[10]) <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && offsetValid;
}

async function replay(hookId: string, flags: ReplayFlags, command: Command): Promise<void> {
  if (flags.since === undefined) throw new UsageError('--since is required: give an RFC 3339 time or a duration such as 6h');
  const since = parseSince(flags.since);
  const until = flags.until === undefined ? undefined : parseSince(flags.until, Date.now(), '--until');
  if (until !== undefined && Date.parse(until) <= Date.parse(since)) {
    throw new UsageError(
      `--until (${until}) must be at least 1 ms later than --since (${since}), as times count to the millisecond; a duration counts back from now, so --since 10m --until 5m is the window from 10 to 5 minutes ago`,
    );
  }
  const timeoutSeconds = flags.timeout === undefined ? 3600 : Number(flags.timeout);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new UsageError(`--timeout must be a whole number of seconds, at least 1, got ${JSON.stringify(flags.timeout)}`);

  const { settings, client } = connect(command);
  const base = `${await webhookPath(client, flags, hookId)}/replays`;
  let job = await client.post<Replay>(base, { since, ...(until ? { until } : {}), status: flags.all ? 'all' : 'failed' });
  if (settings.json && flags.detach) return printJson(job);
  const noun = `${flags.all ? '' : 'failed '}${job.total === 1 ? 'delivery' : 'deliveries'}`;
  const skipped = job.skipped > 0 ? ` ${job.skipped} more left out: in flight or already queued for a manual attempt, so their own attempt is on the way.` : '';
  if (!settings.json) print(`Replay ${job.id}: ${job.total} ${noun} since ${job.since}${job.until ? ` until ${job.until}` : ''} queued.${skipped}`);
  if (flags.detach) return;

  const scope = flags.repo !== undefined ? ` --repo ${flags.repo}` : ` --owner ${flags.owner}`;
  const listCommand = `dits-webhook deliveries ${hookId}${scope}`;
  const deadline = Date.now() + timeoutSeconds * 1000;
  const interactive = process.stdout.isTTY === true && !settings.json;
  while (job.state !== 'completed' && Date.now() < deadline) {
    if (interactive) process.stdout.write(`\r${progressBar(job.completed + job.cancelled, job.total)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await client.get<Replay>(`${base}/${job.id}`);
  }
  if (settings.json) return printJson(job);
  if (interactive) process.stdout.write('\r');
  print(progressBar(job.completed + job.cancelled, job.total));
  if (job.state !== 'completed') {
    print(`Still running after ${timeoutSeconds} s; follow it with GET ${base}/${job.id} or run ${listCommand}.`);
    process.exitCode = 1;
    return;
  }
  const cancelled = job.cancelled > 0 ? `; ${job.cancelled} cancelled before their attempt, because the webhook was deactivated or deleted` : '';
  print(`Replay ${job.id} finished: ${job.completed} ${job.completed === 1 ? 'delivery' : 'deliveries'} attempted again${cancelled}. See the results with ${listCommand}.`);
  if (job.cancelled > 0) process.exitCode = 1;
}

export function registerReplayCommands(program: Command): void {
  addSettingsOptions(
    program
      .command('replay')
      .description("Resend a webhook's failed deliveries (or all with --all) created since a time, showing progress")
      .argument('<hook>', 'webhook id')
      .option('--repo <repo>', 'repository id or owner/name of the webhook')
      .option('--owner <login>', 'owner login of an owner-level webhook')
      .option('--since <time>', 'RFC 3339 time or a duration back from now (90s, 30m, 6h, 2d); required')
      .option('--until <time>', 'RFC 3339 time or a duration back from now; default now')
      .option('--all', 'replay every delivery in the range, not only failed and cancelled ones')
      .option('--detach', 'queue the replay and exit without waiting')
      .option('--timeout <seconds>', 'stop waiting after this many seconds (default 3600)'),
  ).action(runAction(replay));
}
