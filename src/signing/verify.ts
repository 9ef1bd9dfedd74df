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

/** Checks an `X-Hub-Signature-256` header value against the raw body and the secret. */
export function verifyHubSignature(secret: string, body: Buffer | string, header: string | undefined | null): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = 'sha256=' + createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex');
  return safeEqual(expected, header.trim().toLowerCase());
}

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/**
 * Checks the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`) and throws WebhookVerificationError when they do not
 * match or the timestamp is more than `toleranceSeconds` away from now.
 */
export function verifyStandardWebhook(
  secret: string,
  body: Buffer | string,
  headers: Record<string, string | string[] | undefined>,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): void {
  const get = (name: string): string | undefined => {
    const value = headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = get('webhook-id');
  const timestamp = get('webhook-timestamp');
  const signatures = get('webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
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
