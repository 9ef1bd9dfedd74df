import { createHmac } from 'node:crypto';
import { standardWebhooksKey } from './secret.js';

/** A secret prepared for signing: the raw string for the GitHub-style header and the Standard Webhooks key. */
export interface SigningKey {
  hubKey: Buffer;
  standardKey: Buffer;
}

export function prepareSigningKey(secret: string): SigningKey {
  return { hubKey: Buffer.from(secret, 'utf8'), standardKey: standardWebhooksKey(secret) };
}

/** Computes `X-Hub-Signature-256`: `sha256=` + lowercase hex HMAC-SHA256 of the raw body. */
export function hubSignature(key: SigningKey, body: Buffer | string): string {
  return 'sha256=' + createHmac('sha256', key.hubKey).update(body).digest('hex');
}

/** Computes one Standard Webhooks v1 signature over `${id}.${timestamp}.${body}`. */
export function standardSignature(key: SigningKey, messageId: string, timestampSeconds: number, body: Buffer | string): string {
  const mac = createHmac('sha256', key.standardKey);
  mac.update(`${messageId}.${timestampSeconds}.`);
  mac.update(body);
  return 'v1,' + mac.digest('base64');
}

/**
 * Builds the signature headers of one attempt. During a secret rotation
 * `webhook-signature` carries the signature of every key given (current
 * first), while `X-Hub-Signature-256` uses only the current key.
 */
export function signatureHeaders(
  keys: readonly SigningKey[],
  messageId: string,
  timestampSeconds: number,
  body: Buffer,
): { 'x-hub-signature-256': string; 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string } {
  const standard = keys.map((key) => standardSignature(key, messageId, timestampSeconds, body)).join(' ');
  return {
    'x-hub-signature-256': hubSignature(keys[0], body),
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': standard,
  };
}
