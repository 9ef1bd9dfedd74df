/**
 * JSON Schemas of the management API's request bodies and query strings.
 * Handlers validate with them, and the OpenAPI document is built from them.
 */
import { DELIVERY_STATUSES } from '../delivery/states.js';
import { EVENT_NAMES } from '../events/catalog.js';
import { branchNameSchema } from '../events/schemas-common.js';
import { TOKEN_SCOPES } from './tokens.js';

const slug = (what: string) => ({
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$',
  description: `${what}: 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit`,
});


// Tabs and line breaks are kept; other control characters, such as BEL, show as boxes or act on terminals.
const description = {
  type: ['string', 'null'],
  maxLength: 1000,
  pattern: '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$',
  description: 'a description of at most 1000 characters without control characters other than tabs and line breaks, or null',
};

export const repoCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['owner', 'name'],
  properties: {
    owner: slug('the owner login'),
    name: slug('the repository name'),
    private: { type: 'boolean', description: 'true or false' },
    description,
    default_branch: branchNameSchema,
  },
} as const;

export const repoPatchSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  description: 'an object with at least one of name, private, description, default_branch, archived',
  properties: {
    name: slug('the repository name'),
    private: { type: 'boolean', description: 'true or false' },
    description,
    default_branch: branchNameSchema,
    archived: { type: 'boolean', description: 'true or false' },
  },
} as const;

const webhookProperties = {
  url: { type: 'string', description: 'an absolute http or https URL' },
  events: {
    type: 'array',
    description: 'a non-empty array of event names or patterns such as "push", "lock.*", "*.deleted" or "*"',
  },
  secret: { type: 'string', description: 'a secret of 16 to 256 characters' },
  active: { type: 'boolean', description: 'true or false' },
  filters: { type: ['object', 'null'], description: 'an object with branches, tags or paths, or null' },
  insecure_ssl: { type: 'boolean', description: 'true to skip TLS certificate checks (unsafe), or false' },
} as const;

export const webhookCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'events'],
  properties: webhookProperties,
} as const;

export const webhookPatchSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  description: 'an object with at least one of url, events, secret, active, filters, insecure_ssl',
  properties: webhookProperties,
} as const;

export const tokenCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'scopes'],
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      // Control characters would reach terminals and logs that list the tokens, and the name is the sender login of the
      // repo.* events the token causes. Bidirectional controls would reorder the text shown around them. A name of
      // spaces alone names nothing.
      pattern: '^(?=.*\\S)[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069]*$',
      description: 'a name of 1 to 100 characters, not only spaces, without control characters, bidirectional controls or line separators',
    },
    scopes: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: TOKEN_SCOPES },
      description: `a non-empty array of distinct scopes from ${TOKEN_SCOPES.join(', ')}`,
    },
  },
} as const;

const limit = { type: 'string', pattern: '^(?:[1-9]|[1-9][0-9]|100)$', description: 'a page size from 1 to 100' };
const cursor = { type: 'string', minLength: 1, maxLength: 200, description: 'the next_cursor value of the previous page' };

export const deliveryQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { enum: DELIVERY_STATUSES, description: `one of ${DELIVERY_STATUSES.join(', ')}` },
    event: { enum: EVENT_NAMES, description: 'an event name from GET /v1/event-types, or ping (patterns such as lock.* do not apply here)' },
    cursor,
    limit,
  },
} as const;

export const pageQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { cursor, limit },
} as const;

export const repoQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    owner: slug('the owner login'),
    full_name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$', description: 'owner/name' },
    cursor,
    limit,
  },
} as const;
