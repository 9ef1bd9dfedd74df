import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Prefix of a sealed secret; the rest is base64url of IV, ciphertext and GCM tag. */
const SEALED_PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Raised when a stored secret is sealed but the configured key cannot open it. */
export class SecretUnavailableError extends Error {
  readonly code = 'secret_unavailable';

  constructor(message: string) {
    super(message);
    this.name = 'SecretUnavailableError';
  }
}

/**
 * Encrypts webhook secrets at rest with AES-256-GCM when a key is configured.
 * Without a key, secrets are stored as they are. A sealed secret that cannot
 * be opened (no key, or another key) raises SecretUnavailableError, so the
 * worker fails that attempt instead of sending it unsigned.
 */
export class SecretBox {
  private readonly key: Buffer | null;

  constructor(encodedKey: string) {
    this.key = encodedKey ? parseEncryptionKey(encodedKey) : null;
  }

  get enabled(): boolean {
    return this.key !== null;
  }

  seal(secret: string): string {
    if (!this.key) return secret;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
  }

  open(stored: string): string {
    if (!isSealed(stored)) return stored;
    if (!this.key) {
      throw new SecretUnavailableError(
        'the webhook secret is encrypted but DITS_WEBHOOKS_ENCRYPTION_KEY is not set; start the service with the key the secret was encrypted with',
      );
    }
    const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), 'base64url');
    try {
      const iv = raw.subarray(0, IV_BYTES);
      const tag = raw.subarray(raw.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnavailableError(
        'the webhook secret cannot be decrypted with the configured DITS_WEBHOOKS_ENCRYPTION_KEY (another key sealed it, or the stored value is damaged); set the key it was encrypted with, or PATCH the webhook with a new secret',
      );
    }
  }
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(SEALED_PREFIX);
}

/** Accepts 64 hex characters or base64 of exactly 32 bytes. */
export function parseEncryptionKey(encoded: string): Buffer {
  const text = encoded.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const decoded = Buffer.from(text, 'base64');
  if (decoded.length === 32 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return decoded;
  throw new Error('the encryption key must be 32 bytes written as 64 hex characters or as base64; generate one with `openssl rand -hex 32`');
}
