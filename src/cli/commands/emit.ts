/** `emit`: sends one repository event to the server, which fans it out to the matching webhooks. */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { inexactJsonNumber, repeatedJsonKey } from '../../api/json-body.js';
import { buildEventBody } from '../event-fields.js';
import { print, printJson } from '../output.js';
import { resolveRepoId } from '../references.js';
import { runAction } from '../run-action.js';
import { addSettingsOptions, connect } from '../settings.js';
import { collect } from '../webhook-flags.js';

interface EmitFlags {
  repo: string;
  field?: string[];
  file?: string;
  sender?: string;
  idempotencyKey?: string;
}

interface IngestResult {
  id: string;
  event: string;
  deliveries: number;
  created_at: string;
}

/** Reads `--file`: a path, or `-` for standard input. */
function readPayloadFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --file ${path}: ${(error as Error).message}; pass the path of a JSON file of event fields`);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--file ${path} is not valid JSON (${(error as Error).message}); fix the file or pass fields with --field`);
  }
  const repeated = repeatedJsonKey(text);
  if (repeated !== null) throw new UsageError(`--file ${path} sets key ${JSON.stringify(repeated)} twice in one object; keep one`);
  // JSON.parse would round such a number before it is sent, and the server's error would then quote the rounded value.
  const inexact = inexactJsonNumber(text);
  if (inexact !== null) throw new UsageError(`--file ${path}: ${inexact}; write it as a string`);
  return payload;
}

/** Returns the local user's login, which is the sender when neither --sender nor the payload sets one. */
function localLogin(): string | undefined {
  try {
    return userInfo().username || undefined;
  } catch {
    return process.env.USER || process.env.USERNAME || undefined;
  }
}

async function emitEvent(event: string, flags: EmitFlags, command: Command): Promise<void> {
  if (flags.idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(flags.idempotencyKey)) {
    throw new UsageError('--idempotency-key must be 1 to 255 printable ASCII characters without spaces');
  }
  const body = buildEventBody({
    event,
    file: flags.file === undefined ? undefined : readPayloadFile(flags.file),
    fields: flags.field ?? [],
    sender: flags.sender,
    defaultSender: localLogin(),
  });
  const { settings, client } = connect(command);
  const repoId = await resolveRepoId(client, flags.repo);
  const headers = flags.idempotencyKey === undefined ? undefined : { 'idempotency-key': flags.idempotencyKey };
  const response = await client.call<IngestResult>('POST', `/v1/repos/${repoId}/events`, { body, headers });
  const result = response.data;
  if (settings.json) return printJson(result);

  const deliveries = `${result.deliveries} ${result.deliveries === 1 ? 'delivery' : 'deliveries'}`;
  if (response.headers['idempotent-replayed'] === 'true') {
    print(`Event ${result.id} (${result.event}) was already accepted with this idempotency key; nothing new was created (${deliveries}).`);
  } else {
    print(`Event ${result.id} (${result.event}) accepted: ${deliveries}.`);
  }
  if (result.deliveries === 0) print(`No active webhook of this repository or its owner subscribes to ${result.event}; add one with \`dits-webhook create\`.`);
}

export function registerEmitCommands(program: Command): void {
  addSettingsOptions(
    program
      .command('emit')
      .description('Send a repository event, such as push or lock.acquired, to the server')
      .argument('<event>', 'event name from the catalog (GET /v1/event-types), such as push')
      .requiredOption('--repo <repo>', 'repository id or owner/name')
      .option('--field <key=value>', 'event field; dotted keys nest (lock.path=edit.prproj); values are JSON when they parse, else text (repeatable)', collect)
      .option('--file <payload.json>', 'JSON object of event fields, or - for standard input; --field entries override it')
      .option('--sender <login>', 'login of the account that caused the event (default: the local user name)')
      .option('--idempotency-key <key>', 'a retried emit with the same key returns the first result and creates nothing new')
      .addHelpText(
        'after',
        '\nExamples:\n' +
          '  dits-webhook emit push --repo alice/film --field ref=refs/heads/main --field before=<sha> --field after=<sha>\n' +
          '  dits-webhook emit lock.acquired --repo alice/film --field lock.id=7 --field lock.path=edit.prproj \\\n' +
          '    --field lock.owner.login=alice --field lock.locked_at=2026-01-02T03:04:05Z',
      ),
  ).action(runAction(emitEvent));
}
