/** JSON shapes of API responses, built from store records. Secrets never pass through here. */
import { redactUrl } from '../delivery/target-url.js';
import type { AttemptRecord, DeliveryDetail, DeliverySummary, EventRecord, RepositoryRecord, TokenRecord, WebhookRecord } from '../store/types.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function repositoryView(repo: RepositoryRecord): Record<string, unknown> {
  return {
    id: repo.id,
    name: repo.name,
    owner: repo.owner,
    full_name: `${repo.owner}/${repo.name}`,
    private: repo.private,
    description: repo.description,
    default_branch: repo.defaultBranch,
    archived: repo.archived,
    created_at: iso(repo.createdAt),
    updated_at: iso(repo.updatedAt),
  };
}

/** Webhook health as shown to people: deactivated by a person, by the service, or active. */
export function webhookStatus(hook: WebhookRecord): 'active' | 'inactive' | 'disabled' {
  if (hook.active) return 'active';
  return hook.disabledReason ? 'disabled' : 'inactive';
}

export function webhookView(hook: WebhookRecord, now: number): Record<string, unknown> {
  const rotating = hook.previousSecret !== null && hook.previousSecretExpiresAt !== null && hook.previousSecretExpiresAt > now;
  return {
    id: hook.id,
    type: hook.scope.kind === 'repo' ? 'repository' : 'owner',
    ...(hook.scope.kind === 'repo' ? { repository_id: hook.scope.repoId } : { owner: hook.scope.owner }),
    url: redactUrl(hook.url),
    events: hook.events,
    active: hook.active,
    filters: hook.filters,
    insecure_ssl: hook.insecureSsl,
    created_at: iso(hook.createdAt),
    updated_at: iso(hook.updatedAt),
    last_delivery: hook.lastDelivery
      ? {
          id: hook.lastDelivery.id,
          event: hook.lastDelivery.event,
          status: hook.lastDelivery.status,
          status_code: hook.lastDelivery.statusCode,
          at: iso(hook.lastDelivery.at),
        }
      : null,
    status: webhookStatus(hook),
    disabled_reason: hook.disabledReason,
    previous_secret_expires_at: rotating ? iso(hook.previousSecretExpiresAt) : null,
  };
}

export function deliverySummaryView(delivery: DeliverySummary): Record<string, unknown> {
  return {
    id: delivery.id,
    event: delivery.event,
    event_id: delivery.eventId,
    webhook_id: delivery.webhookId,
    status: delivery.status,
    attempt_count: delivery.attempts,
    // Also set for a failed or delivered delivery that waits for a redelivery or a replay.
    next_attempt_at: iso(delivery.nextAttemptAt),
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    updated_at: iso(delivery.updatedAt),
  };
}

/** Shows bytes as UTF-8 text when they decode cleanly, otherwise as base64. */
function bodyView(bytes: Buffer | null): { body: string | null; body_encoding: 'utf8' | 'base64' } {
  if (bytes === null) return { body: null, body_encoding: 'utf8' };
  try {
    return { body: new TextDecoder('utf-8', { fatal: true }).decode(bytes), body_encoding: 'utf8' };
  } catch {
    return { body: bytes.toString('base64'), body_encoding: 'base64' };
  }
}

function attemptView(attempt: AttemptRecord): Record<string, unknown> {
  const response = bodyView(attempt.responseBody);
  return {
    attempt: attempt.attempt,
    trigger: attempt.trigger,
    started_at: iso(attempt.startedAt),
    duration_ms: attempt.durationMs,
    outcome: attempt.outcome,
    request_headers: attempt.requestHeaders,
    status_code: attempt.statusCode,
    response: attempt.statusCode === null
      ? null
      : { headers: attempt.responseHeaders, body: response.body, body_encoding: response.body_encoding, body_truncated: attempt.responseBodyTruncated },
    error: attempt.errorCode ? { code: attempt.errorCode, message: attempt.errorMessage } : null,
  };
}

export function deliveryDetailView(delivery: DeliveryDetail): Record<string, unknown> {
  const last = delivery.attemptsLog[delivery.attemptsLog.length - 1];
  return {
    ...deliverySummaryView(delivery),
    request: { headers: last ? last.requestHeaders : null, body: delivery.body.toString('utf8') },
    attempts: delivery.attemptsLog.map(attemptView),
  };
}

export function eventView(event: EventRecord): Record<string, unknown> {
  return {
    id: event.id,
    event: event.event,
    repository_id: event.repoId,
    deliveries: event.deliveries,
    created_at: iso(event.createdAt),
    payload: JSON.parse(event.payload) as unknown,
  };
}

export function tokenView(token: TokenRecord): Record<string, unknown> {
  return {
    id: token.id,
    name: token.name,
    scopes: token.scopes,
    prefix: token.prefix,
    created_at: iso(token.createdAt),
    last_used_at: iso(token.lastUsedAt),
    revoked_at: iso(token.revokedAt),
  };
}
