import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createPool, withTransaction } from '../../src/store/postgres/pool.js';
import { isStoreConnectionLost } from '../../src/errors.js';
import { waitUntil } from '../support/service.js';
import { TEST_DATABASE_URL } from './backends.js';

// A fast shutdown of the server ends connections with the same SQLSTATE, 57P01, as pg_terminate_backend.
// These tests end only the backends of connections that they opened themselves.

let admin: pg.Client;
let pool: pg.Pool;
const idleErrors: Error[] = [];

before(async () => {
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  pool = createPool(TEST_DATABASE_URL, { poolSize: 2, schema: 'public', onError: (err) => idleErrors.push(err) });
});

after(async () => {
  await pool.end();
  await admin.end();
});

test('transaction on an ended connection fails', async () => {
  let backendPid: number | null = null;
  const running = withTransaction(pool, async (client) => {
    backendPid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    await client.query('SELECT pg_sleep(10)');
  });
  await waitUntil(() => backendPid, 5000, 'the transaction to start');
  const ended = await admin.query('SELECT pg_terminate_backend($1) AS ended', [backendPid]);
  assert.equal(ended.rows[0].ended, true);

  // Without a listener on the checked-out connection, its error event would end this process here.
  await assert.rejects(running, /terminating connection due to administrator command|Connection terminated/);
  const next = await withTransaction(pool, async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number);
  assert.notEqual(next, backendPid, 'the ended connection was closed, not reused');
  assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
});

test('idle connection error leaves out the client', async () => {
  const client = await pool.connect();
  const backendPid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  client.release();
  await admin.query('SELECT pg_terminate_backend($1)', [backendPid]);
  const reported = await waitUntil(() => idleErrors.at(-1), 5000, 'the idle connection error');
  assert.match(reported.message, /terminating connection due to administrator command|Connection terminated/);
  assert.equal('client' in reported, false, 'the pg client object stays out of the log');
  assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
});

test('errors of an ended connection count as lost', async () => {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  const broken = new Promise<Error>((resolve) => client.once('error', resolve));
  await client.connect();
  const backendPid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  const during = client.query('SELECT pg_sleep(10)').catch((err: Error) => err);
  await waitUntil(async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [backendPid])).rowCount === 1, 5000, 'the query to run');
  await admin.query('SELECT pg_terminate_backend($1)', [backendPid]);
  const first = await during;
  assert.ok(isStoreConnectionLost(first), `the query that ran: ${first.message}`);
  assert.ok(isStoreConnectionLost(await broken), 'the error event');
  const later = await client.query('SELECT 1').catch((err: Error) => err);
  assert.ok(later instanceof Error);
  assert.ok(isStoreConnectionLost(later), `a query after the error: ${later.message}`);
  assert.equal(isStoreConnectionLost(new Error('relation "x" does not exist')), false);
  await client.end().catch(() => undefined);
});
