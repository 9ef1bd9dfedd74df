import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeConfig } from '../config.js';
import { exitOnConfigError } from './errors.js';

interface ServeFlags {
  host?: string;
  port?: string;
  role?: string;
  dataDir?: string;
  database?: string;
  config?: string;
  allowPrivateTargets?: boolean;
  allowCidr?: string[];
  logLevel?: string;
}

/** The flag behind each configuration key that `serve` and `migrate` set, for error messages. */
const OVERRIDE_FLAGS = {
  host: '--host',
  port: '--port',
  role: '--role',
  dataDir: '--data-dir',
  databaseUrl: '--database',
  allowPrivateTargets: '--allow-private-targets',
  allowCidrs: '--allow-cidr',
  logLevel: '--log-level',
} as const;

function overridesFrom(flags: ServeFlags): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  if (flags.host !== undefined) overrides.host = flags.host;
  if (flags.port !== undefined) overrides.port = flags.port;
  if (flags.role !== undefined) overrides.role = flags.role;
  if (flags.dataDir !== undefined) overrides.dataDir = flags.dataDir;
  if (flags.database !== undefined) overrides.databaseUrl = flags.database;
  if (flags.allowPrivateTargets) overrides.allowPrivateTargets = true;
  if (flags.allowCidr !== undefined) overrides.allowCidrs = flags.allowCidr;
  if (flags.logLevel !== undefined) overrides.logLevel = flags.logLevel;
  return overrides;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('Run the API server and the delivery worker')
    .option('--host <host>', 'interface to bind (default 127.0.0.1)')
    .option('--port <port>', 'TCP port (default 8080; 0 picks a free one)')
    .option('--role <role>', 'all, api or worker (default all)')
    .option('--data-dir <dir>', 'folder of the SQLite database (default ./data)')
    .option('--database <url>', 'PostgreSQL connection string; overrides DATABASE_URL')
    .option('--config <file>', 'JSON config file whose keys are the configuration names')
    .option('--allow-private-targets', 'unsafe outside trusted networks: allow webhooks to loopback and private addresses')
    .option('--allow-cidr <cidr>', 'allow targets in this CIDR although their range is blocked (repeatable)', collect)
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .addHelpText('after', '\nEvery setting also reads DITS_WEBHOOKS_<NAME>, e.g.\n' + describeConfig().map((c) => `  ${c.env} (default ${Array.isArray(c.default) ? c.default.join(',') : JSON.stringify(c.default)})`).join('\n'))
    .action(async (flags: ServeFlags) => {
      // Loaded here, not at the top, so that every other command starts without the server's modules.
      const { startService } = await import('../app.js');
      let service;
      try {
        service = await startService({ overrides: overridesFrom(flags), overrideFlags: OVERRIDE_FLAGS, env: process.env, configFile: flags.config });
      } catch (err) {
        exitOnConfigError(err);
        throw err;
      }
      if (service.url) process.stdout.write(`Dits Webhooks is listening on ${service.url} (store: ${service.store.kind}, role: ${service.config.role})\n`);
      else process.stdout.write(`Dits Webhooks worker started (store: ${service.store.kind}); metrics at ${service.metricsUrl}/metrics\n`);
      const shutdown = (signal: string) => {
        service.logger.info({ signal }, 'shutting down');
        void service.close().then(
          () => process.exit(0),
          (err: unknown) => {
            service.logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });

  program
    .command('migrate')
    .description('Apply database migrations and exit')
    .option('--data-dir <dir>', 'folder of the SQLite database (default ./data)')
    .option('--database <url>', 'PostgreSQL connection string; overrides DATABASE_URL')
    .option('--config <file>', 'JSON config file of the service (default DITS_WEBHOOKS_CONFIG)')
    .action(async (flags: ServeFlags) => {
      const { loadConfig } = await import('../config.js');
      const { openStore } = await import('../app.js');
      let config;
      try {
        config = loadConfig({ overrides: overridesFrom(flags), overrideFlags: OVERRIDE_FLAGS, env: process.env, configFile: flags.config });
      } catch (err) {
        exitOnConfigError(err);
        throw err;
      }
      // A mistyped --data-dir would otherwise get a new, empty database and the same message as the real one.
      const sqliteFile = config.databaseUrl ? null : join(config.dataDir, 'dits-webhooks.db');
      const created = sqliteFile !== null && !existsSync(sqliteFile);
      const store = await openStore(config);
      await store.migrate();
      await store.close();
      if (created) process.stdout.write(`Created a new, empty database at ${sqliteFile}; if the service's data is elsewhere, pass its --data-dir.\n`);
      process.stdout.write(`Migrations applied (${store.kind}).\n`);
    });
}
