// Every route of the server, called with every kind of token: the response
// is 401 or 403 exactly when the token does not grant the route's scope, and
// never a 5xx. The route list comes from the server itself, so a new route
// fails this test until the table below states the scope it needs.
//
// Network safety: the only delivery target is a Receiver on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TokenScope } from '../../src/store/types.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { fillRoute } from './support.js';

type Requirement = TokenScope | 'any' | 'public';

/**
 * The scope each route requires, written out by hand so that a change in the
 * code shows up here. HEAD routes follow their GET route.
 */
const EXPECTED: Record<string, Requirement> = {
  'GET /': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
  'GET /openapi.json': 'public',
  'GET /docs': 'public',
  'GET /dashboard': 'public',
  'GET /dashboard/': 'public',
  'GET /dashboard/:file': 'public',
  'GET /v1/errors': 'public',
  'POST /v1/repos': 'write',
  'GET /v1/repos': 'read',
  'GET /v1/repos/:repoId': 'read',
  'PATCH /v1/repos/:repoId': 'write',
  'DELETE /v1/repos/:repoId': 'write',
  'POST /v1/repos/:repoId/webhooks': 'write',
  'GET /v1/repos/:repoId/webhooks': 'read',
  'GET /v1/repos/:repoId/webhooks/:hookId': 'read',
  'PATCH /v1/repos/:repoId/webhooks/:hookId': 'write',
  'DELETE /v1/repos/:repoId/webhooks/:hookId': 'write',
  'POST /v1/repos/:repoId/webhooks/:hookId/pings': 'write',
  'GET /v1/repos/:repoId/webhooks/:hookId/deliveries': 'read',
  'GET /v1/repos/:repoId/webhooks/:hookId/deliveries/:deliveryId': 'read',
  'POST /v1/repos/:repoId/webhooks/:hookId/deliveries/:deliveryId/redeliver': 'write',
  'POST /v1/repos/:repoId/webhooks/:hookId/replays': 'write',
  'GET /v1/repos/:repoId/webhooks/:hookId/replays': 'read',
  'GET /v1/repos/:repoId/webhooks/:hookId/replays/:replayId': 'read',
  'POST /v1/owners/:owner/webhooks': 'write',
  'GET /v1/owners/:owner/webhooks': 'read',
  'GET /v1/owners/:owner/webhooks/:hookId': 'read',
  'PATCH /v1/owners/:owner/webhooks/:hookId': 'write',
  'DELETE /v1/owners/:owner/webhooks/:hookId': 'write',
  'POST /v1/owners/:owner/webhooks/:hookId/pings': 'write',
  'GET /v1/owners/:owner/webhooks/:hookId/deliveries': 'read',
  'GET /v1/owners/:owner/webhooks/:hookId/deliveries/:deliveryId': 'read',
  'POST /v1/owners/:owner/webhooks/:hookId/deliveries/:deliveryId/redeliver': 'write',
  'POST /v1/owners/:owner/webhooks/:hookId/replays': 'write',
  'GET /v1/owners/:owner/webhooks/:hookId/replays': 'read',
  'GET /v1/owners/:owner/webhooks/:hookId/replays/:replayId': 'read',
  'POST /v1/repos/:repoId/events': 'events:write',
  'GET /v1/repos/:repoId/events': 'read',
  'GET /v1/event-types': 'read',
  'GET /v1/event-types/:name': 'read',
  'POST /v1/tokens': 'admin',
  'GET /v1/tokens': 'admin',
  'DELETE /v1/tokens/:tokenId': 'admin',
  'GET /v1/token': 'any',
};

/** What each kind of token may do, stated independently of the server's own table. */
const GRANTS: Record<string, readonly TokenScope[]> = {
  admin: ['admin', 'write', 'events:write', 'read'],
  write: ['write', 'events:write', 'read'],
  'events:write': ['events:write'],
  read: ['read'],
  none: [],
  revoked: [],
  malformed: [],
};

function requirementOf(method: string, url: string): Requirement | undefined {
  return EXPECTED[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

let svc: TestService;
let receiver: Receiver;
const tokens: Record<string, string | null> = {};
const values: Record<string, string | number> = {};

before(async () => {
  receiver = await Receiver.start();
  svc = await startTestService({ overrides: { pollIntervalMs: 50 } });

  const hook = await createHook(svc, receiver.url, { owner: 'scoped', name: 'scopes' });
  await svc.api('POST', `/v1/repos/${hook.repoId}/events`, pushEvent());
  const delivery = await waitUntil(async () => (await svc.api('GET', `${hook.base}/deliveries`)).json.data[0], 10_000, 'a delivery');
  const ownerHook = await svc.api('POST', '/v1/owners/scoped/webhooks', { url: receiver.url, events: ['push'], secret: 'owner-scope-secret-01', active: false });
  Object.assign(values, { repoId: hook.repoId, hookId: hook.hookId, deliveryId: delivery.id, owner: 'scoped', ownerHookId: ownerHook.json.id, name: 'push', file: 'app.js', replayId: 1 });

  for (const scope of ['admin', 'write', 'events:write', 'read']) {
    const created = await svc.api('POST', '/v1/tokens', { name: `scope-${scope}`, scopes: [scope] });
    assert.equal(created.status, 201, created.text);
    tokens[scope] = created.json.token;
  }
  const revoked = await svc.api('POST', '/v1/tokens', { name: 'scope-revoked', scopes: ['admin'] });
  assert.equal((await svc.api('DELETE', `/v1/tokens/${revoked.json.id}`)).status, 204);
  tokens.revoked = revoked.json.token;
  tokens.none = null;
  tokens.malformed = 'not a bearer token';
  values.tokenId = revoked.json.id;
});

after(async () => {
  await svc.stop();
  await receiver.close();
});

/** Builds the path to call: real ids for reads, ids that do not exist for deletes, so that no call removes what later calls use. */
function pathFor(method: string, url: string): string {
  const hookId = url.startsWith('/v1/owners') ? values.ownerHookId : values.hookId;
  if (method === 'DELETE') return fillRoute(url, { ...values, repoId: 999_999, hookId: 999_999, tokenId: 999_999 });
  return fillRoute(url, { ...values, hookId });
}

/** Returns a body that the route rejects as invalid after authentication, so that granted calls change nothing. */
function bodyFor(method: string): { raw?: string; headers?: Record<string, string> } {
  if (method === 'POST' || method === 'PATCH') return { raw: '{"unknown_field": true}', headers: { 'content-type': 'application/json' } };
  return {};
}

test('every route has a scope expectation', () => {
  const routes = svc.server!.routeList;
  const missing = routes.filter((route) => requirementOf(route.method, route.url) === undefined).map((route) => `${route.method} ${route.url}`);
  assert.deepEqual(missing, [], 'add these routes to EXPECTED with the scope they need');
  const registered = new Set(routes.map((route) => `${route.method} ${route.url}`));
  const stale = Object.keys(EXPECTED).filter((key) => !registered.has(key));
  assert.deepEqual(stale, [], 'these EXPECTED entries name routes that no longer exist');
  for (const route of routes) {
    const expected = requirementOf(route.method, route.url);
    assert.equal(route.scope ?? 'public', expected, `${route.method} ${route.url} declares scope ${route.scope}`);
  }
});

describe('scope matrix', () => {
  test('responses match the grants', async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const route of svc.server!.routeList) {
      const requirement = requirementOf(route.method, route.url);
      if (requirement === undefined) continue;
      for (const [kind, granted] of Object.entries(GRANTS)) {
        const token = tokens[kind];
        const path = pathFor(route.method, route.url);
        const headers: Record<string, string> = { ...bodyFor(route.method).headers };
        if (kind === 'malformed') headers.authorization = token as string;
        const res = await svc.api(route.method, path, undefined, {
          token: token === null || kind === 'malformed' ? '' : token,
          headers,
          raw: bodyFor(route.method).raw,
        });
        calls++;
        const label = `${route.method} ${path} as ${kind}: ${res.status} ${res.text.slice(0, 160)}`;
        if (res.status >= 500) failures.push(`server error for ${label}`);
        const allowed = requirement === 'public' || (requirement === 'any' ? granted.length > 0 : granted.includes(requirement));
        if (allowed && (res.status === 401 || res.status === 403)) failures.push(`rejected although granted: ${label}`);
        if (!allowed) {
          const expectedStatus = granted.length === 0 ? 401 : 403;
          const expectedCode = expectedStatus === 401 ? 'unauthorized' : 'insufficient_scope';
          if (res.status !== expectedStatus) failures.push(`expected ${expectedStatus}: ${label}`);
          else if (route.method !== 'HEAD' && res.json?.error?.code !== expectedCode) failures.push(`expected code ${expectedCode}: ${label}`);
        }
      }
    }
    assert.ok(calls >= Object.keys(EXPECTED).length * Object.keys(GRANTS).length, `made ${calls} calls`);
    assert.deepEqual(failures, []);
  });
});
