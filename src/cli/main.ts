#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerServeCommands } from './serve.js';
import { addGlobalSettingsOptions } from './settings.js';
import { registerRepoCommands } from './commands/repos.js';
import { registerWebhookCommands } from './commands/webhooks.js';
import { registerDeliveryCommands } from './commands/deliveries.js';
import { registerEmitCommands } from './commands/emit.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerVerifyCommands } from './commands/verify.js';
import { registerListenCommands } from './commands/listen.js';
import { registerReplayCommands } from './commands/replay.js';
import { registerSecretsCommands } from './secrets.js';
import { registerWatchCommand } from '../watch/command.js';

/** Commands that run until stopped: a reader that goes away ends their output, not the command. */
const LONG_RUNNING_COMMANDS: ReadonlySet<string> = new Set(['serve', 'watch', 'listen']);
let outputOptional = false;
let stdoutGone = false;

// A reader that closes the pipe early (`dits-webhook deliveries 3 | head`) is not an error of this command. A service
// goes on serving, because exiting here skipped its shutdown or hung it in the log's final flush.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE' && !stdoutGone) throw err;
  if (!outputOptional) process.exit(0);
  if (stdoutGone) return;
  stdoutGone = true;
  process.stderr.write('dits-webhook: standard output was closed; going on without writing to it\n');
});

const program = new Command();
program
  .name('dits-webhook')
  .description('Webhooks and events service for Dits repositories')
  .version(VERSION)
  .showHelpAfterError('(run dits-webhook --help for usage)')
  .exitOverride();

addGlobalSettingsOptions(program);
/** Commands that read the service's configuration, whose own --config names the service's config file. */
const SERVICE_COMMANDS: ReadonlySet<string> = new Set(['serve', 'migrate', 'reencrypt']);

program.hook('preAction', (_program, action) => {
  if (LONG_RUNNING_COMMANDS.has(action.name())) outputOptional = true;
  // Before the command name, --config names the CLI's own settings file, which a service command does not read.
  if (SERVICE_COMMANDS.has(action.name()) && program.opts().config !== undefined) {
    const name = action.parent === program ? action.name() : `${action.parent?.name()} ${action.name()}`;
    process.stderr.write(
      `error: --config before ${name} names the CLI settings file, which ${name} does not read; put it after the command to name the service's config file: dits-webhook ${name} --config ${program.opts().config as string}\n`,
    );
    process.exit(2);
  }
});

registerServeCommands(program);
registerRepoCommands(program);
registerWebhookCommands(program);
registerDeliveryCommands(program);
registerEmitCommands(program);
registerTokenCommands(program);
registerVerifyCommands(program);
registerListenCommands(program);
registerReplayCommands(program);
registerSecretsCommands(program);
registerWatchCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
