import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import type { ReplayRecord } from '../../store/types.js';
import type { ApiContext } from '../context.js';
import { parseIdParam, validateInput } from '../validation.js';
import { nextCursor, pageParams } from '../pagination.js';
import { pageQuerySchema } from '../schemas.js';
import { loadWebhook, resolveScope } from './webhooks.js';

type Params = { repoId?: string; owner?: string; hookId: string; replayId?: string };

export const replayCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['since'],
  properties: {
    since: { type: 'string', format: 'date-time', description: 'an RFC 3339 time such as 2026-01-02T03:04:05Z; deliveries created at or after it are replayed' },
    until: { type: 'string', format: 'date-time', description: 'an RFC 3339 time; deliveries created before it are replayed (default: now)' },
    status: { enum: ['failed', 'all'], description: 'failed (failed and cancelled deliveries, the default) or all' },
  },
} as const;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

function parseTime(value: string | undefined, field: string): number | null {
  if (value === undefined) return null;
  const at = Date.parse(value);
  if (!RFC3339.test(value) || Number.isNaN(at)) {
    const leap = /T\d{2}:\d{2}:60/.test(value) ? ' Leap seconds (:60) are not supported; use :59.' : '';
    throw new ApiError('invalid_request', `Field ${field} must be an RFC 3339 time such as 2026-01-02T03:04:05Z, got ${JSON.stringify(value.slice(0, 40))}.${leap}`, [
      { field, message: 'expected an RFC 3339 date-time' },
    ]);
  }
  // Deliveries carry whole milliseconds, so a bound with a finer fraction rounds up: the range [since, until) then
  // contains exactly the deliveries created within it.
  const finer = /\.\d{3}(\d+)/.exec(value);
  return finer && /[1-9]/.test(finer[1]) ? at + 1 : at;
}

export function replayView(replay: ReplayRecord): Record<string, unknown> {
  return {
    id: replay.id,
    webhook_id: replay.webhookId,
    since: new Date(replay.since).toISOString(),
    until: replay.until === null ? null : new Date(replay.until).toISOString(),
    status_filter: replay.onlyFailed ? 'failed' : 'all',
    total: replay.total,
    skipped: replay.skipped,
    completed: replay.completed,
    cancelled: replay.cancelled,
    state: replay.completed + replay.cancelled >= replay.total ? 'completed' : 'running',
    created_at: new Date(replay.createdAt).toISOString(),
  };
}

function registerFor(app: FastifyInstance, context: ApiContext, prefix: string): void {
  const { store, clock } = context;
  const loadHook = async (request: FastifyRequest) => {
    const params = request.params as Params;
    return loadWebhook(context, await resolveScope(context, params), params.hookId);
  };

  app.post(`${prefix}/replays`, { config: { scope: 'write' }, bodyLimit: context.config.maxRequestBodyBytes }, async (request, reply) => {
    const hook = await loadHook(request);
    const inactive = new ApiError('webhook_inactive', `Webhook ${hook.id} is inactive; activate it with PATCH {"active": true} before replaying its deliveries.`);
    if (!hook.active) throw inactive;
    const body = validateInput<{ since: string; until?: string; status?: 'failed' | 'all' }>(replayCreateSchema, request.body);
    const now = clock();
    const since = parseTime(body.since, 'since') as number;
    const until = parseTime(body.until, 'until') ?? now;
    if (until <= since && body.until === undefined) {
      throw new ApiError('invalid_request', 'Field since is in the future; give a time before now.', [{ field: 'since', message: 'expected a time before now' }]);
    }
    if (until <= since) {
      // Times are kept to the millisecond, so bounds within one millisecond make an empty range too.
      throw new ApiError('invalid_request', 'Field until must be at least 1 ms later than since; times count to the millisecond.', [
        { field: 'until', message: 'expected a time at least 1 ms after since' },
      ]);
    }
    const replay = await store.createReplay({ webhookId: hook.id, since, until, onlyFailed: (body.status ?? 'failed') === 'failed' }, now);
    if (replay === 'inactive') throw inactive;
    context.wakeWorker();
    return reply.status(202).send(replayView(replay));
  });

  app.get(`${prefix}/replays`, { config: { scope: 'read', readsQuery: true } }, async (request) => {
    const hook = await loadHook(request);
    const query = validateInput<{ cursor?: string; limit?: string }>(pageQuerySchema, request.query, 'query');
    const list = `replays:${hook.id}`;
    const page = await store.listReplays(hook.id, pageParams(query, list));
    return { data: page.items.map(replayView), next_cursor: nextCursor(list, page.nextCursor) };
  });

  app.get(`${prefix}/replays/:replayId`, { config: { scope: 'read' } }, async (request) => {
    const hook = await loadHook(request);
    const id = parseIdParam((request.params as Params).replayId as string, 'replay_id');
    const replay = await store.getReplay(hook.id, id);
    if (!replay) throw new ApiError('replay_not_found', `Replay ${id} does not exist for webhook ${hook.id}; list replays with GET .../replays.`);
    return replayView(replay);
  });
}

export function registerReplayRoutes(app: FastifyInstance, context: ApiContext): void {
  registerFor(app, context, '/repos/:repoId/webhooks/:hookId');
  registerFor(app, context, '/owners/:owner/webhooks/:hookId');
}
