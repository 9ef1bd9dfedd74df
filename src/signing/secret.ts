import { randomBytes } from 'node:crypto';

/** Prefix of Standard Webhooks secrets; the rest is base64 of the key bytes. */
export const WHSEC_PREFIX = 'whsec_';

/** Generates a secret of the form `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return WHSEC_PREFIX + randomBytes(32).toString('base64');
}

/** Tells whether `encoded` is padded standard base64 of at least one byte, as Standard Webhooks libraries expect after `whsec_`. */
function isBase64(encoded: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) && encoded.length % 4 === 0;
}

/**
 * Returns the HMAC key for the Standard Webhooks signature: the decoded base64
 * part of a `whsec_` secret, otherwise the secret's UTF-8 bytes. The API
 * rejects a new `whsec_` secret whose remainder is not base64; one stored
 * before that check falls back to its UTF-8 bytes.
 */
export function standardWebhooksKey(secret: string): Buffer {
  if (secret.startsWith(WHSEC_PREFIX)) {
    const encoded = secret.slice(WHSEC_PREFIX.length);
    if (isBase64(encoded)) return Buffer.from(encoded, 'base64');
  }
  return Buffer.from(secret, 'utf8');
}

/** Length limits of a webhook secret, in Unicode code points. */
export const SECRET_MIN_LENGTH = 16;
export const SECRET_MAX_LENGTH = 256;

/** Validates a user-supplied secret; returns a message when it is unusable. */
export function checkSecret(secret: unknown, min = SECRET_MIN_LENGTH, max = SECRET_MAX_LENGTH): string | null {
  if (typeof secret !== 'string') return `expected a string of ${min} to ${max} characters, got ${typeof secret}`;
  const length = [...secret].length;
  if (length < min || length > max) return `must be ${min} to ${max} characters long, got ${length}`;
  // Control characters cannot be typed into most receivers' configuration and usually mean a copy-paste error.
  if (/[\u0000-\u001f\u007f]/.test(secret)) return 'must not contain control characters or line breaks';
  if (!/\S/u.test(secret)) return 'must contain a character other than white space';
  if (secret.startsWith(WHSEC_PREFIX) && !isBase64(secret.slice(WHSEC_PREFIX.length))) {
    return 'starts with whsec_, after which Standard Webhooks libraries expect padded base64 of the key bytes; send whsec_ followed by base64, or a secret without the whsec_ prefix';
  }
  return null;
}
