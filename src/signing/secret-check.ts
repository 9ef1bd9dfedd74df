import type { Logger } from 'pino';
import type { Store } from '../store/types.js';
import { isSealed, SecretUnavailableError, type SecretBox } from './secret-box.js';

export interface SecretCheck {
  sealed: number;
  unavailable: number;
  /** Reason the first failed secret cannot be opened, or null. */
  reason: string | null;
}

/** Tries to open the sealed secret of every webhook not deleted with the configured key, and counts the ones that fail. */
export async function checkStoredSecrets(store: Store, secretBox: SecretBox): Promise<SecretCheck> {
  const check: SecretCheck = { sealed: 0, unavailable: 0, reason: null };
  for (const row of await store.listWebhookSecrets()) {
    if (row.deleted || !isSealed(row.secret)) continue;
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
      `${check.unavailable} of ${check.sealed} encrypted webhook secrets cannot be opened; their deliveries wait unsent until the service runs with the key that encrypted them or the webhooks get new secrets`,
    );
  } catch (err) {
    logger.error({ err }, 'checking the stored webhook secrets failed');
  }
}

/** Time a readiness result about the stored secrets is reused, in ms, because probes may come every second. */
const READINESS_RECHECK_MS = 30_000;

/**
 * Tells the readiness probe when no stored secret of a live webhook opens
 * with the configured key, a sign of a wrong or missing key: every delivery
 * would fail. Some unreadable secrets among readable ones only log an error.
 */
export class SecretReadiness {
  private checked: { at: number; reason: string | null } | null = null;

  constructor(
    private readonly store: Store,
    private readonly secretBox: SecretBox,
  ) {}

  /** Returns the reason the service is not ready, or null. */
  async notReadyReason(now: number): Promise<string | null> {
    if (this.checked && now - this.checked.at < READINESS_RECHECK_MS) return this.checked.reason;
    const check = await checkStoredSecrets(this.store, this.secretBox);
    const reason =
      check.sealed > 0 && check.unavailable === check.sealed
        ? `${this.secretBox.enabled ? `none of the ${check.sealed} encrypted webhook secrets opens with the configured encryption key` : `the ${check.sealed} webhook secrets are encrypted and no encryption key is set`}, so every delivery would fail: ${check.reason}`
        : null;
    this.checked = { at: now, reason };
    return reason;
  }
}
