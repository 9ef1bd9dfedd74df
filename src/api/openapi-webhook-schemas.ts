/**
 * The webhook request bodies as the OpenAPI document shows them. The handlers
 * validate the body's shape with the schemas of schemas.ts, then check url,
 * events, secret and filters with code of their own, which gives specific
 * error codes such as invalid_event_pattern. The limits that code enforces
 * are added here, from the same constants, so that clients generated from
 * the document reject what the server would.
 */
import { MAX_TARGET_URL_LENGTH } from '../delivery/target-url.js';
import { MAX_FILTER_GLOB_LENGTH, MAX_FILTER_GLOBS } from '../events/filters.js';
import { MAX_EVENT_PATTERN_LENGTH, MAX_EVENT_PATTERNS } from '../events/patterns.js';
import { SECRET_MAX_LENGTH, SECRET_MIN_LENGTH } from '../signing/secret.js';
import { webhookCreateSchema, webhookPatchSchema } from './schemas.js';

const globList = (kind: string) => ({
  type: 'array',
  minItems: 1,
  maxItems: MAX_FILTER_GLOBS,
  items: { type: 'string', minLength: 1, maxLength: MAX_FILTER_GLOB_LENGTH, pattern: '^(?!!)[^\\u0000-\\u001f\\u007f]*$' },
  description: `1 to ${MAX_FILTER_GLOBS} ${kind} globs without a leading "!" or control characters`,
});

function documentedProperties(properties: typeof webhookCreateSchema.properties): Record<string, unknown> {
  return {
    ...properties,
    url: { ...properties.url, maxLength: MAX_TARGET_URL_LENGTH },
    events: { ...properties.events, minItems: 1, maxItems: MAX_EVENT_PATTERNS, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: MAX_EVENT_PATTERN_LENGTH } },
    secret: { ...properties.secret, minLength: SECRET_MIN_LENGTH, maxLength: SECRET_MAX_LENGTH, pattern: '^(?=.*\\S)[^\\u0000-\\u001f\\u007f]*$' },
    filters: {
      ...properties.filters,
      additionalProperties: false,
      properties: {
        branches: globList('branch'),
        tags: globList('tag'),
        paths: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { include: globList('path'), exclude: globList('path') },
          description: 'include, exclude or both',
        },
      },
    },
  };
}

export const documentedWebhookCreateSchema = { ...webhookCreateSchema, properties: documentedProperties(webhookCreateSchema.properties) };
export const documentedWebhookPatchSchema = { ...webhookPatchSchema, properties: documentedProperties(webhookPatchSchema.properties) };
