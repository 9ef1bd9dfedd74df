import pino, { type Logger } from 'pino';
import type { Config } from './config.js';

/**
 * Creates the root logger: JSON lines on stdout. Secrets never reach it:
 * the API logs ids and codes only, and target URLs pass through redactUrl.
 */
export function createLogger(level: Config['logLevel'], destination: pino.DestinationStream | number = 1): Logger {
  // Lines are written as soon as the previous write ends, not gathered into larger writes, so a kill -9 loses at most a few.
  const stream = typeof destination === 'number' ? pino.destination({ dest: destination, sync: false, minLength: 0 }) : destination;
  return pino(
    {
      level,
      base: { service: 'dits-webhooks' },
      redact: { paths: ['secret', '*.secret', 'headers.authorization', 'req.headers.authorization'], censor: '[redacted]' },
    },
    stream,
  );
}
