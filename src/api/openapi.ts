/**
 * Builds the OpenAPI 3.1 document served at /openapi.json. Request schemas
 * are the objects in schemas.ts that the handlers validate with, and event
 * schemas are the catalog's. The webhook bodies add the limits that the
 * handlers check in code (openapi-webhook-schemas.ts). Response schemas come
 * from response-schemas.ts. The document references these objects instead of
 * copying them, so it cannot drift from what the server checks.
 */
import { ERROR_CATALOG } from '../errors.js';
import { EVENT_NAMES, listEventTypes } from '../events/catalog.js';
import { VERSION } from '../version.js';
import { API_OPERATIONS, type OperationSpec } from './openapi-operations.js';
import * as responses from './response-schemas.js';
import { replayCreateSchema } from './routes/replays.js';
import { documentedWebhookCreateSchema, documentedWebhookPatchSchema } from './openapi-webhook-schemas.js';
import { repoCreateSchema, repoPatchSchema, tokenCreateSchema } from './schemas.js';

type JsonObject = Record<string, unknown>;

export interface OpenApiOperation {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  security: Record<string, string[]>[];
  parameters?: JsonObject[];
  requestBody?: JsonObject;
  responses: Record<string, JsonObject>;
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  security: Record<string, string[]>[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    securitySchemes: Record<string, JsonObject>;
    parameters: Record<string, JsonObject>;
    headers: Record<string, JsonObject>;
    responses: Record<string, JsonObject>;
    schemas: Record<string, unknown>;
  };
}

export const SECURITY_SCHEME = 'bearerAuth';

/** Prefixes of the component names of each event type's payload and ingestion schemas, such as `payload.push`. */
export const PAYLOAD_SCHEMA_PREFIX = 'payload.';
export const INGEST_SCHEMA_PREFIX = 'ingest.';

const TAGS = [
  { name: 'Repositories', description: 'Dits repositories; changes emit repo.* events.' },
  { name: 'Webhooks', description: 'Webhooks of one repository.' },
  { name: 'Owner webhooks', description: 'Webhooks that receive the events of every repository of an owner.' },
  { name: 'Deliveries', description: 'The delivery log of a webhook: requests, attempts and responses; redelivery.' },
  { name: 'Events', description: 'Event ingestion, the event list and the live event stream.' },
  { name: 'Event types', description: 'The event catalog and the JSON Schema of each payload.' },
  { name: 'Tokens', description: 'API tokens and their scopes.' },
  { name: 'Operations', description: 'Health, readiness, metrics, this document and the error catalog.' },
  { name: 'Dashboard', description: 'The web dashboard, which calls this API from the browser.' },
];

const DESCRIPTION = [
  'Management API of Dits Webhooks: repositories, webhooks, deliveries, events and tokens.',
  'Send `Authorization: Bearer <token>`. Each route requires a scope: `admin` includes every scope,',
  '`write` includes `read` and `events:write`. GET /v1/token tells a token its own scopes. Errors have one shape, `{"error": {"code", "message", "details"}}`,',
  'and GET /v1/errors lists every code.',
  'Text values must not contain NUL characters or lone UTF-16 surrogates; such a request gets 400 invalid_request naming the field.',
].join(' ');

const PATH_PARAMETERS: Record<string, JsonObject> = {
  repo_id: { description: 'The repository id.', schema: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
  hook_id: { description: 'The webhook id.', schema: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
  delivery_id: { description: 'The delivery id.', schema: { type: 'string', format: 'uuid' } },
  replay_id: { description: 'The replay id.', schema: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
  token_id: { description: 'The token id.', schema: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
  owner: { description: 'The owner login.', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' } },
  name: { description: 'The event type name.', schema: { enum: [...EVENT_NAMES] } },
  file: { description: 'The file name of a dashboard asset.', schema: { type: 'string' } },
};

const HEADER_PARAMETERS: Record<string, JsonObject> = {
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: 'Makes a retried ingestion return the first result; 1 to 255 printable ASCII characters.',
    schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
  },
  LastEventId: {
    name: 'Last-Event-ID',
    in: 'header',
    required: false,
    description: 'With Accept: text/event-stream, the id of the last event received; the stream starts after it. Any other value is rejected with 400.',
    schema: { type: 'string', pattern: '^[0-9]{1,15}$' },
  },
};

/** Response header components by component name, with the header name they describe. */
const RESPONSE_HEADERS: Record<string, { name: string; header: JsonObject }> = {
  RetryAfter: { name: 'Retry-After', header: { description: 'Seconds to wait before the next request.', schema: { type: 'string' } } },
  Location: { name: 'Location', header: { description: 'The URL redirected to.', schema: { type: 'string' } } },
  IdempotentReplayed: {
    name: 'Idempotent-Replayed',
    header: { description: '`true` when the response replays an earlier request with the same Idempotency-Key.', schema: { type: 'string' } },
  },
};

/** Converts a fastify route path such as `/v1/repos/:repoId` to an OpenAPI path template such as `/v1/repos/{repo_id}`. */
export function openApiPathOf(fastifyPath: string): string {
  return fastifyPath.replace(/:([A-Za-z]+)/g, (_match, name: string) => `{${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}}`);
}

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Builds one error response per HTTP status, each listing the error codes that come with that status. */
function errorResponses(): Record<string, JsonObject> {
  const codesByStatus = new Map<number, string[]>();
  for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
    codesByStatus.set(entry.status, [...(codesByStatus.get(entry.status) ?? []), code]);
  }
  const result: Record<string, JsonObject> = {};
  for (const [status, codes] of codesByStatus) {
    const response: JsonObject = {
      description: codes.length === 1 ? `An error with error.code ${codes[0]}.` : `An error; error.code is one of ${codes.join(', ')}.`,
      content: { 'application/json': { schema: schemaRef('Error') } },
    };
    if (status === 429 || status === 503) response.headers = { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } };
    result[`Error${status}`] = response;
  }
  return result;
}

/** Builds the schema of the event ingestion body: `event` plus the fields of that event's ingestion schema. */
function eventIngestSchema(): JsonObject {
  const ingestible = listEventTypes().filter((type) => type.ingestible);
  return {
    type: 'object',
    description: 'An event name in `event` and that event type\'s fields; see the ingest.<event> schemas and GET /v1/event-types/{name}.',
    required: ['event'],
    properties: { event: { enum: ingestible.map((type) => type.name) } },
    oneOf: ingestible.map((type) => ({
      title: type.name,
      allOf: [{ properties: { event: { const: type.name } } }, schemaRef(`${INGEST_SCHEMA_PREFIX}${type.name}`)],
    })),
  };
}

function componentSchemas(): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    RepositoryCreate: repoCreateSchema,
    RepositoryUpdate: repoPatchSchema,
    WebhookCreate: documentedWebhookCreateSchema,
    WebhookUpdate: documentedWebhookPatchSchema,
    TokenCreate: tokenCreateSchema,
    EventIngest: eventIngestSchema(),
    Repository: responses.repositoryResponseSchema,
    RepositoryPage: responses.pageOf('#/components/schemas/Repository'),
    Webhook: responses.webhookResponseSchema,
    WebhookCreated: responses.webhookCreatedResponseSchema,
    WebhookPage: responses.pageOf('#/components/schemas/Webhook'),
    PingAccepted: responses.pingAcceptedResponseSchema,
    DeliverySummary: responses.deliverySummaryResponseSchema,
    DeliveryDetail: responses.deliveryDetailResponseSchema,
    DeliveryPage: responses.pageOf('#/components/schemas/DeliverySummary'),
    ReplayCreate: replayCreateSchema,
    Replay: responses.replayResponseSchema,
    ReplayPage: responses.pageOf('#/components/schemas/Replay'),
    Event: responses.eventResponseSchema,
    EventPage: responses.pageOf('#/components/schemas/Event'),
    EventAccepted: responses.eventAcceptedResponseSchema,
    EventType: responses.eventTypeResponseSchema,
    EventTypeList: { type: 'object', additionalProperties: false, required: ['data'], properties: { data: { type: 'array', items: schemaRef('EventType') } } },
    EventTypeDetail: responses.eventTypeDetailResponseSchema,
    Token: responses.tokenResponseSchema,
    TokenCreated: responses.tokenCreatedResponseSchema,
    TokenPage: responses.pageOf('#/components/schemas/Token'),
    Error: responses.errorResponseSchema,
    ErrorCatalog: responses.errorCatalogResponseSchema,
    Health: responses.healthResponseSchema,
    Readiness: responses.readinessResponseSchema,
  };
  for (const type of listEventTypes()) {
    schemas[`${PAYLOAD_SCHEMA_PREFIX}${type.name}`] = type.payloadSchema;
    if (type.ingestible) schemas[`${INGEST_SCHEMA_PREFIX}${type.name}`] = type.ingestSchema;
  }
  return schemas;
}

function parametersOf(spec: OperationSpec): JsonObject[] {
  const parameters: JsonObject[] = [];
  for (const match of spec.path.matchAll(/\{([a-z_]+)\}/g)) parameters.push({ $ref: `#/components/parameters/${match[1]}` });
  for (const [name, schema] of Object.entries(spec.query?.properties ?? {})) {
    const description = (schema as { description?: unknown }).description;
    parameters.push({ name, in: 'query', required: false, ...(typeof description === 'string' ? { description } : {}), schema });
  }
  for (const name of spec.headers ?? []) parameters.push({ $ref: `#/components/parameters/${name}` });
  return parameters;
}

function successResponses(spec: OperationSpec): Record<string, JsonObject> {
  const result: Record<string, JsonObject> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    const entry: JsonObject = { description: response.description };
    if (response.content) {
      entry.content = Object.fromEntries(
        Object.entries(response.content).map(([mediaType, schema]) => [mediaType, { schema: typeof schema === 'string' ? schemaRef(schema) : schema }]),
      );
    }
    if (response.headers) {
      entry.headers = Object.fromEntries(response.headers.map((name) => [RESPONSE_HEADERS[name].name, { $ref: `#/components/headers/${name}` }]));
    }
    result[status] = entry;
  }
  return result;
}

function operationObject(spec: OperationSpec): OpenApiOperation {
  const operation: OpenApiOperation = {
    operationId: spec.operationId,
    tags: [spec.tag],
    summary: spec.summary,
    // OpenAPI 3.1 lets the requirement of a non-OAuth scheme list role names that the operation needs, and a token scope is such a role.
    // A route open to any valid token lists the scheme with no role.
    security: spec.scope === null ? [] : [{ [SECURITY_SCHEME]: spec.scope === 'any' ? [] : [spec.scope] }],
    responses: successResponses(spec),
  };
  if (spec.description) operation.description = spec.description;
  const parameters = parametersOf(spec);
  if (parameters.length > 0) operation.parameters = parameters;
  if (spec.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schemaRef(spec.body) } } };
  // Every authenticated route can return 503 (shutting down, database locked, database connection lost). One that writes
  // can also return 507 (disk full), and, since its body is parsed even when it takes none, 400, 413 and 415.
  const common = [401, ...(spec.scope === 'any' ? [] : [403]), 429, 503, ...(spec.method === 'get' ? [] : [400, 413, 415, 507])];
  const errors = spec.scope === null ? spec.errors : [...spec.errors, ...common];
  for (const status of [...new Set(errors)].sort()) operation.responses[String(status)] = { $ref: `#/components/responses/Error${status}` };
  return operation;
}

/** Builds the whole document. The result is deterministic, so callers may build it once and keep it. */
export function buildOpenApiDocument(): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const spec of API_OPERATIONS) {
    paths[spec.path] ??= {};
    paths[spec.path][spec.method] = operationObject(spec);
  }
  const pathParameters = Object.fromEntries(
    Object.entries(PATH_PARAMETERS).map(([name, parameter]) => [name, { name, in: 'path', required: true, ...parameter }]),
  );
  return {
    openapi: '3.1.0',
    info: { title: 'Dits Webhooks API', version: VERSION, description: DESCRIPTION },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    security: [{ [SECURITY_SCHEME]: [] }],
    tags: TAGS,
    paths,
    components: {
      securitySchemes: {
        [SECURITY_SCHEME]: { type: 'http', scheme: 'bearer', description: 'An API token (dwt_...) created with POST /v1/tokens or printed at first start.' },
      },
      parameters: { ...pathParameters, ...HEADER_PARAMETERS },
      headers: Object.fromEntries(Object.entries(RESPONSE_HEADERS).map(([component, { header }]) => [component, header])),
      responses: errorResponses(),
      schemas: componentSchemas(),
    },
  };
}
