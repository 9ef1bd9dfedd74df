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

// A reader that closes the pipe early (`dits-webhook deliveries 3 | head`) is not an error of this command.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command();
program
  .name('dits-webhook')
  .description('Webhooks and events service for Dits repositories')
  .version(VERSION)
  .showHelpAfterError('(run dits-webhook --help for usage)')
  .exitOverride();

addGlobalSettingsOptions(program);

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
