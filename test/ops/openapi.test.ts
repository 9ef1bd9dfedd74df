import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { Validator } from '@seriousme/openapi-schema-validator';
import { getEventType, listEventTypes } from '../../src/events/catalog.js';
import { buildOpenApiDocument, openApiPathOf, type OpenApiDocument } from '../../src/api/openapi.js';
import { documentedWebhookCreateSchema, documentedWebhookPatchSchema } from '../../src/api/openapi-webhook-schemas.js';
import { repoCreateSchema, repoPatchSchema, tokenCreateSchema, webhookCreateSchema, webhookPatchSchema, deliveryQuerySchema } from '../../src/api/schemas.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type ApiResponse, type TestService } from '../support/service.js';
import { pushEvent } from '../support/fixtures.js';

let svc: TestService;
let receiver: Receiver;
let doc: OpenApiDocument;

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService();
  const res = await svc.api('GET', '/openapi.json', undefined, { token: '' });
  assert.equal(res.status, 200, res.text);
  doc = res.json;
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Resolves a local JSON pointer such as `#/components/schemas/Repository` in `root`. */
function resolvePointer(root: unknown, ref: string): unknown {
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function collectRefs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((child) => collectRefs(child, found));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else collectRefs(value, found);
    }
  }
  return found;
}

const deref = (value: any): any => (value && typeof value.$ref === 'string' ? resolvePointer(doc, value.$ref) : value);

test('openApiPathOf converts fastify paths', () => {
  const cases: [string, string][] = [
    ['/healthz', '/healthz'],
    ['/v1/repos/:repoId', '/v1/repos/{repo_id}'],
    ['/v1/repos/:repoId/webhooks/:hookId/deliveries/:deliveryId/redeliver', '/v1/repos/{repo_id}/webhooks/{hook_id}/deliveries/{delivery_id}/redeliver'],
    ['/v1/owners/:owner/webhooks', '/v1/owners/{owner}/webhooks'],
    ['/dashboard/:file', '/dashboard/{file}'],
  ];
  for (const [input, expected] of cases) assert.equal(openApiPathOf(input), expected, input);
});

test('document validates as OpenAPI 3.1', async () => {
  assert.equal(doc.openapi, '3.1.0');
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc) as unknown as Parameters<Validator['validate']>[0]);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  assert.equal(validator.version, '3.1');
});

test('every $ref resolves', () => {
  const refs = collectRefs(doc);
  assert.ok(refs.length > 100, `expected many references, found ${refs.length}`);
  for (const ref of new Set(refs)) {
    assert.ok(ref.startsWith('#/'), `${ref} is a local reference`);
    assert.notEqual(resolvePointer(doc, ref), undefined, `${ref} resolves`);
  }
});

test('every path has operations with responses', () => {
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    const methods = Object.keys(item).filter((key) => HTTP_METHODS.includes(key));
    assert.ok(methods.length > 0, `${path} has an operation`);
    const templateParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    for (const method of methods) {
      const operation = (item as any)[method];
      assert.ok(Object.keys(operation.responses).length > 0, `${method} ${path} has responses`);
      assert.ok(Object.keys(operation.responses).some((status) => /^[23]/.test(status)), `${method} ${path} has a success response`);
      assert.equal(operationIds.has(operation.operationId), false, `operationId ${operation.operationId} is unique`);
      operationIds.add(operation.operationId);
      const pathParams = (operation.parameters ?? []).map(deref).filter((p: any) => p.in === 'path').map((p: any) => p.name).sort();
      assert.deepEqual(pathParams, templateParams, `${method} ${path} declares exactly its path parameters`);
      assert.ok(Array.isArray(operation.security), `${method} ${path} states its security`);
    }
  }
});

test('document reuses the validating schemas', () => {
  const built = buildOpenApiDocument();
  const schemas = built.components.schemas;
  assert.equal(schemas.RepositoryCreate, repoCreateSchema);
  assert.equal(schemas.RepositoryUpdate, repoPatchSchema);
  assert.equal(schemas.WebhookCreate, documentedWebhookCreateSchema);
  assert.equal(schemas.WebhookUpdate, documentedWebhookPatchSchema);
  // The documented webhook bodies add limits to the validating schemas and change nothing else.
  for (const [documented, validating] of [[documentedWebhookCreateSchema, webhookCreateSchema], [documentedWebhookPatchSchema, webhookPatchSchema]] as const) {
    assert.deepEqual({ ...documented, properties: undefined }, { ...validating, properties: undefined });
    assert.deepEqual(Object.keys(documented.properties), Object.keys(validating.properties));
  }
  assert.equal(schemas.TokenCreate, tokenCreateSchema);
  for (const type of listEventTypes()) {
    assert.equal(schemas[`payload.${type.name}`], type.payloadSchema, `payload schema of ${type.name}`);
    if (type.ingestible) assert.equal(schemas[`ingest.${type.name}`], type.ingestSchema, `ingest schema of ${type.name}`);
  }
  assert.deepEqual(doc, JSON.parse(JSON.stringify(built)), 'the served document is the built one');

  const deliveries = doc.paths['/v1/repos/{repo_id}/webhooks/{hook_id}/deliveries'].get;
  const queryNames = (deliveries.parameters ?? []).map(deref).filter((p: any) => p.in === 'query').map((p: any) => p.name);
  assert.deepEqual(queryNames, Object.keys(deliveryQuerySchema.properties));
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
    type: 'http',
    scheme: 'bearer',
    description: (doc.components.securitySchemes.bearerAuth as any).description,
  });
});

test('webhook body limits match the server', async () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const documented = ajv.compile(doc.components.schemas.WebhookCreate as object);
  const repo = await svc.api('POST', '/v1/repos', { owner: 'docs', name: 'limits' });
  assert.equal(repo.status, 201, repo.text);
  const url = `${receiver.url}/hook`;
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['valid body', { url, events: ['push'], active: false }, true],
    ['valid filters', { url, events: ['push'], active: false, filters: { branches: ['main'], paths: { exclude: ['*.tmp'] } } }, true],
    ['no events', { url, events: [] }, false],
    ['repeated event', { url, events: ['push', 'push'] }, false],
    ['101 events', { url, events: Array.from({ length: 101 }, () => 'push') }, false],
    ['short secret', { url, events: ['push'], secret: 'short' }, false],
    ['long secret', { url, events: ['push'], secret: 's'.repeat(257) }, false],
    ['blank secret', { url, events: ['push'], secret: ' '.repeat(20) }, false],
    ['secret with a line break', { url, events: ['push'], secret: 'sixteen-characters\nmore' }, false],
    ['glob with a tab', { url, events: ['push'], filters: { branches: ['ma\tin'] } }, false],
    ['long event pattern', { url, events: ['x'.repeat(101)] }, false],
    ['long url', { url: `${url}?${'a'.repeat(2100)}`, events: ['push'] }, false],
    ['unknown filter', { url, events: ['push'], filters: { authors: ['ada'] } }, false],
    ['empty branch list', { url, events: ['push'], filters: { branches: [] } }, false],
    ['negated branch', { url, events: ['push'], filters: { branches: ['!main'] } }, false],
    ['empty paths', { url, events: ['push'], filters: { paths: {} } }, false],
    ['unknown paths key', { url, events: ['push'], filters: { paths: { only: ['a'] } } }, false],
  ];
  for (const [name, body, accepted] of cases) {
    assert.equal(documented(body), accepted, `${name}: the document ${accepted ? 'rejects' : 'accepts'} it`);
    const res = await svc.api('POST', `/v1/repos/${repo.json.id}/webhooks`, body);
    assert.equal(res.status === 201, accepted, `${name}: the server answered ${res.status} ${res.text.slice(0, 200)}`);
  }
});

test('every server route is documented', () => {
  const routes = (svc.server?.routeList ?? []).filter((route) => route.method !== 'HEAD');
  assert.ok(routes.length >= 40, `expected the full route list, got ${routes.length} routes`);
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);

  const missing = routes.filter((route) => !documented.has(`${route.method} ${openApiPathOf(route.url)}`));
  assert.deepEqual(missing.map((r) => `${r.method} ${r.url}`), [], 'routes missing from /openapi.json');

  const registered = new Set(routes.map((route) => `${route.method} ${openApiPathOf(route.url)}`));
  const phantom = [...documented].filter((key) => !registered.has(key));
  assert.deepEqual(phantom, [], 'documented operations that the server does not have');

  for (const route of routes) {
    const operation = (doc.paths as any)[openApiPathOf(route.url)][route.method.toLowerCase()];
    const scopes = operation.security.flatMap((requirement: Record<string, string[]>) => Object.values(requirement).flat());
    assert.deepEqual(scopes, route.scope === null || route.scope === 'any' ? [] : [route.scope], `scope of ${route.method} ${route.url}`);
    assert.equal(operation.security.length, route.scope === null ? 0 : 1, `security of ${route.method} ${route.url}`);
  }
});

/** Validates API responses against the schemas that the document gives for their operation and status. */
class ResponseChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  readonly checked = new Set<string>();

  constructor(document: OpenApiDocument) {
    formatsPlugin.default(this.ajv);
    this.ajv.addSchema({ ...document, $id: 'https://dits-webhooks.test/openapi.json' });
  }

  check(method: string, path: string, res: ApiResponse): void {
    const operation = (doc.paths as any)[path]?.[method];
    assert.ok(operation, `${method} ${path} is documented`);
    const response = deref(operation.responses[String(res.status)]);
    assert.ok(response, `${method} ${path} documents status ${res.status} (body ${res.text.slice(0, 200)})`);
    const schema = response.content?.['application/json']?.schema;
    if (res.status === 204) {
      assert.equal(res.text, '');
      this.checked.add(`${method} ${path} ${res.status}`);
      return;
    }
    assert.ok(schema, `${method} ${path} ${res.status} documents a JSON body`);
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      const ref = typeof schema.$ref === 'string' ? `https://dits-webhooks.test/openapi.json${schema.$ref}` : null;
      validate = this.ajv.compile(ref ? { $ref: ref } : schema);
      this.compiled.set(key, validate);
    }
    assert.equal(validate(res.json), true, `${method} ${path} ${res.status}: ${JSON.stringify(validate.errors)} in ${res.text.slice(0, 500)}`);
    this.checked.add(`${method} ${path} ${res.status}`);
  }
}

test('responses match documented schemas', async () => {
  const checker = new ResponseChecker(doc);
  const call = async (method: string, template: string, path: string, body?: unknown, token?: string) => {
    const res = await svc.api(method.toUpperCase(), path, body, token === undefined ? {} : { token });
    checker.check(method, template, res);
    return res;
  };

  const repo = await call('post', '/v1/repos', '/v1/repos', { owner: 'docs', name: 'reference' });
  const repoPath = `/v1/repos/${repo.json.id}`;
  await call('get', '/v1/repos', '/v1/repos?owner=docs');
  await call('get', '/v1/repos/{repo_id}', repoPath);
  await call('patch', '/v1/repos/{repo_id}', repoPath, { description: 'Reference footage' });
  await call('get', '/v1/repos/{repo_id}', '/v1/repos/999999');
  await call('post', '/v1/repos', '/v1/repos', { owner: 'docs' });
  await call('post', '/v1/repos', '/v1/repos', { owner: 'docs', name: 'reference' });
  await call('get', '/v1/repos', '/v1/repos', undefined, '');
  await call('get', '/v1/repos', '/v1/repos', undefined, 'dwt_unknown');

  const hooks = `${repoPath}/webhooks`;
  const created = await call('post', '/v1/repos/{repo_id}/webhooks', hooks, { url: receiver.url, events: ['push'], filters: { branches: ['main'] } });
  assert.match(created.json.secret, /^whsec_/);
  const hook = `${hooks}/${created.json.id}`;
  await waitUntil(() => receiver.requests.length >= 1, 10_000, 'the ping delivery');
  await call('get', '/v1/repos/{repo_id}/webhooks', hooks);
  await call('get', '/v1/repos/{repo_id}/webhooks/{hook_id}', hook);
  await call('patch', '/v1/repos/{repo_id}/webhooks/{hook_id}', hook, { filters: null });
  await call('post', '/v1/repos/{repo_id}/webhooks/{hook_id}/pings', `${hook}/pings`);
  await call('post', '/v1/repos/{repo_id}/webhooks', hooks, { url: receiver.url, events: ['lo*k'] });

  await call('post', '/v1/repos/{repo_id}/events', `${repoPath}/events`, pushEvent());
  await call('get', '/v1/repos/{repo_id}/events', `${repoPath}/events`);
  await waitUntil(() => receiver.requests.length >= 3, 10_000, 'the ping and push deliveries');
  const list = await waitUntil(async () => {
    const res = await svc.api('GET', `${hook}/deliveries`);
    return res.json.data.every((d: any) => d.status === 'delivered') && res.json.data.length === 3 ? res : null;
  }, 10_000, 'three delivered deliveries') as ApiResponse;
  checker.check('get', '/v1/repos/{repo_id}/webhooks/{hook_id}/deliveries', list);
  const delivery = `${hook}/deliveries/${list.json.data[0].id}`;
  await call('get', '/v1/repos/{repo_id}/webhooks/{hook_id}/deliveries/{delivery_id}', delivery);
  await call('post', '/v1/repos/{repo_id}/webhooks/{hook_id}/deliveries/{delivery_id}/redeliver', `${delivery}/redeliver`);
  await call('get', '/v1/repos/{repo_id}/webhooks/{hook_id}/deliveries/{delivery_id}', `${hook}/deliveries/00000000-0000-4000-8000-000000000000`);
  const replay = await call('post', '/v1/repos/{repo_id}/webhooks/{hook_id}/replays', `${hook}/replays`, { since: '2020-01-01T00:00:00Z', status: 'all' });
  await call('get', '/v1/repos/{repo_id}/webhooks/{hook_id}/replays', `${hook}/replays`);
  await call('get', '/v1/repos/{repo_id}/webhooks/{hook_id}/replays/{replay_id}', `${hook}/replays/${replay.json.id}`);

  const owner = await call('post', '/v1/owners/{owner}/webhooks', '/v1/owners/docs/webhooks', { url: receiver.url, events: ['repo.*'], active: false });
  await call('get', '/v1/owners/{owner}/webhooks/{hook_id}', `/v1/owners/docs/webhooks/${owner.json.id}`);
  await call('post', '/v1/owners/{owner}/webhooks/{hook_id}/pings', `/v1/owners/docs/webhooks/${owner.json.id}/pings`);

  await call('get', '/v1/event-types', '/v1/event-types');
  await call('get', '/v1/event-types/{name}', '/v1/event-types/push');
  await call('get', '/v1/event-types/{name}', '/v1/event-types/nope');
  const token = await call('post', '/v1/tokens', '/v1/tokens', { name: 'reader', scopes: ['read'] });
  await call('get', '/v1/tokens', '/v1/tokens');
  await call('post', '/v1/repos', '/v1/repos', { owner: 'docs', name: 'denied' }, token.json.token);
  await call('delete', '/v1/tokens/{token_id}', `/v1/tokens/${token.json.id}`);
  await call('get', '/v1/errors', '/v1/errors', undefined, '');
  await call('get', '/healthz', '/healthz', undefined, '');
  await call('get', '/readyz', '/readyz', undefined, '');
  await call('delete', '/v1/repos/{repo_id}/webhooks/{hook_id}', hook);
  await call('delete', '/v1/repos/{repo_id}', repoPath);

  for (const expected of ['post /v1/repos 400', 'get /v1/repos 401', 'post /v1/repos 403', 'post /v1/repos 409', 'get /v1/repos/{repo_id} 404']) {
    assert.ok(checker.checked.has(expected), `checked ${expected}`);
  }
  assert.ok(checker.checked.size >= 35, `checked ${checker.checked.size} operation and status pairs`);
});

test('event ingestion body documents every event', () => {
  const ingest = doc.components.schemas.EventIngest as any;
  const ingestible = listEventTypes().filter((type) => type.ingestible).map((type) => type.name);
  assert.deepEqual(ingest.properties.event.enum, ingestible);
  assert.deepEqual(ingest.oneOf.map((branch: any) => branch.title), ingestible);
  assert.equal(getEventType('ping')?.ingestible, false);
  assert.equal('ingest.ping' in doc.components.schemas, false);
});

test('reference page renders every operation', async () => {
  const res = await svc.api('GET', '/docs', undefined, { token: '' });
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
  assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
  const html = res.text;
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script/i, 'no scripts');
  assert.doesNotMatch(html, /<link\b/i, 'no external stylesheets');
  assert.doesNotMatch(html, /\ssrc=/i, 'no external resources');
  assert.doesNotMatch(html, /href="(?!#|\/openapi\.json")/, 'links stay on the page or go to the document');

  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const start = html.indexOf(`id="op-${operation.operationId}"`);
      assert.ok(start >= 0, `page has ${method} ${path}`);
      const article = html.slice(start, html.indexOf('</article>', start));
      assert.ok(article.includes(`<code>${path}</code>`), `article shows the path ${path}`);
      const scope = operation.security[0]?.bearerAuth?.[0];
      if (scope) assert.ok(article.includes(`the <code>${scope}</code> scope`), `article shows scope ${scope} of ${method} ${path}`);
      else if (operation.security.length > 0) assert.ok(article.includes('a bearer token of any scope'), `article shows that ${method} ${path} takes any token`);
      else assert.ok(article.includes('Public: no token needed.'), `article shows ${method} ${path} is public`);
      for (const status of Object.keys(operation.responses)) assert.ok(article.includes(`<td>${status}</td>`), `article lists response ${status} of ${method} ${path}`);
    }
  }

  const createHookArticle = html.slice(html.indexOf('id="op-createRepositoryWebhook"'));
  assert.match(createHookArticle, /Request body \(application\/json\): <a href="#schema-WebhookCreate">WebhookCreate<\/a>/);
  for (const field of Object.keys(webhookCreateSchema.properties)) assert.ok(createHookArticle.includes(`<code>${field}</code>`), `request body field ${field}`);
  const listDeliveries = html.slice(html.indexOf('id="op-listRepositoryWebhookDeliveries"'));
  assert.match(listDeliveries, /<td><code>status<\/code><\/td><td>query<\/td>/);

  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const [, target] of html.matchAll(/href="#([^"]+)"/g)) assert.ok(ids.includes(target), `link #${target} has a target`);
  assert.ok(ids.includes('schema-payload.push'), 'event payload schemas are shown');
});
