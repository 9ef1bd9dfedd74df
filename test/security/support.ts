/**
 * Helpers of the security tests: a pino logger whose output the test reads,
 * and the encodings under which a leaked secret could hide in an output.
 */
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger.js';
import { WHSEC_PREFIX } from '../../src/signing/secret.js';

/** A logger built like the service's own (same redaction rules) that keeps every JSON line in memory. */
export interface CapturedLogs {
  logger: Logger;
  /** Everything logged so far, one JSON object per line. */
  text(): string;
  lines(): Record<string, unknown>[];
}

export function captureLogs(level: 'debug' | 'info' | 'trace' = 'debug'): CapturedLogs {
  const chunks: string[] = [];
  const logger = createLogger(level, { write: (chunk: string) => void chunks.push(chunk) });
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/**
 * Returns the base64 text that every encoding of `bytes` contains, at each of
 * the three alignments the bytes can have inside a longer encoded blob. The
 * 4-character groups that mix in neighbouring bytes are left out.
 */
function base64Cores(bytes: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  const cores: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString(alphabet);
    const fullGroups = Math.floor((shift + bytes.length) / 3);
    cores.push(encoded.slice(shift === 0 ? 0 : 4, fullGroups * 4));
  }
  return cores;
}

/** One way a secret could be written down, with a name for failure messages. */
export interface SecretForm {
  name: string;
  text: string;
}

/**
 * Lists the forms of a secret to search for: the plain text, lowercase and
 * uppercase hex and base64 and base64url of its UTF-8 bytes, and for a
 * `whsec_` secret the same encodings of the key bytes it stands for.
 */
export function secretForms(secret: string): SecretForm[] {
  const sources: [string, Buffer][] = [['utf8', Buffer.from(secret, 'utf8')]];
  if (secret.startsWith(WHSEC_PREFIX)) sources.push(['key bytes', Buffer.from(secret.slice(WHSEC_PREFIX.length), 'base64')]);
  const forms: SecretForm[] = [{ name: 'plain', text: secret }];
  for (const [label, bytes] of sources) {
    forms.push({ name: `hex of ${label}`, text: bytes.toString('hex') });
    forms.push({ name: `upper-case hex of ${label}`, text: bytes.toString('hex').toUpperCase() });
    base64Cores(bytes, 'base64').forEach((text, shift) => forms.push({ name: `base64 of ${label} (shift ${shift})`, text }));
    base64Cores(bytes, 'base64url').forEach((text, shift) => forms.push({ name: `base64url of ${label} (shift ${shift})`, text }));
  }
  return forms;
}

/** Returns the name of the first form found in `haystack`, or null when none is there. */
export function findSecret(haystack: string | Buffer, forms: readonly SecretForm[]): string | null {
  for (const form of forms) {
    const found = typeof haystack === 'string' ? haystack.includes(form.text) : haystack.includes(Buffer.from(form.text, 'utf8'));
    if (found) return form.name;
  }
  return null;
}

/** Replaces each `:name` segment of a route URL with `values[name]`; throws for a parameter without a value. */
export function fillRoute(url: string, values: Record<string, string | number>): string {
  return url.replace(/:([A-Za-z]+)/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no test value for route parameter :${name} in ${url}; add one to the table`);
    return encodeURIComponent(String(value));
  });
}
