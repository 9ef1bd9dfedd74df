import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, invalidRequest, type FieldError } from '../../errors.js';
import { checkTargetHost } from '../../delivery/target-host.js';
import { parseTargetUrl } from '../../delivery/target-url.js';
import { validateEventPatterns } from '../../events/patterns.js';
import { validateWebhookFilters, type WebhookFilters } from '../../events/filters.js';
import { checkSecret, generateSecret } from '../../signing/secret.js';
import { SecretBox, SecretUnavailableError } from '../../signing/secret-box.js';
import type { WebhookPatch, WebhookRecord, WebhookScope } from '../../store/types.js';
import type { ApiContext } from '../context.js';
import { sendPing } from '../ping.js';
import { webhookCreateSchema, webhookPatchSchema } from '../schemas.js';
import { parseIdParam, validateInput } from '../validation.js';
import { webhookView } from '../views.js';
import { loadRepository } from './repositories.js';

interface WebhookBody {
  url?: string;
  events?: unknown;
  secret?: string;
  active?: boolean;
  filters?: unknown;
  insecure_ssl?: boolean;
}

const OWNER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Resolves the webhook scope named by the path: a repository id or an owner login. */
export async function resolveScope(context: ApiContext, params: { repoId?: string; owner?: string }): Promise<WebhookScope> {
  if (params.repoId !== undefined) {
    const repo = await loadRepository(context, params.repoId);
    return { kind: 'repo', repoId: repo.id };
  }
  const owner = params.owner ?? '';
  if (!OWNER_PATTERN.test(owner)) {
    throw new ApiError('invalid_request', `Path parameter owner must be an owner login of letters, digits, '.', '_' or '-', got ${JSON.stringify(owner.slice(0, 40))}.`, [
      { field: 'owner', message: 'expected an owner login' },
    ]);
  }
  return { kind: 'owner', owner };
}

/** Loads a webhook of the scope or throws webhook_not_found. */
export async function loadWebhook(context: ApiContext, scope: WebhookScope, rawId: string): Promise<WebhookRecord> {
  const id = parseIdParam(rawId, 'hook_id');
  const hook = await context.store.getWebhook(scope, id);
  if (!hook) {
    const where = scope.kind === 'repo' ? `repository ${scope.repoId}` : `owner ${scope.owner}`;
    throw new ApiError('webhook_not_found', `Webhook ${id} does not exist for ${where}; list webhooks with GET on the webhooks collection.`);
  }
  return hook;
}

/** Validates url, events, secret and filters of a new webhook (`create`) or a change; returns the problems and the checked values. */
async function checkWebhookFields(
  context: ApiContext,
  body: WebhookBody,
  action: 'create' | 'update',
): Promise<{ errors: FieldError[]; blocked: string | null; url?: string; filters?: WebhookFilters | null }> {
  const errors: FieldError[] = [];
  let blocked: string | null = null;
  let url: string | undefined;
  if (body.url !== undefined) {
    const parsed = parseTargetUrl(body.url);
    if (!parsed.ok) {
      errors.push(parsed.error);
    } else {
      url = parsed.value.url.href;
      const decision = await checkTargetHost(parsed.value.url, context.config, context.resolver);
      if (!decision.allowed) blocked = decision.message;
    }
  }
  if (body.events !== undefined) errors.push(...validateEventPatterns(body.events));
  if (body.secret !== undefined) {
    const problem = checkSecret(body.secret);
    const omitted = action === 'create' ? 'omit secret to have one generated' : 'omit secret to keep the current one';
    if (problem) errors.push({ field: 'secret', message: `${problem}; or ${omitted}` });
  }
  let filters: WebhookFilters | null | undefined;
  if (body.filters !== undefined) {
    const result = validateWebhookFilters(body.filters);
    errors.push(...result.errors);
    filters = result.filters;
  }
  return { errors, blocked, url, filters };
}

function throwIfInvalid(check: { errors: FieldError[]; blocked: string | null }): void {
  if (check.errors.length > 0) {
    const patternError = check.errors.find((e) => e.field.startsWith('events'));
    if (patternError && check.errors.every((e) => e.field.startsWith('events'))) {
      throw new ApiError('invalid_event_pattern', `Invalid events. ${patternError.field}: ${patternError.message}`, check.errors);
    }
    const urlError = check.errors.find((e) => e.field === 'url');
    if (urlError && check.errors.length === 1) throw new ApiError('invalid_target_url', `Invalid url: ${urlError.message}`, check.errors);
    throw invalidRequest(check.errors);
  }
  if (check.blocked) throw new ApiError('target_blocked', check.blocked, [{ field: 'url', message: check.blocked }]);
}

function registerFor(app: FastifyInstance, context: ApiContext, prefix: string): void {
  const { store, clock, config, secretBox } = context;
  const bodyLimit = config.maxRequestBodyBytes;
  type Params = { repoId?: string; owner?: string; hookId: string };
  const scopeOf = (request: FastifyRequest) => resolveScope(context, request.params as Params);

  app.post(prefix, { config: { scope: 'write' }, bodyLimit }, async (request, reply) => {
    const scope = await scopeOf(request);
    const body = validateInput<WebhookBody>(webhookCreateSchema, request.body);
    const check = await checkWebhookFields(context, body, 'create');
    throwIfInvalid(check);
    const generated = body.secret === undefined ? generateSecret() : null;
    const now = clock();
    const created = await store.createWebhook(
      {
        scope,
        url: check.url as string,
        events: body.events as string[],
        filters: check.filters ?? null,
        active: body.active ?? true,
        secret: secretBox.seal(generated ?? (body.secret as string)),
        insecureSsl: body.insecure_ssl ?? false,
      },
      now,
      config.maxWebhooksPerTarget,
    );
    if (created === 'limit') {
      throw new ApiError('webhook_limit_reached', `This ${scope.kind === 'repo' ? 'repository' : 'owner'} already has ${config.maxWebhooksPerTarget} webhooks; delete one before adding another.`);
    }
    // The webhook is committed by now: an error here would hide it, and the one-time generated secret, from the client,
    // whose retry would then create a second webhook. A ping that cannot be queued is logged and can be sent again.
    if (created.active) {
      await sendPing(context, request, created).catch((err: unknown) =>
        request.log.warn({ err, webhook_id: created.id }, 'queuing the ping of a new webhook failed; send one with POST .../pings'),
      );
    }
    const view = webhookView(created, now);
    return reply.status(201).send(generated ? { ...view, secret: generated } : view);
  });

  app.get(prefix, { config: { scope: 'read' } }, async (request) => {
    const scope = await scopeOf(request);
    const now = clock();
    const hooks = await store.listWebhooks(scope);
    return { data: hooks.map((hook) => webhookView(hook, now)), next_cursor: null };
  });

  app.get(`${prefix}/:hookId`, { config: { scope: 'read' } }, async (request) => {
    const scope = await scopeOf(request);
    return webhookView(await loadWebhook(context, scope, (request.params as Params).hookId), clock());
  });

  app.patch(`${prefix}/:hookId`, { config: { scope: 'write' }, bodyLimit }, async (request) => {
    const scope = await scopeOf(request);
    const hook = await loadWebhook(context, scope, (request.params as Params).hookId);
    const body = validateInput<WebhookBody>(webhookPatchSchema, request.body);
    const check = await checkWebhookFields(context, body, 'update');
    throwIfInvalid(check);
    const now = clock();
    const patch: WebhookPatch = {
      url: check.url,
      events: body.events as string[] | undefined,
      filters: check.filters,
      active: body.active,
      insecureSsl: body.insecure_ssl,
    };
    // Sending the current secret again, as tools that apply a desired state do, is no rotation: it would replace the
    // previous secret, which receivers may still use during the overlap, with the current one.
    if (body.secret !== undefined && !isCurrentSecret(secretBox, hook.secret, body.secret)) {
      patch.secret = secretBox.seal(body.secret);
      patch.previousSecretExpiresAt = now + config.secretRotationOverlapSeconds * 1000;
    }
    const updated = await store.updateWebhook(scope, hook.id, patch, now);
    if (!updated) throw new ApiError('webhook_not_found', `Webhook ${hook.id} was deleted while it was being updated.`);
    return webhookView(updated, now);
  });

  app.delete(`${prefix}/:hookId`, { config: { scope: 'write', takesNoBody: true } }, async (request, reply) => {
    const scope = await scopeOf(request);
    const hook = await loadWebhook(context, scope, (request.params as Params).hookId);
    await store.deleteWebhook(scope, hook.id, clock());
    return reply.status(204).send();
  });

  app.post(`${prefix}/:hookId/pings`, { config: { scope: 'write', takesNoBody: true } }, async (request, reply) => {
    const scope = await scopeOf(request);
    const hook = await loadWebhook(context, scope, (request.params as Params).hookId);
    if (!hook.active) throw new ApiError('webhook_inactive', `Webhook ${hook.id} is inactive; activate it with PATCH {"active": true} before pinging it.`);
    const deliveryId = await sendPing(context, request, hook);
    return reply.status(202).send({ delivery_id: deliveryId });
  });
}

/** Registers webhook routes for repositories and for owners; both share one implementation. */
export function registerWebhookRoutes(app: FastifyInstance, context: ApiContext): void {
  registerFor(app, context, '/repos/:repoId/webhooks');
  registerFor(app, context, '/owners/:owner/webhooks');
}

/** Tells whether `candidate` is the webhook's current secret; a stored secret this process cannot open counts as another. */
function isCurrentSecret(secretBox: SecretBox, stored: string, candidate: string): boolean {
  try {
    return secretBox.open(stored) === candidate;
  } catch (err) {
    if (err instanceof SecretUnavailableError) return false;
    throw err;
  }
}
