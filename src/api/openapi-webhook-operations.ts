/** Operations on webhooks, their deliveries and replays, for repository and owner webhooks alike. */
import { json, noContent, type OperationSpec } from './openapi-operation-spec.js';
import { deliveryQuerySchema, pageQuerySchema } from './schemas.js';

/** Returns the operations under a webhooks collection path, such as /v1/repos/{repo_id}/webhooks. */
export function webhookOperations(prefix: string, kind: 'Repository' | 'Owner'): OperationSpec[] {
  const tag = kind === 'Repository' ? 'Webhooks' : 'Owner webhooks';
  const ownerPhrase = kind === 'Repository' ? "the repository's" : "the owner's";
  const notFound = kind === 'Repository' ? 'repo_not_found or webhook_not_found' : 'webhook_not_found';
  const item = `${prefix}/{hook_id}`;
  return [
    {
      method: 'post',
      path: prefix,
      operationId: `create${kind}Webhook`,
      tag,
      summary: 'Create a webhook',
      description: [
        'Creates a webhook. Without a `secret` the server generates one and returns it once. A webhook created active receives a `ping` at once.',
        ...(kind === 'Owner' ? ['An owner webhook receives the events of every repository of the owner, including repo.created of new ones.'] : []),
      ].join(' '),
      scope: 'write',
      body: 'WebhookCreate',
      responses: { '201': { description: 'The webhook was created.', content: json('WebhookCreated') } },
      errors: [400, 404, 413, 415, 422],
    },
    {
      method: 'get',
      path: prefix,
      operationId: `list${kind}Webhooks`,
      tag,
      summary: 'List webhooks',
      description: `Lists ${ownerPhrase} webhooks in one page.`,
      scope: 'read',
      responses: { '200': { description: 'The webhooks.', content: json('WebhookPage') } },
      errors: [400, 404],
    },
    {
      method: 'get',
      path: item,
      operationId: `get${kind}Webhook`,
      tag,
      summary: 'Get a webhook',
      description: `Shows a webhook, its status and its last delivery; 404 with ${notFound} when it does not exist.`,
      scope: 'read',
      responses: { '200': { description: 'The webhook.', content: json('Webhook') } },
      errors: [400, 404],
    },
    {
      method: 'patch',
      path: item,
      operationId: `update${kind}Webhook`,
      tag,
      summary: 'Update a webhook',
      description:
        'Changes the given fields. A new `secret` rotates it: the previous one keeps signing `webhook-signature` for the configured overlap. ' +
        '`{"active": true}` reactivates a webhook and clears `disabled_reason`; `{"filters": null}` removes its filters.',
      scope: 'write',
      body: 'WebhookUpdate',
      responses: { '200': { description: 'The updated webhook.', content: json('Webhook') } },
      errors: [400, 404, 413, 415, 422],
    },
    {
      method: 'delete',
      path: item,
      operationId: `delete${kind}Webhook`,
      tag,
      summary: 'Delete a webhook',
      description: 'Deletes the webhook and cancels its waiting deliveries.',
      scope: 'write',
      responses: { '204': noContent('The webhook was deleted.') },
      errors: [400, 404],
    },
    {
      method: 'post',
      path: `${item}/pings`,
      operationId: `ping${kind}Webhook`,
      tag,
      summary: 'Send a ping',
      description: 'Queues a `ping` delivery to the webhook at once; 422 with webhook_inactive when the webhook is inactive.',
      scope: 'write',
      responses: { '202': { description: 'The ping delivery was queued.', content: json('PingAccepted') } },
      errors: [400, 404, 422],
    },
    ...deliveryOperations(item, kind),
    ...replayOperations(item, kind),
  ];
}

/** Delivery log and redelivery of one webhook. */
function deliveryOperations(item: string, kind: 'Repository' | 'Owner'): OperationSpec[] {
  const ownerPhrase = kind === 'Repository' ? "the repository's" : "the owner's";
  return [
    {
      method: 'get',
      path: `${item}/deliveries`,
      operationId: `list${kind}WebhookDeliveries`,
      tag: 'Deliveries',
      summary: 'List deliveries',
      description: `Lists the deliveries of one of ${ownerPhrase} webhooks, newest first, with cursor pagination.`,
      scope: 'read',
      query: deliveryQuerySchema,
      responses: { '200': { description: 'One page of deliveries.', content: json('DeliveryPage') } },
      errors: [400, 404],
    },
    {
      method: 'get',
      path: `${item}/deliveries/{delivery_id}`,
      operationId: `get${kind}WebhookDelivery`,
      tag: 'Deliveries',
      summary: 'Get a delivery',
      description: 'Shows the request headers and body and every attempt with its response; response bodies are cut at the configured limit.',
      scope: 'read',
      responses: { '200': { description: 'The delivery and its attempts.', content: json('DeliveryDetail') } },
      errors: [400, 404],
    },
    {
      method: 'post',
      path: `${item}/deliveries/{delivery_id}/redeliver`,
      operationId: `redeliver${kind}WebhookDelivery`,
      tag: 'Deliveries',
      summary: 'Redeliver',
      description:
        'Adds one attempt now, with the same delivery id and body bytes; it schedules no further retries. ' +
        '409 when an attempt of the delivery is already queued or running; 422 with webhook_inactive when the webhook is inactive.',
      scope: 'write',
      responses: { '202': { description: 'The attempt was queued.', content: json('DeliverySummary') } },
      errors: [400, 404, 409, 422],
    },
  ];
}

/** Bulk redelivery of a webhook's deliveries created in a time range. */
function replayOperations(hookPath: string, kind: 'Repository' | 'Owner'): OperationSpec[] {
  return [
    {
      method: 'post',
      path: `${hookPath}/replays`,
      operationId: `create${kind}WebhookReplay`,
      tag: 'Deliveries',
      summary: 'Replay deliveries',
      description:
        'Queues one manual attempt for each delivery of the webhook created between `since` and `until` (default: now); ' +
        'by default only failed and cancelled deliveries, with `status: "all"` every delivery. Each keeps its delivery id and body bytes. ' +
        '422 with webhook_inactive when the webhook is inactive.',
      scope: 'write',
      body: 'ReplayCreate',
      responses: { '202': { description: 'The replay was queued.', content: json('Replay') } },
      errors: [400, 404, 413, 415, 422],
    },
    {
      method: 'get',
      path: `${hookPath}/replays`,
      operationId: `list${kind}WebhookReplays`,
      tag: 'Deliveries',
      summary: 'List replays',
      description: 'Newest first, a page at a time: pass `next_cursor` as `cursor` for the next page.',
      scope: 'read',
      query: pageQuerySchema,
      responses: { '200': { description: "The webhook's replays with their progress.", content: json('ReplayPage') } },
      errors: [400, 404],
    },
    {
      method: 'get',
      path: `${hookPath}/replays/{replay_id}`,
      operationId: `get${kind}WebhookReplay`,
      tag: 'Deliveries',
      summary: 'Get a replay',
      description: 'Shows how many of the replayed deliveries have had their attempt.',
      scope: 'read',
      responses: { '200': { description: 'The replay.', content: json('Replay') } },
      errors: [400, 404],
    },
  ];
}
