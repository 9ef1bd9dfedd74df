// A fuzz run against one service: at least 10,000 generated requests over
// every route (random methods, ids, query strings, JSON-ish and binary
// bodies, content types and tokens), 20 at a time, within 60 seconds. No
// response may be a 5xx, no request may hang, and the service must still
// respond to /healthz at the end. FUZZ_SEED=<n> replays a run.
//
// Network safety: requests go only to the service on 127.0.0.1. The service
// runs without a delivery worker and resolves every host name with an
// injected resolver, so no webhook created here is ever called.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import type { Resolver } from '../../src/delivery/target-host.js';
import type { RouteEntry } from '../../src/api/context.js';
import { pushEvent } from '../support/fixtures.js';
import { startTestService, type TestService } from '../support/service.js';
import { fillRoute } from './support.js';

const REQUESTS = 10_000;
const CONCURRENCY = 20;
const TIME_LIMIT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a small seeded generator, so that a failing run can be replayed with FUZZ_SEED. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const chance = (p: number): boolean => random() < p;
const integer = (max: number): number => Math.floor(random() * max);

const STRANGE_STRINGS = [
  '', ' ', 'a', '0', '-1', '1e309', 'NaN', 'null', 'true', '__proto__', 'constructor', '../../etc/passwd', '%00', '%2e%2e', '\u0000',
  '\r\nX-Evil: 1', '\u202e', '\ud83d\ude00', '\uffff', 'ß', '*', 'lock.*', '*.deleted', 'push', 'ping', 'x'.repeat(300), '<script>', "' OR 1=1 --",
  'http://127.0.0.1:9/hook', 'http://user:pass@127.0.0.1:9/?token=t', 'http://[::1]:9/', 'http://169.254.169.254/', 'http://fuzz.example.com/hook',
  'file:///etc/passwd', 'javascript:alert(1)', 'whsec_' + 'A'.repeat(44), '2026-01-02T03:04:05Z', 'not-a-date', 'refs/heads/main',
];
const STRANGE_NUMBERS = [0, -1, 1, 2, 3, 0.5, 2 ** 31, 2 ** 53 - 1, -(2 ** 53), 1e308, -0, 123456789];
const EVENT_NAMES = ['push', 'push.tag', 'push.force', 'repo.created', 'repo.deleted', 'branch.created', 'tag.deleted', 'lock.acquired', 'lock.broken', 'member.added', 'comment.created', 'ping'];

function randomString(): string {
  if (chance(0.6)) return pick(STRANGE_STRINGS);
  const length = integer(40);
  let text = '';
  for (let i = 0; i < length; i++) text += String.fromCharCode(chance(0.9) ? 32 + integer(95) : integer(0xd7ff));
  return text;
}

function randomJson(depth = 0): unknown {
  const roll = random();
  if (depth > 5 || roll < 0.3) return pick<unknown>([null, true, false, randomString(), pick(STRANGE_NUMBERS)]);
  if (roll < 0.6) return Array.from({ length: integer(5) }, () => randomJson(depth + 1));
  const object: Record<string, unknown> = {};
  for (let i = integer(6); i > 0; i--) object[chance(0.7) ? pick(['owner', 'name', 'url', 'events', 'secret', 'active', 'filters', 'event', 'sender', 'ref', 'scopes', 'since', 'status', 'id']) : randomString()] = randomJson(depth + 1);
  return object;
}

/** Request bodies that pass validation, so that mutations of them reach deep into the handlers. */
function validTemplate(method: string, url: string): Record<string, unknown> | null {
  if (url.endsWith('/events') && method === 'POST') return { ...pushEvent(), event: pick(['push', 'push.force', 'repo.created', 'branch.created']) };
  if (url.endsWith('/webhooks') || (url.endsWith('/:hookId') && method === 'PATCH')) {
    return { url: pick(['http://fuzz.example.com/hook', 'http://127.0.0.1:9/hook']), events: [pick(EVENT_NAMES)], secret: 'fuzz-secret-0123456789', active: chance(0.5), filters: { branches: ['main'] } };
  }
  if (url === '/v1/repos' || url === '/v1/repos/:repoId') return { owner: pick(['fuzz', 'other']), name: `repo-${integer(50)}`, private: chance(0.5) };
  if (url === '/v1/tokens') return { name: 'fuzz', scopes: [pick(['read', 'write', 'events:write'])] };
  if (url.endsWith('/replays')) return { since: '2020-01-01T00:00:00Z', status: pick(['failed', 'all']) };
  return null;
}

function mutate(template: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...template };
  const keys = Object.keys(copy);
  for (let i = integer(3); i >= 0; i--) {
    const roll = random();
    if (roll < 0.3 && keys.length > 0) delete copy[pick(keys)];
    else if (roll < 0.7 && keys.length > 0) copy[pick(keys)] = randomJson(3);
    else copy[randomString()] = randomJson(3);
  }
  return copy;
}

interface Body {
  bytes?: Buffer;
  contentType?: string;
}

function randomBody(method: string, url: string): Body {
  const roll = random();
  const template = validTemplate(method, url);
  const contentType = chance(0.8)
    ? 'application/json'
    : pick(['application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'application/octet-stream', 'a/b', 'application/json; charset=latin1']);
  if (roll < 0.1) return {};
  if (roll < 0.35 && template) return { bytes: Buffer.from(JSON.stringify(template)), contentType };
  if (roll < 0.6 && template) return { bytes: Buffer.from(JSON.stringify(mutate(template))), contentType };
  if (roll < 0.8) return { bytes: Buffer.from(JSON.stringify(randomJson())), contentType };
  if (roll < 0.87) {
    const text = JSON.stringify(template ?? randomJson());
    return { bytes: Buffer.from(text.slice(0, integer(text.length + 1))), contentType };
  }
  if (roll < 0.93) return { bytes: Buffer.from(Array.from({ length: integer(2048) }, () => integer(256))), contentType };
  if (roll < 0.99) return { bytes: Buffer.from('{"a":' + '['.repeat(100 + integer(2000)) + ']'.repeat(integer(2000)) + '}'), contentType };
  // Just over the 1 MiB limit of most routes, and under the 10 MiB limit of event ingestion.
  return { bytes: Buffer.from(JSON.stringify({ pad: 'p'.repeat(1024 * 1024 + integer(64 * 1024)) })), contentType };
}

function randomId(name: string): string {
  const roll = random();
  let id: string;
  if (roll < 0.5) id = String(1 + integer(6));
  else if (roll < 0.6) id = pick(['0', '-1', '99999999999999999999', '1.5', '1e3', '0x10', ' 1', '01']);
  else if (roll < 0.7 && name === 'deliveryId') id = '00000000-0000-4000-8000-00000000000' + integer(10);
  else if (roll < 0.8 && name === 'owner') id = pick(['fuzz', 'other', 'a'.repeat(120)]);
  else if (roll < 0.85 && name === 'name') id = pick(EVENT_NAMES);
  else id = randomString();
  // Token ids 1 and 2 are the tokens this run uses; revoking them would end the run's access.
  if (name === 'tokenId' && (id === '1' || id === '2')) id = '3';
  return id;
}

/** Picks a route (or, rarely, none) and builds a path to it with random ids and query parameters. */
function randomTarget(routes: readonly RouteEntry[]): { path: string; route: RouteEntry | null } {
  if (chance(0.03)) return { path: '/' + encodeURIComponent(randomString()), route: null };
  // Management routes carry the input handling, so they are picked more often than HEAD, health and dashboard routes.
  const apiRoutes = routes.filter((entry) => entry.url.startsWith('/v1/') && entry.method !== 'HEAD');
  const route = chance(0.75) ? pick(apiRoutes) : pick(routes);
  const params = Object.fromEntries([...route.url.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => [name, randomId(name)]));
  let path = fillRoute(route.url, params);
  if (chance(0.3)) {
    const query = Array.from({ length: 1 + integer(3) }, () => `${encodeURIComponent(pick(['limit', 'cursor', 'status', 'event', 'owner', 'full_name', randomString()]))}=${encodeURIComponent(chance(0.5) ? String(pick(STRANGE_NUMBERS)) : randomString())}`);
    path += '?' + query.join('&');
  }
  return { path, route };
}

interface Outcome {
  status: number | null;
  error: string | null;
}

let svc: TestService;
let fuzzToken = '';
const resolver: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];

before(async () => {
  svc = await startTestService({ resolver, overrides: { role: 'api', allowPrivateTargets: false, rateLimitPerMinute: 10_000_000 } });
  const created = await svc.api('POST', '/v1/tokens', { name: 'fuzz', scopes: ['admin'] });
  fuzzToken = created.json.token;
  for (let i = 0; i < 3; i++) await svc.api('POST', '/v1/repos', { owner: 'fuzz', name: `seed-${i}` });
});

after(async () => {
  await svc.stop();
});

async function send(method: string, path: string, body: Body, headers: Record<string, string>): Promise<Outcome> {
  if (body.contentType && body.bytes) headers['content-type'] = body.contentType;
  try {
    const res = await request(svc.url + path, {
      method: method as 'GET',
      headers,
      body: method === 'GET' || method === 'HEAD' ? undefined : body.bytes,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await res.body.dump({ limit: 1024 * 1024 });
    return { status: res.statusCode, error: null };
  } catch (err) {
    const error = err as { code?: string; name?: string; message: string };
    return { status: null, error: `${error.code ?? error.name}: ${error.message}` };
  }
}

test('fuzzed requests never get a 5xx', async (t) => {
  const routes = svc.server!.routeList;
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let sent = 0;
  const started = Date.now();

  async function worker(): Promise<void> {
    while (sent < REQUESTS && Date.now() - started < TIME_LIMIT_MS) {
      sent++;
      const { path, route } = randomTarget(routes);
      const method = chance(0.75) && route ? route.method : pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
      const body = randomBody(method, route?.url ?? '');
      const headers: Record<string, string> = {};
      const auth = random();
      if (auth < 0.85) headers.authorization = `Bearer ${fuzzToken}`;
      else if (auth < 0.9) headers.authorization = pick(['Bearer ', 'Basic YTpi', `Bearer ${'x'.repeat(600)}`, 'Bearer dwt_unknown', 'bearer  spaced']);
      if (chance(0.1)) headers['idempotency-key'] = encodeURIComponent(randomString()).slice(0, 300) || 'k';
      if (chance(0.05)) headers['last-event-id'] = String(integer(100));
      const outcome = await send(method, path, body, headers);
      if (outcome.status !== null) statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
      if (outcome.status === null || outcome.status >= 500) {
        failures.push(`${method} ${path.slice(0, 120)} (${body.contentType ?? 'no body'}, ${body.bytes?.length ?? 0} bytes): ${outcome.status ?? outcome.error}`);
      }
    }
  }

  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
  const elapsed = Date.now() - started;
  t.diagnostic(`seed ${SEED}: ${sent} requests in ${elapsed} ms with ${CONCURRENCY} in flight; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);

  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures with FUZZ_SEED=${SEED}`);
  assert.ok(sent >= REQUESTS, `only ${sent} requests within ${TIME_LIMIT_MS} ms`);
  const health = await svc.api('GET', '/healthz');
  assert.equal(health.status, 200);
  assert.ok([...statuses.keys()].some((status) => status >= 200 && status < 300), 'some requests succeeded');
});
