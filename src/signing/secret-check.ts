import type { Logger } from 'pino';
import type { Store } from '../store/types.js';
import { isSealed, SecretUnavailableError, type SecretBox } from './secret-box.js';

export interface SecretCheck {
  sealed: number;
  unavailable: number;
  /** Why the first secret that failed cannot be opened, or null. */
  reason: string | null;
}

/** Tries to open every sealed webhook secret with the configured key and counts the ones that fail. */
export async function checkStoredSecrets(store: Store, secretBox: SecretBox): Promise<SecretCheck> {
  const check: SecretCheck = { sealed: 0, unavailable: 0, reason: null };
  for (const row of await store.listWebhookSecrets()) {
    if (!isSealed(row.secret)) continue;
    check.sealed++;
    try {
      secretBox.open(row.secret);
    } catch (err) {
      if (!(err instanceof SecretUnavailableError)) throw err;
      check.unavailable++;
      check.reason ??= err.message;
    }
  }
  return check;
}

/**
 * Logs at start when stored secrets cannot be opened, so that a wrong or
 * missing key shows up before the first delivery fails. The service still
 * starts: other webhooks may be fine, and a webhook can be given a new secret.
 */
export async function warnAboutUnavailableSecrets(store: Store, secretBox: SecretBox, logger: Logger): Promise<void> {
  try {
    const check = await checkStoredSecrets(store, secretBox);
    if (check.unavailable === 0) return;
    logger.error(
      { sealed: check.sealed, unavailable: check.unavailable, reason: check.reason },
      `${check.unavailable} of ${check.sealed} encrypted webhook secrets cannot be opened; their deliveries fail with secret_unavailable until the service runs with the key that encrypted them`,
    );
  } catch (err) {
    logger.error({ err }, 'checking the stored webhook secrets failed');
  }
}
