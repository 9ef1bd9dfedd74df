import pino, { type Logger } from 'pino';
import type { Config } from './config.js';

/**
 * Creates the root logger: JSON lines on stdout. Secrets never reach it:
 * the API logs ids and codes only, and target URLs pass through redactUrl.
 */
export function createLogger(level: Config['logLevel'], destination: pino.DestinationStream | number = 1): Logger {
  const stream = typeof destination === 'number' ? pino.destination({ dest: destination, sync: false, minLength: 4096 }) : destination;
  return pino(
    {
      level,
      base: { service: 'dits-webhooks' },
      redact: { paths: ['secret', '*.secret', 'headers.authorization', 'req.headers.authorization'], censor: '[redacted]' },
    },
    stream,
  );
}
