/**
 * Field schemas of `push`, `push.tag` and `push.force`. The three share one
 * shape and differ only in the refs they accept.
 */
import {
  type JsonSchema,
  countSchema,
  deliveredCommitSchema,
  headCommitSchema,
  ingestCommitSchema,
  objectIdSchema,
  objectSchema,
  refSchema,
  tagRefSchema,
} from './schemas-common.js';
import type { EventFieldsSchema } from './schemas.js';

const booleanSchema: JsonSchema = { type: 'boolean', description: 'a boolean' };

const pusherSchema: JsonSchema = objectSchema(
  {
    name: { type: 'string', minLength: 1, description: 'a non-empty string' },
    email: { type: ['string', 'null'], description: 'a string or null' },
  },
  ['name'],
  'an object {name, email} for who pushed, {"name": sender.login} when absent',
);

/** Keys of a push in delivery order, which normalization writes exactly. */
export const PUSH_FIELD_ORDER = [
  'ref',
  'before',
  'after',
  'created',
  'deleted',
  'forced',
  'commits',
  'head_commit',
  'pusher',
  'total_commits_count',
] as const;

function pushProperties(ref: JsonSchema, commit: JsonSchema): Record<string, JsonSchema> {
  return {
    ref,
    before: { ...objectIdSchema, description: 'a commit id of 1 to 128 characters, all zeros when the push created the ref' },
    after: { ...objectIdSchema, description: 'a commit id of 1 to 128 characters, all zeros when the push deleted the ref' },
    created: { ...booleanSchema, description: 'a boolean that tells whether the push created the ref: true exactly when `before` is all zeros (derived from it when absent)' },
    deleted: { ...booleanSchema, description: 'a boolean that tells whether the push deleted the ref: true exactly when `after` is all zeros (derived from it when absent)' },
    forced: { ...booleanSchema, description: 'a boolean that tells whether the push rewrote history (false when absent; true or absent for push.force)' },
    commits: {
      type: 'array',
      items: commit,
      description: 'an array of the pushed commits, oldest first (the delivery keeps at most the configured number, 2048 by default)',
    },
    head_commit: headCommitSchema,
    pusher: pusherSchema,
    total_commits_count: {
      ...countSchema,
      description: 'a non-negative integer, the real number of pushed commits, which can exceed the length of `commits`',
    },
  };
}

/** Builds the field schema of one push event from its ref schema (refSchema for push and push.force, tagRefSchema for push.tag). */
function pushFields(ref: JsonSchema): EventFieldsSchema {
  return {
    properties: pushProperties(ref, ingestCommitSchema),
    required: ['ref', 'before', 'after'],
    deliveredProperties: pushProperties(ref, deliveredCommitSchema),
    deliveredRequired: [...PUSH_FIELD_ORDER],
  };
}

export const PUSH_FIELDS: EventFieldsSchema = pushFields(refSchema);
export const PUSH_TAG_FIELDS: EventFieldsSchema = pushFields(tagRefSchema);
export const PUSH_FORCE_FIELDS: EventFieldsSchema = pushFields(refSchema);
