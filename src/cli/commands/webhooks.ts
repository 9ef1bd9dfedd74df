/** `create`, `list`, `show`, `update`, `delete`, `ping`: webhooks of a repository or of an owner. */
import { Option, type Command } from 'commander';
import { generateSecret } from '../../signing/secret.js';
import { cell, formatFields, formatTable, formatTime, print, printJson } from '../output.js';
import { webhookCollectionPath, webhookPath, type ScopeFlags } from '../references.js';
import { UsageError } from '../errors.js';
import { runAction } from '../run-action.js';
import { addSettingsOptions, connect } from '../settings.js';
import { collect, createBody, describeFilters, patchBody, type WebhookFilters, type WebhookFlags } from '../webhook-flags.js';

export interface Webhook {
  id: number;
  type: 'repository' | 'owner';
  repository_id?: number;
  owner?: string;
  url: string;
  events: string[];
  active: boolean;
  filters: WebhookFilters | null;
  insecure_ssl: boolean;
  created_at: string;
  updated_at: string;
  last_delivery: { id: string; event: string; status: string; status_code: number | null; at: string } | null;
  status: string;
  disabled_reason: string | null;
  previous_secret_expires_at: string | null;
  /** Present only in the create response, when the server generated the secret. */
  secret?: string;
}

type HookFlags = WebhookFlags & ScopeFlags;

function scopeLabel(hook: Webhook): string {
  return hook.type === 'repository' ? `repository ${hook.repository_id}` : `owner ${hook.owner}`;
}

function lastDelivery(hook: Webhook): string {
  const last = hook.last_delivery;
  if (!last) return '-';
  return `${last.status}${last.status_code === null ? '' : ` ${last.status_code}`} ${last.event} at ${formatTime(last.at)}`;
}

function webhookFields(hook: Webhook): [string, string][] {
  const fields: [string, string][] = [
    ['ID', String(hook.id)],
    ['Belongs to', scopeLabel(hook)],
    ['URL', hook.url],
    ['Events', hook.events.join(', ')],
    ['Status', hook.disabled_reason ? `${hook.status} (${hook.disabled_reason})` : hook.status],
    ['Filters', describeFilters(hook.filters)],
    ['Insecure SSL', hook.insecure_ssl ? 'yes (TLS certificates are not checked)' : 'no'],
    ['Last delivery', lastDelivery(hook)],
    ['Created', formatTime(hook.created_at)],
    ['Updated', formatTime(hook.updated_at)],
  ];
  if (hook.previous_secret_expires_at) fields.push(['Old secret until', formatTime(hook.previous_secret_expires_at)]);
  return fields;
}

async function createWebhook(flags: HookFlags, command: Command): Promise<void> {
  const body = createBody(flags);
  const { settings, client } = connect(command, { urlIsTarget: true });
  const hook = await client.post<Webhook>(await webhookCollectionPath(client, flags), body);
  if (settings.json) return printJson(hook);
  print(`Created webhook ${hook.id} for ${scopeLabel(hook)}.`);
  print(formatFields(webhookFields(hook)));
  if (hook.active) print('A ping event is on its way to the URL.');
  if (hook.secret) {
    print(`Secret: ${hook.secret}`);
    print('This secret is shown only once: store it in your receiver now. Rotate it later with `dits-webhook update` and --secret.');
  }
}

async function listWebhooks(flags: ScopeFlags, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const page = await client.get<{ data: Webhook[]; next_cursor: string | null }>(await webhookCollectionPath(client, flags));
  if (settings.json) return printJson(page);
  if (page.data.length === 0) {
    const scope = flags.owner !== undefined ? `--owner ${flags.owner}` : `--repo ${flags.repo ?? '<id|owner/name>'}`;
    print(`No webhooks. Add one with: dits-webhook create ${scope} --url <receiver URL> --events push`);
    return;
  }
  const rows = page.data.map((hook) => [String(hook.id), hook.url, hook.events.join(','), hook.status, lastDelivery(hook)]);
  print(formatTable(['id', 'url', 'events', 'status', 'last delivery'], rows));
}

async function showWebhook(hookId: string, flags: ScopeFlags, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const hook = await client.get<Webhook>(await webhookPath(client, flags, hookId));
  if (settings.json) return printJson(hook);
  print(formatFields(webhookFields(hook)));
}

async function updateWebhook(hookId: string, flags: HookFlags, command: Command): Promise<void> {
  const generated = flags.secret === true ? generateSecret() : undefined;
  const secret = typeof flags.secret === 'string' ? flags.secret : generated;
  let body = patchBody(flags, null, secret);
  const { settings, client } = connect(command, { urlIsTarget: true });
  const path = await webhookPath(client, flags, hookId);
  // A filter flag changes one list, so the current filters are read first and the other lists are sent back unchanged.
  // A new secret ends the secret that the last rotation kept signing, so the current state is read for that too.
  const before = body.filters !== undefined || secret !== undefined ? await client.get<Webhook>(path) : null;
  if (body.filters !== undefined) body = patchBody(flags, before!.filters, secret);
  const hook = await client.patch<Webhook>(path, body);
  if (settings.json) return printJson(generated ? { ...hook, secret: generated } : hook);
  print(`Updated webhook ${hook.id}.`);
  print(formatFields(webhookFields(hook)));
  if (secret === undefined) return;
  // The server treats the current secret sent again as no rotation, and then leaves the previous secret as it was.
  if (hook.previous_secret_expires_at === before!.previous_secret_expires_at) print('The secret is unchanged: the one sent is the current secret.');
  else printRotation(hook, generated, before!.previous_secret_expires_at);
}

/**
 * Prints what a rotation changed. `endedUntil` is when the secret that the
 * previous rotation kept signing was due to stop. A webhook keeps one previous
 * secret, so a rotation before that time ends it at once.
 */
function printRotation(hook: Webhook, generated: string | undefined, endedUntil: string | null): void {
  if (generated) {
    print(`New secret: ${generated}`);
    print('This secret is shown only once: store it in your receiver now.');
  }
  const until = hook.previous_secret_expires_at ? formatTime(hook.previous_secret_expires_at) : 'the end of the rotation overlap';
  print(
    `X-Hub-Signature-256 uses the new secret from now on. The old secret keeps signing until ${until}: ` +
      'webhook-signature carries a signature with each secret until then, so receivers that check it keep working while you switch them over.',
  );
  if (endedUntil !== null && Date.parse(endedUntil) > Date.parse(hook.updated_at)) {
    print(`The secret before the old one, which was to sign until ${formatTime(endedUntil)}, stopped signing now: a webhook keeps one previous secret.`);
  }
}

async function deleteWebhook(hookId: string, flags: ScopeFlags, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const path = await webhookPath(client, flags, hookId);
  await client.delete(path);
  if (settings.json) return printJson({ id: Number(hookId), deleted: true });
  print(`Deleted webhook ${hookId}; its waiting deliveries are cancelled.`);
}

async function pingWebhook(hookId: string, flags: ScopeFlags, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const result = await client.post<{ delivery_id: string }>(`${await webhookPath(client, flags, hookId)}/pings`);
  if (settings.json) return printJson(result);
  print(`Ping sent to webhook ${hookId}: delivery ${result.delivery_id}.`);
  print(`Follow it with: dits-webhook delivery show ${hookId} ${result.delivery_id} ${scopeArguments(flags)}`);
}

/** Repeats the scope flags of this command line for a suggested follow-up command. */
export function scopeArguments(flags: ScopeFlags): string {
  return flags.repo !== undefined ? `--repo ${flags.repo}` : `--owner ${flags.owner}`;
}

function addScopeOptions(command: Command): Command {
  return command
    .option('--repo <repo>', 'repository id or owner/name the webhook belongs to')
    .option('--owner <login>', 'owner login, for an owner-level webhook that receives the events of all its repositories');
}

function addTargetOptions(command: Command, verb: 'create' | 'update'): Command {
  const clearNote = verb === 'update' ? '; an empty value removes the filter' : '';
  return command
    .option('--events <names>', `comma-separated event names or patterns such as push,lock.*,*.deleted${verb === 'create' ? ' (default push)' : ''}`, collect)
    .option('--branches <globs>', `only pushes and branch events whose branch matches one of these globs, such as main,release/*${clearNote}`, collect)
    .option('--tags <globs>', `only tag pushes and tag events whose tag matches one of these globs, such as v*${clearNote}`, collect)
    .option('--paths-include <globs>', `only pushes that change a file matching one of these globs, such as assets/**${clearNote}`, collect)
    .option('--paths-exclude <globs>', `skip pushes whose changed files all match these globs${clearNote}`, collect)
    .option('--inactive', verb === 'create' ? 'create the webhook switched off (no ping, no deliveries)' : 'switch the webhook off');
}

export function registerWebhookCommands(program: Command): void {
  const create = program.command('create').description('Create a webhook on a repository or an owner');
  addSettingsOptions(addTargetOptions(addScopeOptions(create).requiredOption('--url <url>', 'receiver URL, http or https'), 'create'), { includeUrl: false })
    .option('--secret <secret>', 'signing secret of 16 to 256 characters (default: the server generates one and it is printed once)')
    .option('--insecure-ssl', 'skip TLS certificate checks for this URL (unsafe)')
    .addHelpText('after', '\nThe server URL goes before the command name here, e.g. dits-webhook --url http://server:8080 create --url http://receiver/hook ...')
    .action(runAction(createWebhook));

  addSettingsOptions(addScopeOptions(program.command('list').description('List the webhooks of a repository or an owner'))).action(runAction(listWebhooks));

  addSettingsOptions(addScopeOptions(program.command('show').description('Show one webhook').argument('<hook>', 'webhook id'))).action(runAction(showWebhook));

  const update = program.command('update').description('Change a webhook; flags left out keep their value').argument('<hook>', 'webhook id');
  addSettingsOptions(addTargetOptions(addScopeOptions(update).option('--url <url>', 'new receiver URL'), 'update'), { includeUrl: false })
    .option('--active', 'switch the webhook on')
    .option('--secret [secret]', 'rotate the secret: the given one, or a generated one printed once; the old one keeps signing during the overlap')
    .addOption(new Option('--insecure-ssl', 'skip TLS certificate checks (unsafe)'))
    .addOption(new Option('--no-insecure-ssl', 'check TLS certificates again'))
    .addHelpText('after', '\nThe server URL goes before the command name here, e.g. dits-webhook --url http://server:8080 update 3 --url http://receiver/new ...');
  // Both flags set one value, and commander would keep the last one given without a word.
  const sslFlags = new Set<string>();
  update.on('option:insecure-ssl', () => sslFlags.add('--insecure-ssl'));
  update.on('option:no-insecure-ssl', () => sslFlags.add('--no-insecure-ssl'));
  update.action(
    runAction(async (hookId: string, flags: HookFlags, command: Command) => {
      if (sslFlags.size > 1) throw new UsageError('pass --insecure-ssl or --no-insecure-ssl, not both');
      await updateWebhook(hookId, flags, command);
    }),
  );

  addSettingsOptions(addScopeOptions(program.command('delete').description('Delete a webhook').argument('<hook>', 'webhook id'))).action(runAction(deleteWebhook));

  addSettingsOptions(addScopeOptions(program.command('ping').description('Send a ping event to a webhook now').argument('<hook>', 'webhook id'))).action(runAction(pingWebhook));
}
