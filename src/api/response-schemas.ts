/**
 * JSON Schemas (2020-12, the OpenAPI 3.1 dialect) of the management API's
 * responses, as built by the functions in views.ts. Objects are closed with
 * `additionalProperties: false`, so a field added to a view without being
 * documented here fails the OpenAPI tests.
 */
import { DELIVERY_STATUSES } from '../delivery/states.js';
import { TOKEN_SCOPES } from './tokens.js';

type Schema = Record<string, unknown>;

const dateTime = { type: 'string', format: 'date-time', description: 'an RFC 3339 date-time in UTC' };
const nullableDateTime = { type: ['string', 'null'], format: 'date-time', description: 'an RFC 3339 date-time in UTC, or null' };
const id = { type: 'integer', minimum: 1 };
const uuid = { type: 'string', format: 'uuid' };
const deliveryStatus = { enum: [...DELIVERY_STATUSES] };
const headers = { type: 'object', additionalProperties: { type: 'string' }, description: 'header names in lower case and their values' };

function closedObject(properties: Record<string, unknown>, optional: string[] = [], description?: string): Schema {
  const schema: Schema = { type: 'object', additionalProperties: false };
  if (description) schema.description = description;
  schema.required = Object.keys(properties).filter((key) => !optional.includes(key));
  schema.properties = properties;
  return schema;
}

/** Builds the `{data, next_cursor}` envelope of a list response. */
export function pageOf(itemRef: string): Schema {
  return closedObject({
    data: { type: 'array', items: { $ref: itemRef } },
    next_cursor: { type: ['string', 'null'], description: 'pass as `cursor` to get the next page; null on the last page' },
  });
}

export const repositoryResponseSchema = closedObject(
  {
    id,
    name: { type: 'string' },
    owner: { type: 'string' },
    full_name: { type: 'string', description: 'owner/name' },
    private: { type: 'boolean' },
    description: { type: ['string', 'null'] },
    default_branch: { type: 'string' },
    archived: { type: 'boolean' },
    created_at: dateTime,
    updated_at: dateTime,
  },
  [],
  'A Dits repository.',
);

const globList = { type: 'array', items: { type: 'string' }, minItems: 1 };

export const webhookFiltersSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  description: 'Globs that narrow the events delivered; a filter applies only to events that carry its kind of data. Null means no filters.',
  properties: {
    branches: { ...globList, description: 'branch names without refs/heads/, such as "main" or "release/*"' },
    tags: { ...globList, description: 'tag names without refs/tags/, such as "v*"' },
    paths: {
      type: 'object',
      additionalProperties: false,
      description: 'globs over the files a push added, modified or removed; a push passes when a file matches include (if given) and no exclude glob',
      properties: { include: globList, exclude: globList },
    },
  },
};

export const webhookResponseSchema = closedObject(
  {
    id,
    type: { enum: ['repository', 'owner'] },
    repository_id: { ...id, description: 'present on repository webhooks' },
    owner: { type: 'string', description: 'present on owner webhooks' },
    url: { type: 'string', description: 'the target URL with any credentials redacted' },
    events: { type: 'array', items: { type: 'string' }, description: 'event names and patterns' },
    active: { type: 'boolean' },
    filters: webhookFiltersSchema,
    insecure_ssl: { type: 'boolean' },
    created_at: dateTime,
    updated_at: dateTime,
    last_delivery: {
      oneOf: [
        { type: 'null' },
        closedObject({ id: uuid, event: { type: 'string' }, status: deliveryStatus, status_code: { type: ['integer', 'null'] }, at: nullableDateTime }),
      ],
    },
    status: { enum: ['active', 'inactive', 'disabled'], description: 'disabled means that the service deactivated the webhook, and disabled_reason gives the reason' },
    disabled_reason: {
      enum: ['gone', 'failing', null],
      description: 'gone: the target responded with 410 Gone. failing: deliveries failed without a success for longer than disableAfterFailingDays',
    },
    previous_secret_expires_at: { ...nullableDateTime, description: 'while a rotated secret still signs, when it stops' },
  },
  ['repository_id', 'owner'],
  'A webhook. The secret is never returned, except once in the creation response when the server generated it.',
);

export const webhookCreatedResponseSchema = {
  ...webhookResponseSchema,
  description: 'The new webhook; `secret` is present only when the server generated it, and is never shown again.',
  properties: {
    ...(webhookResponseSchema.properties as Schema),
    secret: { type: 'string', pattern: '^whsec_', description: 'the generated secret: whsec_ followed by base64 of 32 random bytes' },
  },
};

export const deliverySummaryResponseSchema = closedObject(
  {
    id: { ...uuid, description: 'the delivery id, sent as X-Dits-Delivery on every attempt' },
    event: { type: 'string' },
    event_id: { type: ['string', 'null'], description: 'the event that caused the delivery; null for pings' },
    webhook_id: id,
    status: deliveryStatus,
    attempt_count: { type: 'integer', minimum: 0 },
    next_attempt_at: { ...nullableDateTime, description: 'when the next attempt is due: for pending and retrying deliveries, and for any delivery queued for a redelivery or a replay; null otherwise' },
    last_status_code: { type: ['integer', 'null'] },
    last_error: { type: ['string', 'null'] },
    created_at: dateTime,
    updated_at: dateTime,
  },
  [],
  'A delivery: one event sent to one webhook, with one or more attempts.',
);

const attemptSchema = closedObject(
  {
    attempt: { type: 'integer', minimum: 1 },
    trigger: { enum: ['scheduled', 'manual'] },
    started_at: dateTime,
    duration_ms: { type: 'number', minimum: 0 },
    outcome: deliveryStatus,
    request_headers: headers,
    status_code: { type: ['integer', 'null'] },
    response: {
      oneOf: [
        { type: 'null' },
        closedObject({
          headers,
          body: { type: ['string', 'null'] },
          body_encoding: { enum: ['utf8', 'base64'] },
          body_truncated: { type: 'boolean', description: 'true when only part of the body was kept: it was cut at the configured limit, or the receiver closed the connection or stopped sending before its end' },
        }),
      ],
    },
    error: { oneOf: [{ type: 'null' }, closedObject({ code: { type: 'string' }, message: { type: ['string', 'null'] } })] },
  },
  [],
  'One attempt of a delivery.',
);

export const deliveryDetailResponseSchema = {
  ...deliverySummaryResponseSchema,
  description: 'A delivery with its request and every attempt.',
  required: [...(deliverySummaryResponseSchema.required as string[]), 'request', 'attempts'],
  properties: {
    ...(deliverySummaryResponseSchema.properties as Schema),
    request: closedObject({
      headers: { oneOf: [{ type: 'null' }, headers], description: 'headers of the latest attempt; null before the first' },
      body: { type: 'string', description: 'the exact body sent on every attempt' },
    }),
    attempts: { type: 'array', items: attemptSchema },
  },
};

export const eventResponseSchema = closedObject(
  {
    id: { type: 'string' },
    event: { type: 'string' },
    repository_id: id,
    deliveries: { type: 'integer', minimum: 0, description: 'deliveries created for the event' },
    created_at: dateTime,
    payload: { type: 'object', description: 'sender and the event fields as stored; deliveries add event, delivery_id, timestamp and repository' },
  },
  [],
  'A stored event.',
);

export const eventAcceptedResponseSchema = closedObject(
  {
    id: { type: 'string', description: 'the event id' },
    event: { type: 'string' },
    deliveries: { type: 'integer', minimum: 0, description: 'deliveries created, one per matching active webhook' },
    created_at: dateTime,
  },
  [],
  'The stored event; a replay of an Idempotency-Key returns the first result with the header Idempotent-Replayed: true.',
);

export const eventTypeResponseSchema = closedObject(
  {
    name: { type: 'string' },
    description: { type: 'string' },
    schema: { type: 'object', description: 'JSON Schema (draft-07) of the delivered payload' },
  },
  [],
  'An event type of the catalog.',
);

export const eventTypeDetailResponseSchema = {
  ...eventTypeResponseSchema,
  required: [...(eventTypeResponseSchema.required as string[]), 'ingest_schema'],
  properties: {
    ...(eventTypeResponseSchema.properties as Schema),
    ingest_schema: { type: 'object', description: 'JSON Schema (draft-07) of the ingestion body minus event' },
  },
};

export const tokenResponseSchema = closedObject(
  {
    id,
    name: { type: 'string' },
    scopes: { type: 'array', items: { enum: [...TOKEN_SCOPES] } },
    prefix: { type: 'string', description: 'the first characters of the token, to recognise it' },
    created_at: dateTime,
    last_used_at: nullableDateTime,
    revoked_at: nullableDateTime,
  },
  [],
  'An API token; the token itself is stored only as a hash.',
);

export const tokenCreatedResponseSchema = {
  ...tokenResponseSchema,
  required: [...(tokenResponseSchema.required as string[]), 'token'],
  properties: {
    ...(tokenResponseSchema.properties as Schema),
    token: { type: 'string', pattern: '^dwt_', description: 'the bearer token, shown only in this response' },
  },
};

export const errorResponseSchema = closedObject(
  {
    error: closedObject({
      code: { type: 'string', description: 'a stable code from GET /v1/errors' },
      message: { type: 'string', description: 'what failed, on which value, and the fix' },
      details: {
        type: 'array',
        items: closedObject({ field: { type: 'string' }, message: { type: 'string' } }),
        description: 'one entry per invalid field',
      },
    }),
  },
  [],
  'Every error has this shape.',
);

export const errorCatalogResponseSchema = closedObject({
  data: {
    type: 'array',
    items: closedObject({ code: { type: 'string' }, status: { type: 'integer' }, description: { type: 'string' } }),
  },
});

export const healthResponseSchema = closedObject({ status: { const: 'ok' }, version: { type: 'string' } });

export const readinessResponseSchema = closedObject(
  {
    status: { enum: ['ready', 'unavailable'] },
    store: { enum: ['sqlite', 'postgres'] },
    reason: { type: 'string', description: 'why the service is not ready; only with status unavailable' },
  },
  ['reason'],
);

export const pingAcceptedResponseSchema = closedObject({ delivery_id: uuid });

export const replayResponseSchema = closedObject(
  {
    id,
    webhook_id: id,
    since: dateTime,
    until: nullableDateTime,
    status_filter: { enum: ['failed', 'all'], description: 'failed: failed and cancelled deliveries only; all: every delivery' },
    total: { type: 'integer', minimum: 0, description: 'deliveries queued for a manual attempt' },
    skipped: { type: 'integer', minimum: 0, description: 'deliveries in the range left out because they were in flight or already queued for a manual attempt; their own attempt is on the way' },
    completed: { type: 'integer', minimum: 0, description: 'deliveries whose replay attempt has been made' },
    cancelled: { type: 'integer', minimum: 0, description: 'deliveries whose replay attempt was cancelled before it ran, because the webhook was deactivated or deleted' },
    state: { enum: ['running', 'completed'] },
    created_at: dateTime,
  },
  [],
  'A replay: one manual attempt for each delivery of a webhook created in a time range.',
);
