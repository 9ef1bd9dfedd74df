#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerServeCommands } from './serve.js';

const program = new Command();
program
  .name('dits-webhook')
  .description('Webhooks and events service for Dits repositories')
  .version(VERSION)
  .showHelpAfterError('(run dits-webhook --help for usage)')
  .exitOverride();

registerServeCommands(program);

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
