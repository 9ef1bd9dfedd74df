/**
 * Failures of CLI commands. A UsageError ends the process with exit status 2,
 * and a CliError with exit status 1. Each message names what failed and the
 * next step.
 */
import { ConfigError } from '../config.js';
import { sanitize } from './output.js';

/** A failure at run time: an API error, a network error, an invalid signature. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** A command line that cannot run: a missing flag, a flag value of the wrong form, conflicting flags. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One entry of the `details` list of an API error response. */
export interface ApiErrorDetail {
  field: string;
  message: string;
}

/** An error response of the management API, with the server's code, message and details. */
export class ApiCallError extends CliError {
  constructor(
    message: string,
    /** HTTP status of the response. */
    readonly status: number,
    /** Stable error code from the server, such as `repo_not_found`, or `http_<status>` when the body had none. */
    readonly code: string,
    readonly details: ApiErrorDetail[],
    /** A CLI command that fixes or investigates the problem, or null. */
    readonly hint: string | null,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** Formats a failure for stderr: the message, each API detail on its own line, then the hint. */
export function formatFailure(error: CliError): string {
  // API messages and details can echo request input, so control characters are escaped before they reach the terminal.
  const lines = [`error: ${sanitize(error.message)}`];
  if (error instanceof ApiCallError) {
    lines[0] += ` (${sanitize(error.code)}, HTTP ${error.status})`;
    for (const detail of error.details) lines.push(`  - ${sanitize(detail.field)}: ${sanitize(detail.message)}`);
    if (error.hint) lines.push(error.hint);
  }
  return lines.join('\n') + '\n';
}

/**
 * Ends the process with exit status 2 for a configuration error. Its message
 * lists one line per setting, each naming the setting to fix.
 */
export function exitOnConfigError(err: unknown): void {
  if (!(err instanceof ConfigError)) return;
  process.stderr.write(`${err.message}\nFix the flag, environment variable or config file named above.\n`);
  process.exit(2);
}
