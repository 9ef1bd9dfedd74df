/**
 * Waiting on conditions with a deadline, and a pino logger whose lines a test
 * can read back.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';

/** Polls `condition` every 5 ms until it returns true; fails with `description` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, description: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Rejects when `promise` has not settled after `timeoutMs`, naming what was awaited. */
export async function withDeadline<T>(promise: Promise<T>, description: string, timeoutMs = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Creates a debug-level pino logger that keeps every line it writes. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = { write: (text: string) => void lines.push(JSON.parse(text) as LogLine) };
  return { logger: pino({ level: 'debug' }, stream), lines };
}
