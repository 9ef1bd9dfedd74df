/**
 * Signature checks of `verify` and `listen` for both schemes a delivery
 * carries: `X-Hub-Signature-256` and the Standard Webhooks headers.
 */
import { verifyHubSignature, verifyStandardWebhook, WebhookVerificationError } from '../signing/verify.js';

export type SignatureCheck = { result: 'ok' } | { result: 'invalid' | 'missing'; reason: string };

/** Headers as node:http gives them: lower-case names. */
export type RequestHeaders = Record<string, string | string[] | undefined>;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Checks `X-Hub-Signature-256` against the raw body. */
export function checkHubSignature(secret: string, body: Buffer, header: string | undefined): SignatureCheck {
  if (header === undefined || header === '') return { result: 'missing', reason: 'no X-Hub-Signature-256 header' };
  if (!/^sha256=[0-9a-fA-F]{64}$/.test(header.trim())) {
    return { result: 'invalid', reason: `X-Hub-Signature-256 must look like sha256=<64 hex digits>, got ${JSON.stringify(header.slice(0, 80))}` };
  }
  if (verifyHubSignature(secret, body, header)) return { result: 'ok' };
  return {
    result: 'invalid',
    reason: 'X-Hub-Signature-256 does not match the body and secret; use the exact body bytes as received (not re-serialised JSON) and the webhook\'s current secret',
  };
}

/**
 * Checks the Standard Webhooks headers against the raw body. A timestamp
 * further than `toleranceSeconds` from now fails; Infinity turns that check off.
 */
export function checkStandardSignature(secret: string, body: Buffer, headers: RequestHeaders, toleranceSeconds: number, nowSeconds?: number): SignatureCheck {
  const present = ['webhook-id', 'webhook-timestamp', 'webhook-signature'].filter((name) => single(headers[name]));
  if (present.length === 0) return { result: 'missing', reason: 'no webhook-id, webhook-timestamp and webhook-signature headers' };
  try {
    verifyStandardWebhook(secret, body, headers, { toleranceSeconds, nowSeconds });
    return { result: 'ok' };
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    return { result: 'invalid', reason: `Standard Webhooks signature: ${error.message}${standardFix(error.message)}` };
  }
}

function standardFix(message: string): string {
  if (message.includes('tolerance')) return '; the request is old or a clock is wrong (verify --tolerance 0 skips the age check for a stored delivery)';
  if (message.includes('no webhook-signature entry')) return '; use the exact body bytes as received and the webhook\'s current secret (whsec_ secrets are used base64-decoded)';
  return '';
}

/** Describes both checks for a log line, such as `hub ok, standard INVALID`. */
export function describeChecks(hub: SignatureCheck, standard: SignatureCheck): string {
  const word = (check: SignatureCheck): string => {
    if (check.result === 'invalid') return 'INVALID';
    return check.result;
  };
  return `hub ${word(hub)}, standard ${word(standard)}`;
}
