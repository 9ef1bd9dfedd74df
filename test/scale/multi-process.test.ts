/**
 * Two API processes and three worker processes on one PostgreSQL schema
 * deliver 10,000 events to loopback receivers. The first 8,000 go out with
 * nothing crashing and must arrive exactly once. During the last 2,000 one
 * worker is killed with SIGKILL, and only the deliveries it held may arrive
 * twice. Every receiver counts its open requests to check the per-webhook
 * in-flight limit across processes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Pool } from 'undici';
import { pushEvent } from '../support/fixtures.js';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../store/backends.js';
import { CountingReceiver } from './counting-receiver.js';
import { spawnServiceChild, stopChild, type ServiceChild } from './children.js';

const WEBHOOKS = 8;
const CALM_EVENTS = 8_000;
const CRASH_EVENTS = 2_000;
const MAX_IN_FLIGHT_PER_WEBHOOK = 4;
const LEASE_MS = 8_000;
const INGEST_CONCURRENCY = 32;

const schema = uniqueSchema('scale');
const env = {
  DITS_WEBHOOKS_DATABASE_URL: TEST_DATABASE_URL,
  DITS_WEBHOOKS_DATABASE_SCHEMA: schema,
  DITS_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
  DITS_WEBHOOKS_LEASE_MS: String(LEASE_MS),
  DITS_WEBHOOKS_DELIVERY_TIMEOUT_MS: '3000',
  DITS_WEBHOOKS_MAX_IN_FLIGHT_PER_WEBHOOK: String(MAX_IN_FLIGHT_PER_WEBHOOK),
  DITS_WEBHOOKS_POLL_INTERVAL_MS: '200',
  DITS_WEBHOOKS_RETRY_SCHEDULE: '1,1,1,1,1',
  DITS_WEBHOOKS_SHUTDOWN_GRACE_MS: '2000',
  DITS_WEBHOOKS_RATE_LIMIT_PER_MINUTE: '10000000',
};

const children: ServiceChild[] = [];
const receivers: CountingReceiver[] = [];
const clients: Pool[] = [];
let db: pg.Client;
let token = '';
const repoIds: number[] = [];

async function call(client: Pool, method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await client.request({
    method,
    path,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : null };
}

/** Posts `count` push events spread over the repositories and both API processes; returns the deliveries created. */
async function ingest(count: number, label: string): Promise<number> {
  let next = 0;
  let created = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const client = clients[i % clients.length];
      const res = await call(client, 'POST', `/v1/repos/${repoIds[i % repoIds.length]}/events`, pushEvent(`${label} ${i}`));
      if (res.status !== 202) throw new Error(`ingesting event ${i} answered ${res.status}: ${JSON.stringify(res.json)}`);
      created += res.json.deliveries as number;
    }
  };
  await Promise.all(Array.from({ length: INGEST_CONCURRENCY }, lane));
  return created;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const uniqueReceived = () => receivers.reduce((n, r) => n + r.received.size, 0);
const totalReceived = () => receivers.reduce((n, r) => n + r.total, 0);

before(async () => {
  db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  for (let i = 0; i < WEBHOOKS; i++) receivers.push(await CountingReceiver.start());

  // The first API process creates the schema and the admin token before the others start.
  const first = await spawnServiceChild('api', env);
  children.push(first);
  token = first.adminToken ?? '';
  assert.ok(token, 'the first API process printed an admin token');
  children.push(...(await Promise.all([spawnServiceChild('api', env), ...[1, 2, 3].map(() => spawnServiceChild('worker', env))])));
  for (const api of children.filter((c) => c.role === 'api')) clients.push(new Pool(api.url as string, { connections: INGEST_CONCURRENCY }));

  for (let i = 0; i < WEBHOOKS; i++) {
    const client = clients[i % clients.length];
    const repo = await call(client, 'POST', '/v1/repos', { owner: 'scale', name: `project-${i}` });
    assert.equal(repo.status, 201);
    const hook = await call(client, 'POST', `/v1/repos/${repo.json.id}/webhooks`, { url: receivers[i].url, events: ['push'], secret: 'scale-test-secret-value', active: false });
    assert.equal(hook.status, 201);
    const activated = await call(client, 'PATCH', `/v1/repos/${repo.json.id}/webhooks/${hook.json.id}`, { active: true });
    assert.equal(activated.status, 200);
    repoIds.push(repo.json.id);
  }
});

after(async () => {
  for (const client of clients) await client.close();
  await Promise.all(children.map((child) => stopChild(child.process)));
  for (const receiver of receivers) await receiver.close();
  await db?.end();
  await dropSchema(schema);
});

test('multi-process delivery survives a killed worker', { timeout: 170_000 }, async (t) => {
  // Calm phase: nothing crashes, so every delivery arrives exactly once.
  const calmStart = Date.now();
  const calmCreated = await ingest(CALM_EVENTS, 'calm');
  assert.equal(calmCreated, CALM_EVENTS);
  await waitFor(() => uniqueReceived() >= CALM_EVENTS, 90_000, `${CALM_EVENTS} calm deliveries`);
  assert.equal(totalReceived(), CALM_EVENTS, 'no delivery was made twice while nothing crashed');
  t.diagnostic(`calm phase: ${CALM_EVENTS} events ingested and delivered in ${Date.now() - calmStart} ms`);

  // Crash phase: slow responses keep requests open while one worker is killed.
  for (const receiver of receivers) receiver.delayMs = () => 20 + Math.floor(Math.random() * 60);
  const crashIngest = ingest(CRASH_EVENTS, 'crash');
  await waitFor(() => totalReceived() >= CALM_EVENTS + 300, 30_000, 'crash-phase deliveries in flight');
  const workers = children.filter((c) => c.role === 'worker');
  const leaseCounts = await db.query(
    `SELECT lease_owner, count(*) AS n FROM ${schema}.deliveries WHERE lease_expires_at > $1 GROUP BY lease_owner`,
    [Date.now()],
  );
  const leasesOf = (w: ServiceChild) => Number(leaseCounts.rows.find((r) => r.lease_owner === w.workerId)?.n ?? 0);
  const victim = workers.reduce((a, b) => (leasesOf(b) > leasesOf(a) ? b : a));
  process.kill(victim.pid, 'SIGKILL');
  await new Promise<void>((resolve) => (victim.process.exitCode !== null || victim.process.signalCode !== null ? resolve() : victim.process.once('exit', () => resolve())));
  // The dead worker's leases stay until they expire, so they name exactly what it held.
  const orphaned = await db.query(`SELECT id FROM ${schema}.deliveries WHERE lease_owner = $1 AND lease_expires_at IS NOT NULL`, [victim.workerId]);
  const orphanIds = new Set(orphaned.rows.map((r) => String(r.id)));
  assert.ok(orphanIds.size > 0, 'the killed worker held leases');

  const crashCreated = await crashIngest;
  assert.equal(crashCreated, CRASH_EVENTS);
  const expected = CALM_EVENTS + CRASH_EVENTS;
  await waitFor(() => uniqueReceived() >= expected, 60_000, `all ${expected} deliveries`);
  await waitFor(async () => {
    const { rows } = await db.query(`SELECT count(*) AS n FROM ${schema}.deliveries WHERE status <> 'delivered' OR lease_expires_at IS NOT NULL`);
    return Number(rows[0].n) === 0;
  }, 30_000, 'every delivery to be recorded as delivered');

  // Nothing lost: the receivers saw every stored delivery, with its stored bytes on every attempt.
  const stored = await db.query(`SELECT id, webhook_id, body, attempts FROM ${schema}.deliveries`);
  assert.equal(stored.rowCount, expected);
  const byId = new Map(receivers.flatMap((r) => [...r.received]));
  let duplicates = 0;
  let aborted = 0;
  for (const row of stored.rows) {
    const reception = byId.get(String(row.id));
    assert.ok(reception, `delivery ${row.id} reached its receiver`);
    for (const body of reception.bodies) assert.ok(body.equals(row.body), `delivery ${row.id} was sent with its stored body`);
    aborted += reception.aborted;
    if (reception.count > 1) {
      duplicates += reception.count - 1;
      assert.ok(orphanIds.has(String(row.id)), `delivery ${row.id} repeated although the killed worker did not hold it`);
    }
  }
  assert.equal(totalReceived(), expected + duplicates);
  for (const [i, receiver] of receivers.entries()) {
    assert.ok(receiver.maxOpen <= MAX_IN_FLIGHT_PER_WEBHOOK, `webhook ${i} saw ${receiver.maxOpen} requests at once, limit ${MAX_IN_FLIGHT_PER_WEBHOOK}`);
  }
  t.diagnostic(
    `killed worker held ${orphanIds.size} leases; ${duplicates} deliveries repeated, ${aborted} requests cut off by the kill; ` +
      `max open per webhook ${Math.max(...receivers.map((r) => r.maxOpen))}`,
  );
});
