import { Command } from 'commander';
import { CliError, UsageError, formatFailure } from './errors.js';
import { sanitize } from './output.js';

/**
 * Wraps a commander action. A UsageError goes through `command.error`, so it
 * prints like commander's own usage errors and ends with exit status 2. A
 * CliError is printed to stderr and sets exit status 1, and so is a
 * TypeError, which here nearly always means a server response of another
 * shape. Any other error propagates to main, which prints it and exits with
 * status 1.
 */
export function runAction<A extends unknown[]>(handler: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await handler(...args);
    } catch (error) {
      if (error instanceof UsageError) {
        // Messages quote flag values and file contents, such as JSON.parse's excerpt, which may hold line breaks.
        const message = sanitize(error.message);
        const command = lastCommand(args);
        if (command) command.error(`error: ${message}`, { exitCode: 2, code: 'dits.usage' });
        process.stderr.write(`error: ${message}\n`);
        process.exitCode = 2;
        return;
      }
      if (error instanceof CliError) {
        process.stderr.write(formatFailure(error));
        process.exitCode = 1;
        return;
      }
      if (error instanceof TypeError) {
        // The commands read the server's JSON without checking every field, so a response of another shape ends here.
        process.stderr.write(
          `error: the server's response does not have the shape the Dits Webhooks API returns (${error.message}); check that --url or DITS_WEBHOOKS_URL points at the API\n`,
        );
        process.exitCode = 1;
        return;
      }
      throw error;
    }
  };
}

/** Commander passes the Command as the last action argument. */
function lastCommand(args: unknown[]): Command | undefined {
  for (let i = args.length - 1; i >= 0; i--) {
    if (args[i] instanceof Command) return args[i] as Command;
  }
  return undefined;
}
