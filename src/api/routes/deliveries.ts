import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import type { DeliveryStatus } from '../../delivery/states.js';
import type { ApiContext } from '../context.js';
import { nextCursor, pageParams } from '../pagination.js';
import { deliveryQuerySchema } from '../schemas.js';
import { validateInput } from '../validation.js';
import { deliveryDetailView, deliverySummaryView } from '../views.js';
import { loadWebhook, resolveScope } from './webhooks.js';

type Params = { repoId?: string; owner?: string; hookId: string; deliveryId?: string };

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function deliveryNotFound(id: string, hookId: number): ApiError {
  return new ApiError('delivery_not_found', `Delivery ${JSON.stringify(id.slice(0, 80))} does not exist for webhook ${hookId}; list deliveries with GET .../deliveries.`);
}

function registerFor(app: FastifyInstance, context: ApiContext, prefix: string): void {
  const { store, clock } = context;
  const loadHook = async (request: FastifyRequest) => {
    const params = request.params as Params;
    return loadWebhook(context, await resolveScope(context, params), params.hookId);
  };

  app.get(`${prefix}/deliveries`, { config: { scope: 'read', readsQuery: true } }, async (request) => {
    const hook = await loadHook(request);
    const query = validateInput<{ status?: DeliveryStatus; event?: string; cursor?: string; limit?: string }>(deliveryQuerySchema, request.query, 'query');
    // The filters are part of the list: a cursor of failed deliveries would page the delivered ones from an unrelated place.
    const list = `deliveries:${hook.id}:${JSON.stringify([query.status ?? null, query.event ?? null])}`;
    const page = await store.listDeliveries({ webhookId: hook.id, status: query.status, event: query.event, ...pageParams(query, list) });
    return { data: page.items.map(deliverySummaryView), next_cursor: nextCursor(list, page.nextCursor) };
  });

  app.get(`${prefix}/deliveries/:deliveryId`, { config: { scope: 'read' } }, async (request) => {
    const hook = await loadHook(request);
    const id = (request.params as Params).deliveryId as string;
    const delivery = UUID_PATTERN.test(id) ? await store.getDelivery(hook.id, id) : null;
    if (!delivery) throw deliveryNotFound(id, hook.id);
    return deliveryDetailView(delivery);
  });

  app.post(`${prefix}/deliveries/:deliveryId/redeliver`, { config: { scope: 'write', takesNoBody: true } }, async (request, reply) => {
    const hook = await loadHook(request);
    const id = (request.params as Params).deliveryId as string;
    // The store looks for the delivery first, so a delivery of another webhook is not found, whatever this webhook's state.
    const result = UUID_PATTERN.test(id) ? await store.requestRedelivery(hook.id, id, clock()) : null;
    if (result === null) throw deliveryNotFound(id, hook.id);
    if (result === 'inactive') {
      throw new ApiError('webhook_inactive', `Webhook ${hook.id} is inactive; activate it with PATCH {"active": true} before redelivering to it.`);
    }
    if (result === 'in_progress') {
      throw new ApiError('delivery_in_progress', `Delivery ${id} has an attempt running or a manual attempt already queued; redeliver it after that attempt ends.`);
    }
    context.wakeWorker();
    return reply.status(202).send(deliverySummaryView(result));
  });
}

export function registerDeliveryRoutes(app: FastifyInstance, context: ApiContext): void {
  registerFor(app, context, '/repos/:repoId/webhooks/:hookId');
  registerFor(app, context, '/owners/:owner/webhooks/:hookId');
}
