import { signatureHeaders, type SigningKey } from '../signing/sign.js';
import { USER_AGENT } from '../version.js';
import type { ClaimedDelivery } from '../store/types.js';

/** Builds the headers of one attempt; the signatures cover the stored body bytes as they are sent. */
export function buildRequestHeaders(delivery: ClaimedDelivery, keys: SigningKey[], timestampSeconds: number): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-dits-event': delivery.event,
    'x-dits-delivery': delivery.id,
    'x-dits-hook-id': String(delivery.webhookId),
    ...signatureHeaders(keys, delivery.id, timestampSeconds, delivery.body),
  };
}
