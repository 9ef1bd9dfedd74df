import type { FastifyRequest } from 'fastify';

/**
 * Counts the lines of a request header as the client sent them. Node keeps
 * only the first Authorization and joins repeated Idempotency-Key lines with
 * commas, so the parsed headers cannot tell that a header came twice.
 */
export function countHeaderLines(request: FastifyRequest, name: string): number {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === name.length && raw[i].toLowerCase() === name) count++;
  }
  return count;
}
