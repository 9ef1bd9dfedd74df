/**
 * The JSON Schemas of the event catalog: for each event, the fields a client
 * ingests and the whole payload the server delivers. These schemas are the
 * public contract served by `GET /v1/event-types`.
 */
import type { EventName } from './catalog.js';
import {
  type JsonSchema,
  JSON_SCHEMA_DIALECT,
  accountSchema,
  branchRefSchema,
  changesSchema,
  dateTimeSchema,
  integerOrStringIdSchema,
  nonEmptyStringSchema,
  nullableDateTimeSchema,
  objectIdSchema,
  objectSchema,
  lockPathSchema,
  repositorySchema,
  senderSchema,
  tagRefSchema,
} from './schemas-common.js';
import { PUSH_FIELDS, PUSH_FORCE_FIELDS, PUSH_TAG_FIELDS } from './schemas-push.js';

/** The event-specific fields of one event type, apart from `sender`. */
export interface EventFieldsSchema {
  /** Properties in delivery order, which normalization follows for known keys. */
  properties: Record<string, JsonSchema>;
  required: string[];
  /** Properties of the delivered payload when they differ from the ingested ones (defaults filled in). */
  deliveredProperties?: Record<string, JsonSchema>;
  /** Required keys of the delivered payload when normalization guarantees more than ingestion requires. */
  deliveredRequired?: string[];
}

/** Keys the server sets on every delivered payload, so an ingested event must not carry them. */
export const SERVER_SET_KEYS = ['delivery_id', 'timestamp', 'repository'] as const;

/** Optional idempotency key in the ingestion body. It is request metadata and is not delivered. */
export const IDEMPOTENCY_KEY_FIELD = 'id';

const idempotencyKeySchema: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  description: 'an idempotency key of 1 to 255 characters (a retried request with the same key creates nothing new)',
};

const lockSchema: JsonSchema = objectSchema(
  {
    id: integerOrStringIdSchema,
    path: lockPathSchema,
    owner: accountSchema,
    locked_at: dateTimeSchema,
    expires_at: nullableDateTimeSchema,
    reason: { type: ['string', 'null'], description: 'a string or null' },
  },
  ['id', 'path', 'owner', 'locked_at'],
  'a lock object with id, path, owner and locked_at',
);

const commentSchema: JsonSchema = objectSchema(
  {
    id: integerOrStringIdSchema,
    body: { type: 'string', description: 'a string' },
    path: { type: ['string', 'null'], description: 'a path of the file the comment is on, or null' },
    commit_id: { ...objectIdSchema, type: ['string', 'null'], description: 'an id of the commit the comment is on, or null' },
    line: { type: ['integer', 'null'], minimum: 1, description: 'a line number from 1, or null' },
    user: accountSchema,
    created_at: dateTimeSchema,
    updated_at: dateTimeSchema,
  },
  ['id', 'body', 'created_at', 'updated_at'],
  'a comment object with id, body, created_at and updated_at',
);

const hookSchema: JsonSchema = objectSchema(
  {
    id: integerOrStringIdSchema,
    type: { type: 'string', description: 'a string, repository or owner' },
    url: { type: 'string', description: 'a string, the target URL with credentials redacted' },
    events: { type: 'array', items: { type: 'string' }, description: 'an array of the event names and patterns of the webhook' },
    active: { type: 'boolean', description: 'a boolean' },
    created_at: dateTimeSchema,
    updated_at: dateTimeSchema,
  },
  ['id'],
  'an object describing the webhook being pinged',
);

const roleSchema: JsonSchema = { ...nonEmptyStringSchema, description: 'a non-empty role name, such as read, write or admin' };

function fields(properties: Record<string, JsonSchema>, required: string[] = []): EventFieldsSchema {
  return { properties, required };
}

const LOCK_FIELDS = fields({ lock: lockSchema }, ['lock']);
const BRANCH_FIELDS = fields(
  { ref: branchRefSchema, branch: { ...nonEmptyStringSchema, description: 'a non-empty branch name, such as main' }, sha: objectIdSchema },
  ['ref', 'branch', 'sha'],
);
const TAG_FIELDS = fields(
  { ref: tagRefSchema, tag: { ...nonEmptyStringSchema, description: 'a non-empty tag name, such as v1.0' }, sha: objectIdSchema },
  ['ref', 'tag', 'sha'],
);
const COMMENT_FIELDS = fields({ comment: commentSchema }, ['comment']);

/** Event-specific fields per event name, in catalog order. */
export const EVENT_FIELDS: Readonly<Record<EventName, EventFieldsSchema>> = {
  push: PUSH_FIELDS,
  'push.tag': PUSH_TAG_FIELDS,
  'push.force': PUSH_FORCE_FIELDS,
  'repo.created': fields({}),
  'repo.deleted': fields({}),
  'repo.renamed': fields({ changes: changesSchema('name', nonEmptyStringSchema) }, ['changes']),
  'repo.visibility_changed': fields({ changes: changesSchema('private', { type: 'boolean', description: 'a boolean' }) }, ['changes']),
  'repo.archived': fields({ archived: { type: 'boolean', description: 'a boolean, true when archived and false when unarchived' } }, ['archived']),
  'branch.created': BRANCH_FIELDS,
  'branch.deleted': BRANCH_FIELDS,
  'tag.created': TAG_FIELDS,
  'tag.deleted': TAG_FIELDS,
  'lock.acquired': LOCK_FIELDS,
  'lock.released': LOCK_FIELDS,
  'lock.expired': LOCK_FIELDS,
  'lock.broken': fields({ lock: lockSchema, broken_by: { ...accountSchema, description: 'an account object for who broke the lock' } }, ['lock', 'broken_by']),
  'member.added': fields({ member: accountSchema, role: roleSchema }, ['member', 'role']),
  'member.removed': fields({ member: accountSchema, role: roleSchema }, ['member']),
  'member.role_changed': fields(
    { member: accountSchema, role: roleSchema, changes: changesSchema('role', roleSchema) },
    ['member', 'role', 'changes'],
  ),
  'comment.created': COMMENT_FIELDS,
  'comment.updated': fields({ comment: commentSchema, changes: changesSchema('body', { type: 'string', description: 'a string' }) }, [
    'comment',
    'changes',
  ]),
  'comment.deleted': COMMENT_FIELDS,
  ping: fields(
    {
      zen: { type: 'string', description: 'a short phrase' },
      hook_id: integerOrStringIdSchema,
      hook: hookSchema,
      owner: { ...accountSchema, description: 'an account object for the owner of an owner-level webhook, sent in place of repository' },
    },
    ['zen', 'hook_id', 'hook'],
  ),
};

/**
 * Ping is sent by the server to one webhook, so it may lack a sender (no
 * account caused it) and a repository (owner-level webhooks have none).
 */
function isServerOnly(name: EventName): boolean {
  return name === 'ping';
}

/** Builds the schema of the fields a client sends to the ingestion endpoint: the body minus `event`. */
export function buildIngestSchema(name: EventName, description: string): JsonSchema {
  const spec = EVENT_FIELDS[name];
  const properties: Record<string, JsonSchema | boolean> = {
    [IDEMPOTENCY_KEY_FIELD]: idempotencyKeySchema,
    sender: senderSchema,
    ...spec.properties,
  };
  for (const key of SERVER_SET_KEYS) properties[key] = false;

  const required = isServerOnly(name) ? spec.required : ['sender', ...spec.required];
  return {
    $schema: JSON_SCHEMA_DIALECT,
    title: `${name} ingestion fields`,
    ...objectSchema(properties, required, description),
  };
}

/** Builds the schema of the whole delivered body: event, delivery_id, timestamp, repository, sender, then the event fields. */
export function buildPayloadSchema(name: EventName, description: string): JsonSchema {
  const spec = EVENT_FIELDS[name];
  const properties: Record<string, JsonSchema> = {
    event: { type: 'string', const: name, description: `always "${name}"` },
    delivery_id: { ...nonEmptyStringSchema, description: 'a non-empty delivery id, the same on every attempt and redelivery' },
    timestamp: { ...dateTimeSchema, description: 'an RFC 3339 date-time in UTC of when the server accepted the event' },
    repository: repositorySchema,
    sender: senderSchema,
    ...(spec.deliveredProperties ?? spec.properties),
  };
  const envelope = isServerOnly(name) ? ['event', 'delivery_id', 'timestamp'] : ['event', 'delivery_id', 'timestamp', 'repository', 'sender'];
  return {
    $schema: JSON_SCHEMA_DIALECT,
    title: `${name} delivery payload`,
    ...objectSchema(properties, [...envelope, ...(spec.deliveredRequired ?? spec.required)], description),
  };
}

/** Returns the event-specific keys of an event in delivery order. */
export function eventFieldOrder(name: EventName): readonly string[] {
  return Object.keys(EVENT_FIELDS[name].properties);
}
