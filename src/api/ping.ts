import { uuidv7 } from '../events/ids.js';
import type { FastifyRequest } from 'fastify';
import { redactUrl } from '../delivery/target-url.js';
import { repositoryPayload } from '../events/payload.js';
import type { WebhookRecord } from '../store/types.js';
import type { ApiContext } from './context.js';
import { tokenSender } from './emit.js';

/** Short sayings sent in the `zen` field of a ping, as GitHub does. */
const ZEN = [
  'Small commits travel light.',
  'A lock held is a promise kept.',
  'Deliver once, verify always.',
  'Signed bytes do not change in transit.',
];

/** Queues a `ping` delivery to one webhook and wakes the worker; returns the delivery id. */
export async function sendPing(context: ApiContext, request: FastifyRequest, hook: WebhookRecord): Promise<string> {
  const now = context.clock();
  const id = uuidv7();
  const scope = hook.scope;
  const repo = scope.kind === 'repo' ? await context.store.getRepository(scope.repoId) : null;
  const body: Record<string, unknown> = {
    event: 'ping',
    delivery_id: id,
    timestamp: new Date(now).toISOString(),
    ...(repo ? { repository: repositoryPayload(repo) } : { owner: { login: scope.kind === 'owner' ? scope.owner : '' } }),
    sender: tokenSender(request),
    zen: ZEN[Math.floor(Math.random() * ZEN.length)],
    hook_id: hook.id,
    hook: {
      id: hook.id,
      type: scope.kind === 'repo' ? 'repository' : 'owner',
      url: redactUrl(hook.url),
      events: hook.events,
      active: hook.active,
      created_at: new Date(hook.createdAt).toISOString(),
    },
  };
  await context.store.createDirectDelivery(
    { webhookId: hook.id, event: 'ping', planned: { id, webhookId: hook.id, body: Buffer.from(JSON.stringify(body), 'utf8') } },
    now,
  );
  context.wakeWorker();
  return id;
}
