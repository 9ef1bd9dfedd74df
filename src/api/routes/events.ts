import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, invalidRequest } from '../../errors.js';
import { wantsEventStream } from '../accept.js';
import { getEventType, INGESTIBLE_EVENT_NAMES, isEventName, listEventTypes } from '../../events/catalog.js';
import { normalizeEventFields, validateEventFields } from '../../events/normalize.js';
import type { ApiContext } from '../context.js';
import { nextCursor, pageParams } from '../pagination.js';
import { pageQuerySchema } from '../schemas.js';
import { parseIdParam, validateInput } from '../validation.js';
import { eventView } from '../views.js';
import { loadRepository } from './repositories.js';
import { streamEvents } from '../event-stream.js';
import { countHeaderLines } from '../raw-headers.js';

const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

function idempotencyKeyOf(request: FastifyRequest, body: Record<string, unknown>): string | null {
  const header = request.headers['idempotency-key'];
  if (header !== undefined) {
    if (countHeaderLines(request, 'idempotency-key') > 1) {
      throw new ApiError('invalid_request', 'Header Idempotency-Key was sent more than once; send it once per request.', [
        { field: 'Idempotency-Key', message: 'expected one header line, got several' },
      ]);
    }
    if (typeof header !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(header)) {
      throw new ApiError('invalid_request', 'Header Idempotency-Key must be 1 to 255 printable ASCII characters without spaces.', [
        { field: 'Idempotency-Key', message: 'expected 1 to 255 printable ASCII characters' },
      ]);
    }
    return header;
  }
  return typeof body.id === 'string' ? body.id : null;
}

export function registerEventRoutes(app: FastifyInstance, context: ApiContext): void {
  const { config } = context;

  app.post<{ Params: { repoId: string } }>('/repos/:repoId/events', { config: { scope: 'events:write' }, bodyLimit: config.maxEventBodyBytes }, async (request, reply) => {
    const repoId = parseIdParam(request.params.repoId, 'repo_id');
    const body = request.body as Record<string, unknown>;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw invalidRequest([{ field: 'body', message: 'expected a JSON object with an "event" field' }]);
    }
    const { event, ...fields } = body;
    if (typeof event !== 'string' || !isEventName(event)) {
      const got = event === undefined ? 'is required' : `must name an event type, got ${JSON.stringify(event).slice(0, 60)}`;
      throw new ApiError('invalid_request', `Field event ${got}; valid names: ${INGESTIBLE_EVENT_NAMES.join(', ')}.`, [
        { field: 'event', message: 'expected an event type name from GET /v1/event-types whose ingestible is true' },
      ]);
    }
    if (!getEventType(event)?.ingestible) {
      const sentBy = event === 'ping' ? 'when a webhook is created active or pinged' : 'when the repository changes through /v1/repos';
      throw new ApiError('invalid_request', `Field event ${event} is sent by the server only, ${sentBy}; valid names: ${INGESTIBLE_EVENT_NAMES.join(', ')}.`, [
        { field: 'event', message: `${event} is sent by the server only; send an event type whose ingestible is true in GET /v1/event-types` },
      ]);
    }
    const errors = validateEventFields(event, fields);
    if (errors.length > 0) throw invalidRequest(errors);

    const idempotencyKey = idempotencyKeyOf(request, fields);
    const requestHash = idempotencyKey === null ? null : createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const result = await context.ingestor.submit({
      repoId,
      event,
      sender: fields.sender,
      fields: normalizeEventFields(event, fields, { maxCommitsPerPush: config.maxCommitsPerPush }),
      idempotencyKey,
      requestHash,
    });
    if (!result.ok) {
      if (result.code === 'repo_not_found') throw new ApiError('repo_not_found', `Repository ${repoId} does not exist; create it with POST /v1/repos.`);
      throw new ApiError('idempotency_key_reused', `Idempotency key ${JSON.stringify(idempotencyKey)} was used before with a different body; use a new key for a new event.`);
    }
    if (result.replayed) reply.header('idempotent-replayed', 'true');
    return reply.status(202).send({ id: result.eventId, event: result.event, deliveries: result.deliveries, created_at: new Date(result.createdAt).toISOString() });
  });

  app.get<{ Params: { repoId: string } }>('/repos/:repoId/events', { config: { scope: 'read', readsQuery: true } }, async (request, reply) => {
    const repo = await loadRepository(context, request.params.repoId);
    if (wantsEventStream(request.headers.accept)) {
      // Paging does not apply to a stream, and a parameter ignored in silence would hide a client's mistake.
      const names = Object.keys((request.query ?? {}) as Record<string, unknown>);
      if (names.length > 0) {
        throw invalidRequest(names.map((name) => ({
          field: `query.${name}`,
          message: 'is not used by the event stream, which starts after Last-Event-ID or after the newest event; remove it',
        })));
      }
      return streamEvents(context, request, reply, repo.id);
    }
    const query = validateInput<{ cursor?: string; limit?: string }>(pageQuerySchema, request.query, 'query');
    const list = `events:${repo.id}`;
    const page = await context.store.listEvents({ repoId: repo.id, ...pageParams(query, list) });
    return { data: page.items.map(eventView), next_cursor: nextCursor(list, page.nextCursor) };
  });

  app.get('/event-types', { config: { scope: 'read' } }, async () => {
    return { data: listEventTypes().map((t) => ({ name: t.name, description: t.description, schema: t.payloadSchema })) };
  });

  app.get<{ Params: { name: string } }>('/event-types/:name', { config: { scope: 'read' } }, async (request) => {
    const type = getEventType(request.params.name);
    if (!type) throw new ApiError('event_type_not_found', `No event type named ${JSON.stringify(request.params.name.slice(0, 60))}; list them with GET /v1/event-types.`);
    return { name: type.name, description: type.description, schema: type.payloadSchema, ingest_schema: type.ingestSchema };
  });
}
