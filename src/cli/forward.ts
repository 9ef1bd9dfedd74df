/**
 * Forwarding of `listen`: re-sends a received delivery, byte for byte, to a
 * local handler. Targets are loopback only unless the user allows remote
 * ones, because a forward sends bodies and valid signatures onward.
 */
import { isIP } from 'node:net';
import { request } from 'undici';
import { UsageError } from './errors.js';
import type { RequestHeaders } from './signature-check.js';

/** Headers copied to the forward target: content type, user agent, the X-Dits-* family and both signature schemes. */
const FORWARDED_HEADERS = ['content-type', 'user-agent', 'x-hub-signature-256', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];

/** Same limit as the service's delivery timeout, so a slow handler shows up the way it would in production. */
const FORWARD_TIMEOUT_MS = 10_000;

/**
 * Reports whether a URL host name is a loopback address: `localhost` (also
 * with the root's trailing dot), 127.0.0.0/8 or ::1, also IPv4-mapped, which
 * the URL parser writes in hexadecimal (`::ffff:7f00:1`).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/(?<=[a-z])\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(host);
  if (mappedHex) return parseInt(mappedHex[1], 16) >> 8 === 127;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  const address = mapped ? mapped[1] : host;
  if (isIP(address) === 4) return address.startsWith('127.');
  if (isIP(address) === 6) return /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(address);
  return false;
}

/** Parses `--forward`; throws UsageError for a non-http URL, or a non-loopback host without `allowRemote`. */
export function parseForwardTarget(value: string, allowRemote: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--forward must be an absolute http or https URL such as http://127.0.0.1:3000/webhook, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--forward must use http or https, got ${url.protocol.replace(/:$/, '')}`);
  }
  if (!allowRemote && !isLoopbackHost(url.hostname)) {
    throw new UsageError(
      `--forward ${url.host} is not a loopback address; forwarding passes on request bodies with valid signatures, so pass --allow-remote-forward to send them there`,
    );
  }
  return url;
}

/** Picks the headers that a forward carries. */
export function forwardedHeaders(headers: RequestHeaders): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (FORWARDED_HEADERS.includes(name) || name.startsWith('x-dits-')) picked[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return picked;
}

export type ForwardOutcome = { status: number } | { error: string };

/** POSTs the body bytes with the picked headers; returns the status or a short error, never throws. */
export async function forwardRequest(target: URL, body: Buffer, headers: RequestHeaders): Promise<ForwardOutcome> {
  try {
    const response = await request(target, {
      method: 'POST',
      headers: forwardedHeaders(headers),
      body,
      headersTimeout: FORWARD_TIMEOUT_MS,
      bodyTimeout: FORWARD_TIMEOUT_MS,
    });
    await response.body.dump();
    return { status: response.statusCode };
  } catch (error) {
    const code = (error as { code?: string }).code;
    return { error: code === 'ECONNREFUSED' ? 'connection refused' : `${(error as Error).message}${code ? ` (${code})` : ''}` };
  }
}
