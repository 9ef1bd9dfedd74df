import { createHmac, timingSafeEqual } from 'node:crypto';
import { standardWebhooksKey } from './secret.js';

/**
 * Receiver helpers: verify a Dits Webhooks request in a handler. Pass the raw
 * request body bytes, never a re-serialised object.
 */

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Checks an `X-Hub-Signature-256` header value against the raw body and the
 * secret. For an array value (node:http types allow one), the first entry is checked.
 */
export function verifyHubSignature(secret: string, body: Buffer | string, header: string | string[] | undefined | null): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || !value.startsWith('sha256=')) return false;
  const expected = 'sha256=' + createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex');
  return safeEqual(expected, value.trim().toLowerCase());
}

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/**
 * Request headers: a plain object as node:http gives it, whose keys may have
 * any letter case, or a fetch `Headers` object (anything with `get(name)`).
 */
export type WebhookHeaders = { get(name: string): string | null | undefined } | Record<string, string | string[] | undefined>;

/** Returns the first value of the header `name` (lower case), or undefined when it is absent. */
function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') return headers.get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.hasOwn(record, name) ? name : Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`) and throws WebhookVerificationError when one is
 * missing, they do not match, or the timestamp is more than
 * `toleranceSeconds` away from now.
 */
export function verifyStandardWebhook(
  secret: string,
  body: Buffer | string,
  headers: WebhookHeaders,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): void {
  const id = headerValue(headers, 'webhook-id');
  const timestamp = headerValue(headers, 'webhook-timestamp');
  const signatures = headerValue(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    const missing = Object.entries({ 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures }).filter(([, value]) => !value);
    const names = missing.map(([name]) => name).join(', ');
    throw new WebhookVerificationError(
      `missing ${names} header${missing.length === 1 ? '' : 's'}; pass the request headers unchanged (req.headers in node:http, request.headers in fetch handlers)`,
    );
  }
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError(`invalid webhook-timestamp ${JSON.stringify(timestamp)}`);
  const tolerance = options.toleranceSeconds ?? 300;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > tolerance) throw new WebhookVerificationError('webhook-timestamp is outside the tolerance window');
  const mac = createHmac('sha256', standardWebhooksKey(secret));
  mac.update(`${id}.${timestamp}.`);
  mac.update(body);
  const expected = mac.digest('base64');
  for (const entry of signatures.split(' ')) {
    const [version, signature] = entry.split(',', 2);
    if (version === 'v1' && signature && safeEqual(signature, expected)) return;
  }
  throw new WebhookVerificationError('no webhook-signature entry matches the body');
}
