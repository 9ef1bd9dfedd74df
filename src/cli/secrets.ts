/**
 * `dits-webhook secrets reencrypt`: seals every stored webhook secret, and
 * every previous secret kept for a rotation, with a new encryption key.
 * Secrets stored as plain text (written while no key was set) are sealed
 * too, so the command also turns encryption at rest on for an existing store.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { openStore } from '../app.js';
import { loadConfig } from '../config.js';
import { isSealed, parseEncryptionKey, SecretBox } from '../signing/secret-box.js';
import pino from 'pino';
import { PRESENCE_STALE_MS, runningServiceProcesses, ServicePresence } from '../service-presence.js';
import { SqliteStore } from '../store/sqlite/store.js';
import type { Store, WebhookSecretRecord } from '../store/types.js';
import { CliError, exitOnConfigError, UsageError } from './errors.js';
import { runAction } from './run-action.js';

/** Environment variable read for the old key when `--old-key` is not given. */
export const OLD_KEY_ENV = 'DITS_WEBHOOKS_OLD_ENCRYPTION_KEY';

export interface ReencryptSummary {
  /** Webhook rows read, deleted webhooks included. */
  webhooks: number;
  /** Secret values written: current and previous secrets. */
  secrets: number;
  /** Values that were stored as plain text before. */
  fromPlainText: number;
  /** Deleted webhooks left as they were because neither key opens their secrets. */
  deletedUnreadable: number;
  /** Previous secrets of live webhooks that neither key opens, removed rather than re-sealed. */
  previousDropped: number;
}

interface ReencryptFlags {
  dataDir?: string;
  database?: string;
  schema?: string;
  config?: string;
  oldKey?: string;
  newKey?: string;
}

/**
 * Opens one stored value with the old key. A value that only the new key
 * opens was re-sealed by an earlier, interrupted run and is opened with that
 * key, so the command can simply be run again.
 */
function openStored(stored: string, oldBox: SecretBox, newBox: SecretBox, webhookId: number): string {
  if (!isSealed(stored)) return stored;
  try {
    return oldBox.open(stored);
  } catch {
    // Falls through to the new key below.
  }
  try {
    return newBox.open(stored);
  } catch {
    const fix = oldBox.enabled ? 'pass the key the secrets were encrypted with' : 'pass the current key';
    throw new CliError(`the secret of webhook ${webhookId} cannot be decrypted with the old key; ${fix} as --old-key or in ${OLD_KEY_ENV}. Nothing was changed.`);
  }
}

/**
 * Re-seals the secrets of every webhook row with `newKey`. Every value is
 * decrypted before the first write, so a wrong old key changes nothing.
 * Run it while the service is stopped: a worker still using the old key
 * cannot open the re-sealed secrets, and a rotation made during the run
 * could be overwritten.
 */
export async function reencryptSecrets(store: Store, keys: { oldKey: string | null; newKey: string }): Promise<ReencryptSummary> {
  const oldBox = new SecretBox(keys.oldKey ?? '');
  const newBox = new SecretBox(keys.newKey);
  const rows = await store.listWebhookSecrets();
  const opened: OpenedRow[] = [];
  let deletedUnreadable = 0;
  for (const row of rows) {
    try {
      opened.push(openRow(row, oldBox, newBox));
    } catch (err) {
      // A deleted webhook never signs again, so a secret no key opens (sealed under a key since lost) stays as it is
      // rather than blocking the rotation of every other secret.
      if (!(err instanceof CliError) || !row.deleted) throw err;
      deletedUnreadable++;
    }
  }

  let secrets = 0;
  for (const row of opened) {
    const previous = row.previousSecret === null ? null : newBox.seal(row.previousSecret);
    await store.updateWebhookSecrets(row.id, newBox.seal(row.secret), previous);
    secrets += previous === null ? 1 : 2;
  }
  const plainValues = rows.flatMap((row) => [row.secret, row.previousSecret]).filter((value) => value !== null && !isSealed(value));
  const previousDropped = opened.filter((row) => row.previousDropped).length;
  return { webhooks: opened.length, secrets, fromPlainText: plainValues.length, deletedUnreadable, previousDropped };
}

interface OpenedRow {
  id: number;
  secret: string;
  previousSecret: string | null;
  /** True when the previous secret opened with neither key and is removed. */
  previousDropped: boolean;
}

/**
 * Opens both secrets of a row, and raises when the current one opens with
 * neither key. Such a previous secret is dropped instead, because it only
 * adds a second signature during a rotation and the worker leaves it out.
 */
function openRow(row: WebhookSecretRecord, oldBox: SecretBox, newBox: SecretBox): OpenedRow {
  const secret = openStored(row.secret, oldBox, newBox, row.id);
  if (row.previousSecret === null) return { id: row.id, secret, previousSecret: null, previousDropped: false };
  try {
    return { id: row.id, secret, previousSecret: openStored(row.previousSecret, oldBox, newBox, row.id), previousDropped: false };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return { id: row.id, secret, previousSecret: null, previousDropped: true };
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * Raises a CliError while a service process uses the store: its worker
 * would fail every delivery once the secrets are sealed with a key it does
 * not have, and its API would seal new secrets with the old key.
 */
async function rejectWhileServiceRuns(store: Store, ownId: string): Promise<void> {
  const now = Date.now();
  const running = await runningServiceProcesses(store, now, ownId);
  if (running.length === 0) return;
  const other = running.find((entry) => entry.role === 'reencrypt');
  if (other) {
    throw new CliError(`another secrets reencrypt is running on this database (${other.id}); wait for it to finish. Nothing was changed.`);
  }
  const listed = running.slice(0, 3).map((entry) => `${entry.id} (role ${entry.role}, seen ${Math.round((now - entry.seenAt) / 1000)} s ago)`);
  const more = running.length > 3 ? ` and ${running.length - 3} more` : '';
  throw new CliError(
    `a Dits Webhooks service is using this database: ${listed.join(', ')}${more}. Stop every service process first, then run the command again and ` +
      `start the service with the new key. A process on another machine that ended without a clean stop counts as running until its record is ${PRESENCE_STALE_MS / 1000} s old. Nothing was changed.`,
  );
}

/** Parses a key flag, naming the flag in the error. */
function checkedKey(value: string, flag: string): string {
  try {
    parseEncryptionKey(value);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
  return value;
}

async function runReencrypt(flags: ReencryptFlags): Promise<void> {
  let config;
  try {
    const overrides: Record<string, unknown> = {};
    if (flags.dataDir !== undefined) overrides.dataDir = flags.dataDir;
    if (flags.database !== undefined) overrides.databaseUrl = flags.database;
    if (flags.schema !== undefined) overrides.databaseSchema = flags.schema;
    config = loadConfig({
      overrides,
      overrideFlags: { dataDir: '--data-dir', databaseUrl: '--database', databaseSchema: '--schema' },
      env: process.env,
      configFile: flags.config,
    });
  } catch (err) {
    exitOnConfigError(err);
    throw err;
  }
  const newKey = flags.newKey ?? config.encryptionKey;
  if (!newKey) throw new UsageError('missing the new key; pass --new-key or set DITS_WEBHOOKS_ENCRYPTION_KEY (generate one with `openssl rand -hex 32`)');
  const oldKey = flags.oldKey ?? process.env[OLD_KEY_ENV] ?? null;
  const keys = { newKey: checkedKey(newKey, '--new-key'), oldKey: oldKey ? checkedKey(oldKey, '--old-key') : null };

  // Opening a missing SQLite file would create an empty store and report success on a mistyped folder.
  const sqliteFile = join(config.dataDir, 'dits-webhooks.db');
  if (!config.databaseUrl && !existsSync(sqliteFile)) {
    throw new UsageError(`no database at ${sqliteFile}; pass the --data-dir the service uses, or --database for PostgreSQL`);
  }

  // Opening an empty schema would create the tables and report success on a mistyped schema.
  if (config.databaseUrl) {
    const { hasStoreSchema } = await import('../store/postgres/pool.js');
    if (!(await hasStoreSchema(config.databaseUrl, config.databaseSchema))) {
      throw new UsageError(
        `no Dits Webhooks tables in schema ${config.databaseSchema} of that database; pass the schema the service uses with --schema or DITS_WEBHOOKS_DATABASE_SCHEMA`,
      );
    }
  }

  const store = await openStore(config);
  // Recorded before the check, so that a service starting meanwhile finds this run and does not start.
  const presence = new ServicePresence(store, 'reencrypt', pino({ level: 'silent' }));
  try {
    await presence.start();
    await rejectWhileServiceRuns(store, presence.id);
    const summary = await reencryptSecrets(store, keys);
    if (store instanceof SqliteStore) await store.vacuum();
    process.stdout.write(
      `Re-encrypted ${count(summary.secrets, 'secret')} of ${count(summary.webhooks, 'webhook')} (${summary.fromPlainText} stored as plain text before) in the ${store.kind} store.\n` +
        (summary.deletedUnreadable > 0
          ? `Left ${count(summary.deletedUnreadable, 'deleted webhook')} as ${summary.deletedUnreadable === 1 ? 'it was' : 'they were'}: neither key opens their secrets, and deleted webhooks never sign again.\n`
          : '') +
        (summary.previousDropped > 0
          ? `Dropped ${count(summary.previousDropped, 'previous secret')} that neither key opens; ${summary.previousDropped === 1 ? 'it' : 'they'} only added a second signature during a rotation.\n`
          : '') +
        'Start the service with the new key in DITS_WEBHOOKS_ENCRYPTION_KEY.\n',
    );
  } finally {
    await presence.stop();
    await store.close();
  }
}

export function registerSecretsCommands(program: Command): void {
  const secrets = program.command('secrets').description('Manage the encryption of stored webhook secrets');
  secrets
    .command('reencrypt')
    .description('Seal every stored webhook secret with a new encryption key; stop the service first')
    .option('--data-dir <dir>', 'folder of the SQLite database (default ./data)')
    .option('--database <url>', 'PostgreSQL connection string; overrides DATABASE_URL')
    .option('--schema <name>', 'PostgreSQL schema of the service (default DITS_WEBHOOKS_DATABASE_SCHEMA, else public)')
    .option('--config <file>', 'JSON config file of the service (default DITS_WEBHOOKS_CONFIG)')
    .option('--old-key <key>', `key the secrets are sealed with now, 64 hex characters or base64 of 32 bytes (default ${OLD_KEY_ENV}); not needed for plain-text secrets`)
    .option('--new-key <key>', 'key to seal the secrets with, in the same form (default DITS_WEBHOOKS_ENCRYPTION_KEY)')
    .addHelpText(
      'after',
      '\nKeys on the command line are visible to other users of the machine; prefer the environment variables.\n' +
        'SQLite: the database file is rebuilt (VACUUM) so that no old value stays in it.\n' +
        'PostgreSQL: old row versions stay in the table files until `VACUUM FULL webhooks` runs.',
    )
    .action(runAction(runReencrypt));
}
