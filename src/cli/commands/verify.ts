/** `verify`: checks a webhook signature offline against a body file and a secret. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { print, printJson } from '../output.js';
import { runAction } from '../run-action.js';
import { settingsFlagsOf } from '../settings.js';
import { checkHubSignature, checkStandardSignature, type SignatureCheck } from '../signature-check.js';

interface VerifyFlags {
  secret: string;
  bodyFile: string;
  signature?: string;
  webhookId?: string;
  webhookTimestamp?: string;
  webhookSignature?: string;
  tolerance: string;
}

function readBody(path: string): Buffer {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (error) {
    throw new UsageError(`cannot read --body-file ${path}: ${(error as Error).message}; pass the file that contains the raw request body`);
  }
}

/** Parses `--tolerance`: whole seconds, where 0 turns the timestamp check off. */
export function parseTolerance(value: string): number {
  if (!/^[0-9]{1,9}$/.test(value)) throw new UsageError(`--tolerance must be a whole number of seconds, got ${JSON.stringify(value)}`);
  const seconds = Number(value);
  return seconds === 0 ? Infinity : seconds;
}

/** Checks `--secret`: an empty or blank value, such as an unset shell variable, is a UsageError rather than a secret. */
export function parseSecret(value: string): string {
  if (value.trim() === '') throw new UsageError('--secret is empty; pass the webhook secret, as shown when the webhook was created');
  return value;
}

/** Runs the checks that the flags ask for; throws UsageError when they name no complete scheme. */
export function runChecks(flags: VerifyFlags, body: Buffer): { scheme: string; check: SignatureCheck }[] {
  parseSecret(flags.secret);
  const standardFlags = { 'webhook-id': flags.webhookId, 'webhook-timestamp': flags.webhookTimestamp, 'webhook-signature': flags.webhookSignature };
  const standardGiven = Object.entries(standardFlags).filter(([, value]) => value !== undefined);
  const blank = [...standardGiven, ['signature', flags.signature] as const].find(([, value]) => value !== undefined && value.trim() === '');
  if (blank) {
    const header = blank[0] === 'signature' ? 'X-Hub-Signature-256' : blank[0];
    throw new UsageError(`--${blank[0]} is empty; pass the ${header} header value as the request carried it, or leave the flag out`);
  }
  if (standardGiven.length > 0 && standardGiven.length < 3) {
    const missing = Object.entries(standardFlags).filter(([, value]) => value === undefined).map(([name]) => `--${name}`);
    throw new UsageError(`Standard Webhooks verification needs --webhook-id, --webhook-timestamp and --webhook-signature; missing ${missing.join(', ')}`);
  }
  if (flags.signature === undefined && standardGiven.length === 0) {
    throw new UsageError("pass --signature 'sha256=...' (X-Hub-Signature-256), or --webhook-id, --webhook-timestamp and --webhook-signature");
  }
  const checks: { scheme: string; check: SignatureCheck }[] = [];
  if (flags.signature !== undefined) checks.push({ scheme: 'hub', check: checkHubSignature(flags.secret, body, flags.signature) });
  if (standardGiven.length === 3) {
    checks.push({ scheme: 'standard', check: checkStandardSignature(flags.secret, body, standardFlags, parseTolerance(flags.tolerance)) });
  }
  return checks;
}

async function verify(flags: VerifyFlags, command: Command): Promise<void> {
  parseTolerance(flags.tolerance);
  const checks = runChecks(flags, readBody(flags.bodyFile));
  const failures = checks.flatMap(({ check }) => (check.result === 'ok' ? [] : [check.reason]));
  if (settingsFlagsOf(command).json) {
    printJson({ valid: failures.length === 0, checks: checks.map(({ scheme, check }) => ({ scheme, ...check })) });
  } else {
    print(failures.length === 0 ? 'valid' : `invalid: ${failures.join('; and ')}`);
  }
  if (failures.length > 0) process.exitCode = 1;
}

export function registerVerifyCommands(program: Command): void {
  program
    .command('verify')
    .description('Check a delivery signature against the raw body and the secret; exit status 0 when valid, 1 when invalid')
    .requiredOption('--secret <secret>', 'the webhook secret')
    .requiredOption('--body-file <file>', 'file with the exact request body bytes, or - for standard input')
    .option('--signature <value>', 'X-Hub-Signature-256 header value, sha256=<hex>')
    .option('--webhook-id <id>', 'webhook-id header value (Standard Webhooks)')
    .option('--webhook-timestamp <seconds>', 'webhook-timestamp header value, Unix seconds')
    .option('--webhook-signature <value>', 'webhook-signature header value, such as v1,<base64>')
    .option('--tolerance <seconds>', 'maximum age of webhook-timestamp; 0 turns the age check off', '300')
    .option('--json', 'print the result as JSON')
    .action(runAction(verify));
}
