/** `deliveries`, `delivery show`, `redeliver`: the delivery log of one webhook. */
import type { Command } from 'commander';
import { DELIVERY_STATUSES } from '../../delivery/states.js';
import { fetchAllPages, type Page } from '../client.js';
import { UsageError } from '../errors.js';
import { cell, formatFields, formatTable, formatTime, print, printJson, sanitize } from '../output.js';
import { webhookPath, type ScopeFlags } from '../references.js';
import { runAction } from '../run-action.js';
import { addSettingsOptions, connect } from '../settings.js';
import { scopeArguments } from './webhooks.js';

export interface DeliverySummary {
  id: string;
  event: string;
  /** Null for a ping, which belongs to no stored event. */
  event_id: string | null;
  webhook_id: number;
  status: string;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

interface Attempt {
  attempt: number;
  trigger: string;
  started_at: string;
  duration_ms: number | null;
  outcome: string;
  request_headers: Record<string, string> | null;
  status_code: number | null;
  response: { headers: Record<string, string>; body: string | null; body_encoding: 'utf8' | 'base64'; body_truncated: boolean } | null;
  error: { code: string; message: string | null } | null;
}

interface DeliveryDetail extends DeliverySummary {
  request: { headers: Record<string, string> | null; body: string };
  attempts: Attempt[];
}

interface ListFlags extends ScopeFlags {
  status?: string;
  event?: string;
  limit?: string;
  cursor?: string;
  all?: boolean;
}

/** Bounds `--all`: at most this many pages are read. */
const MAX_PAGES = 1000;

/** Checks the list flags before any request; returns the API query. */
export function deliveryQuery(flags: ListFlags): Record<string, string | number | undefined> {
  if (flags.status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(flags.status)) {
    throw new UsageError(`--status must be one of ${DELIVERY_STATUSES.join(', ')}, got ${JSON.stringify(flags.status)}`);
  }
  if (flags.limit !== undefined && !/^(?:[1-9]|[1-9][0-9]|100)$/.test(flags.limit)) {
    throw new UsageError(`--limit must be a page size from 1 to 100, got ${JSON.stringify(flags.limit)}`);
  }
  if (flags.event !== undefined && flags.event.trim() === '') throw new UsageError('--event must name an event, such as push or lock.acquired');
  return { status: flags.status, event: flags.event, limit: flags.limit, cursor: flags.cursor };
}

async function listDeliveries(hookId: string, flags: ListFlags, command: Command): Promise<void> {
  const query = deliveryQuery(flags);
  const { settings, client } = connect(command);
  const path = `${await webhookPath(client, flags, hookId)}/deliveries`;
  const page = flags.all ? await fetchAllPages<DeliverySummary>(client, path, query, MAX_PAGES) : await client.get<Page<DeliverySummary>>(path, query);
  if (settings.json) return printJson(page);
  if (page.data.length === 0) {
    print('No deliveries match.');
    return;
  }
  const rows = page.data.map((d) => [d.id, d.event, d.status, String(d.attempt_count), cell(d.last_status_code), formatTime(d.created_at), formatTime(d.next_attempt_at)]);
  print(formatTable(['id', 'event', 'status', 'attempts', 'code', 'created', 'next attempt'], rows));
  if (page.next_cursor) print(`More deliveries: run again with the same --status and --event and with --cursor ${page.next_cursor}, or with --all.`);
}

function formatHeaders(headers: Record<string, string> | null): string {
  if (!headers || Object.keys(headers).length === 0) return '  (none)\n';
  return Object.entries(headers).map(([name, value]) => `  ${sanitize(name)}: ${sanitize(String(value))}`).join('\n') + '\n';
}

/** Pretty-prints a JSON body for reading; the exact bytes are in the `--json` output. */
function formatBody(body: string | null): string {
  if (body === null || body === '') return '  (empty)\n';
  let text = body;
  try {
    text = JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    // Not JSON: shown as received.
  }
  const lines = sanitize(text.replace(/\s+$/, ''), { keepLineBreaks: true }).split('\n');
  return lines.map((line) => `  ${line}`.trimEnd()).join('\n') + '\n';
}

function formatAttempt(attempt: Attempt): string {
  const duration = attempt.duration_ms === null ? '' : ` in ${Math.round(attempt.duration_ms)} ms`;
  const status = attempt.status_code === null ? 'no response' : `HTTP ${attempt.status_code}`;
  let text = `Attempt ${attempt.attempt} (${attempt.trigger}) at ${formatTime(attempt.started_at)}: ${status}${duration}, ${attempt.outcome}\n`;
  if (attempt.error) text += `  Error: ${sanitize(attempt.error.code)}${attempt.error.message ? `: ${sanitize(attempt.error.message)}` : ''}\n`;
  if (attempt.response) {
    const notes = [attempt.response.body_encoding === 'base64' ? 'base64' : '', attempt.response.body_truncated ? 'incomplete: cut at the size limit, or the receiver stopped sending' : ''].filter(Boolean);
    text += `  Response body${notes.length ? ` (${notes.join(', ')})` : ''}:\n${formatBody(attempt.response.body).replace(/^(?=.)/gm, '  ')}`;
  }
  return text;
}

async function showDelivery(hookId: string, deliveryId: string, flags: ScopeFlags, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const delivery = await client.get<DeliveryDetail>(`${await webhookPath(client, flags, hookId)}/deliveries/${encodeURIComponent(deliveryId)}`);
  if (settings.json) return printJson(delivery);
  print(
    formatFields([
      ['Delivery', delivery.id],
      ['Event', delivery.event_id === null ? delivery.event : `${delivery.event} (event ${delivery.event_id})`],
      ['Webhook', String(delivery.webhook_id)],
      ['Status', delivery.status],
      ['Attempts', String(delivery.attempt_count)],
      ['Next attempt', formatTime(delivery.next_attempt_at)],
      ['Created', formatTime(delivery.created_at)],
    ]),
  );
  print(`Request headers:\n${formatHeaders(delivery.request.headers)}`);
  print(`Request body:\n${formatBody(delivery.request.body)}`);
  if (delivery.attempts.length === 0) print('No attempt yet.');
  for (const attempt of delivery.attempts) print(formatAttempt(attempt));
}

async function redeliver(hookId: string, deliveryId: string, flags: ScopeFlags, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const path = `${await webhookPath(client, flags, hookId)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`;
  const delivery = await client.post<DeliverySummary>(path);
  if (settings.json) return printJson(delivery);
  print(`Redelivery of ${delivery.id} (${delivery.event}) queued: the worker sends the same body and delivery id again.`);
  print(`Check the result with: dits-webhook delivery show ${hookId} ${delivery.id} ${scopeArguments(flags)}`);
}

function addScopeOptions(command: Command): Command {
  return command
    .option('--repo <repo>', 'repository id or owner/name of the webhook')
    .option('--owner <login>', 'owner login of an owner-level webhook');
}

export function registerDeliveryCommands(program: Command): void {
  addSettingsOptions(
    addScopeOptions(program.command('deliveries').description('List the deliveries of a webhook, newest first').argument('<hook>', 'webhook id'))
      .option('--status <status>', `only deliveries in this status: ${DELIVERY_STATUSES.join(', ')}`)
      .option('--event <name>', 'only deliveries of this event, such as push')
      .option('--limit <n>', 'page size from 1 to 100 (default 30)')
      .option('--cursor <cursor>', 'start at this next_cursor value of an earlier page')
      .option('--all', 'follow next_cursor and list every page'),
  ).action(runAction(listDeliveries));

  const delivery = program.command('delivery').description('Inspect one delivery');
  addSettingsOptions(
    addScopeOptions(
      delivery
        .command('show')
        .description('Show the request, and each attempt with status code, duration, error and response body')
        .argument('<hook>', 'webhook id')
        .argument('<delivery-id>', 'delivery id from `dits-webhook deliveries`'),
    ),
  ).action(runAction(showDelivery));

  addSettingsOptions(
    addScopeOptions(
      program
        .command('redeliver')
        .description('Send a delivery again with the same body and delivery id')
        .argument('<hook>', 'webhook id')
        .argument('<delivery-id>', 'delivery id from `dits-webhook deliveries`'),
    ),
  ).action(runAction(redeliver));
}
