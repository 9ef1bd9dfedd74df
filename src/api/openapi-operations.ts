/**
 * The operations of the HTTP API as the OpenAPI document describes them: one
 * entry per route of the server. Request schemas are the objects that the
 * handlers validate with, imported from schemas.ts. A test compares this
 * table with the routes that fastify registered, so a new route needs an
 * entry here.
 */
import { html, json, noContent, redirect, type OperationSpec } from './openapi-operation-spec.js';
import { webhookOperations } from './openapi-webhook-operations.js';
import { pageQuerySchema, repoQuerySchema } from './schemas.js';

export type { OperationSpec, ResponseSpec } from './openapi-operation-spec.js';

const repositoryOperations: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/repos',
    operationId: 'createRepository',
    tag: 'Repositories',
    summary: 'Create a repository',
    description: 'Creates a repository and emits `repo.created`.',
    scope: 'write',
    body: 'RepositoryCreate',
    responses: { '201': { description: 'The repository was created.', content: json('Repository') } },
    errors: [400, 409, 413, 415],
  },
  {
    method: 'get',
    path: '/v1/repos',
    operationId: 'listRepositories',
    tag: 'Repositories',
    summary: 'List repositories',
    description: 'Lists repositories, optionally of one owner, or finds one by `full_name`.',
    scope: 'read',
    query: repoQuerySchema,
    responses: { '200': { description: 'One page of repositories.', content: json('RepositoryPage') } },
    errors: [400],
  },
  {
    method: 'get',
    path: '/v1/repos/{repo_id}',
    operationId: 'getRepository',
    tag: 'Repositories',
    summary: 'Get a repository',
    scope: 'read',
    responses: { '200': { description: 'The repository.', content: json('Repository') } },
    errors: [400, 404],
  },
  {
    method: 'patch',
    path: '/v1/repos/{repo_id}',
    operationId: 'updateRepository',
    tag: 'Repositories',
    summary: 'Update a repository',
    description: 'Renames, changes visibility or archives; emits repo.renamed, repo.visibility_changed or repo.archived for each change.',
    scope: 'write',
    body: 'RepositoryUpdate',
    responses: { '200': { description: 'The updated repository.', content: json('Repository') } },
    errors: [400, 404, 409, 413, 415],
  },
  {
    method: 'delete',
    path: '/v1/repos/{repo_id}',
    operationId: 'deleteRepository',
    tag: 'Repositories',
    summary: 'Delete a repository',
    description: "Emits `repo.deleted` to the repository's webhooks, then deletes the repository.",
    scope: 'write',
    responses: { '204': noContent('The repository was deleted.') },
    errors: [400, 404],
  },
];

const eventOperations: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/repos/{repo_id}/events',
    operationId: 'ingestEvent',
    tag: 'Events',
    summary: 'Ingest an event',
    description:
      'Validates the fields against the catalog schema of `event`, stores the event and creates one delivery per matching active webhook in one transaction. ' +
      'An Idempotency-Key header (or a body `id`) makes a retried request return the first result and create nothing new. ' +
      'The server sends `ping` and the `repo.*` events itself, so they are refused here with 400.',
    scope: 'events:write',
    headers: ['IdempotencyKey'],
    body: 'EventIngest',
    responses: { '202': { description: 'The event was stored.', content: json('EventAccepted'), headers: ['IdempotentReplayed'] } },
    errors: [400, 404, 409, 413, 415],
  },
  {
    method: 'get',
    path: '/v1/repos/{repo_id}/events',
    operationId: 'listEvents',
    tag: 'Events',
    summary: 'List or stream events',
    description:
      'Lists recent events, newest first. With `Accept: text/event-stream` the response is a Server-Sent Events stream of new events: ' +
      'each message has `id` (the event sequence number), `event` (the event name) and `data` (the event as JSON). ' +
      'A client that reconnects with Last-Event-ID receives every event after that id. Comment lines keep an idle stream open.',
    scope: 'read',
    query: pageQuerySchema,
    headers: ['LastEventId'],
    responses: {
      '200': {
        description: 'One page of events, or the event stream.',
        content: {
          'application/json': 'EventPage',
          'text/event-stream': { type: 'string', description: 'Server-Sent Events: `id: <seq>`, `event: <name>`, `data: <Event as JSON>`' },
        },
      },
    },
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/v1/event-types',
    operationId: 'listEventTypes',
    tag: 'Event types',
    summary: 'List event types',
    description: 'The event catalog, each type with the JSON Schema of its delivered payload.',
    scope: 'read',
    responses: { '200': { description: 'The catalog.', content: json('EventTypeList') } },
    // A query parameter, which this route takes none of, gets a 400.
    errors: [400],
  },
  {
    method: 'get',
    path: '/v1/event-types/{name}',
    operationId: 'getEventType',
    tag: 'Event types',
    summary: 'Get an event type',
    description: 'One event type with the schemas of its delivered payload and of its ingestion body.',
    scope: 'read',
    responses: { '200': { description: 'The event type.', content: json('EventTypeDetail') } },
    errors: [400, 404],
  },
];

const tokenOperations: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/tokens',
    operationId: 'createToken',
    tag: 'Tokens',
    summary: 'Create a token',
    description: 'Creates an API token. The token is returned only in this response and stored as a hash.',
    scope: 'admin',
    body: 'TokenCreate',
    responses: { '201': { description: 'The token was created.', content: json('TokenCreated') } },
    errors: [400, 413, 415],
  },
  {
    method: 'get',
    path: '/v1/tokens',
    operationId: 'listTokens',
    tag: 'Tokens',
    summary: 'List tokens',
    description: 'Lists tokens in creation order, revoked ones included.',
    scope: 'admin',
    query: pageQuerySchema,
    responses: { '200': { description: 'One page of tokens.', content: json('TokenPage') } },
    errors: [400],
  },
  {
    method: 'get',
    path: '/v1/token',
    operationId: 'getCurrentToken',
    tag: 'Tokens',
    summary: 'Get the token of this request',
    description: 'Returns the record of the bearer token that authenticates the request, so that a client can tell which scopes it has. Any valid token may call it.',
    scope: 'any',
    responses: { '200': { description: 'The token of this request.', content: json('Token') } },
    errors: [],
  },
  {
    method: 'delete',
    path: '/v1/tokens/{token_id}',
    operationId: 'revokeToken',
    tag: 'Tokens',
    summary: 'Revoke a token',
    description: 'Revokes the token at once. The last admin token that is not revoked cannot be revoked, which gets 409.',
    scope: 'admin',
    responses: { '204': noContent('The token was revoked.') },
    errors: [400, 404, 409],
  },
];

const operationsOperations: OperationSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    tag: 'Operations',
    summary: 'Liveness',
    description: 'Returns 200 while the process runs.',
    scope: null,
    responses: { '200': { description: 'The process is alive.', content: json('Health') } },
    errors: [],
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    tag: 'Operations',
    summary: 'Readiness',
    description: 'Returns 200 when the store responds and a write could start, and 503 with the reason otherwise (on SQLite, also while another process holds the write lock).',
    scope: null,
    responses: {
      '200': { description: 'The store responds and accepts writes.', content: json('Readiness') },
      '503': { description: 'The store does not respond or is write-locked; `reason` tells which.', content: json('Readiness') },
    },
    errors: [],
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    description:
      'Metrics in the Prometheus text format: dits_webhook_deliveries_total{status,event}, dits_webhook_delivery_duration_seconds{event}, ' +
      'dits_webhook_retry_count, dits_webhook_queue_size, dits_webhook_webhooks_disabled_total{reason}, dits_webhook_event_streams_open and process metrics.',
    scope: null,
    responses: { '200': { description: 'The metrics.', content: { 'text/plain': { type: 'string' } } } },
    errors: [],
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tag: 'Operations',
    summary: 'OpenAPI document',
    description: 'This document.',
    scope: null,
    responses: { '200': { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { type: 'object' } } } },
    errors: [],
  },
  {
    method: 'get',
    path: '/docs',
    operationId: 'getApiReference',
    tag: 'Operations',
    summary: 'API reference page',
    description: 'An HTML page rendered from this document.',
    scope: null,
    responses: { '200': { description: 'The API reference.', content: { 'text/html': { type: 'string' } } } },
    errors: [],
  },
  {
    method: 'get',
    path: '/v1/errors',
    operationId: 'listErrorCodes',
    tag: 'Operations',
    summary: 'List error codes',
    description: 'Every error code with its HTTP status and meaning.',
    scope: null,
    responses: { '200': { description: 'The error catalog.', content: json('ErrorCatalog') } },
    errors: [],
  },
];


const dashboardOperations: OperationSpec[] = [
  {
    method: 'get',
    path: '/',
    operationId: 'redirectRootToDashboard',
    tag: 'Dashboard',
    summary: 'Redirect to the dashboard',
    scope: null,
    responses: { '302': redirect('Redirects to /dashboard/.') },
    errors: [],
  },
  {
    method: 'get',
    path: '/dashboard',
    operationId: 'redirectToDashboard',
    tag: 'Dashboard',
    summary: 'Redirect to the dashboard',
    scope: null,
    responses: { '302': redirect('Redirects to /dashboard/.') },
    errors: [],
  },
  {
    method: 'get',
    path: '/dashboard/',
    operationId: 'getDashboard',
    tag: 'Dashboard',
    summary: 'Dashboard page',
    description: 'The web dashboard. The page needs no token; it calls the /v1 API with the token the user enters.',
    scope: null,
    responses: { '200': html('The dashboard page.'), '304': { description: 'The page has not changed since the ETag sent in If-None-Match.' } },
    errors: [],
  },
  {
    method: 'get',
    path: '/dashboard/{file}',
    operationId: 'getDashboardAsset',
    tag: 'Dashboard',
    summary: 'Dashboard asset',
    description: 'A script, style or image of the dashboard.',
    scope: null,
    responses: {
      '200': { description: 'The file.', content: { '*/*': { type: 'string' } } },
      '304': { description: 'The file has not changed since the ETag sent in If-None-Match.' },
    },
    errors: [404],
  },
];

/** Every operation of the API, in the order the reference page shows them. */
export const API_OPERATIONS: readonly OperationSpec[] = [
  ...repositoryOperations,
  ...webhookOperations('/v1/repos/{repo_id}/webhooks', 'Repository'),
  ...webhookOperations('/v1/owners/{owner}/webhooks', 'Owner'),
  ...eventOperations,
  ...tokenOperations,
  ...operationsOperations,
  ...dashboardOperations,
];
