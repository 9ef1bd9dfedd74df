import pg from 'pg';

/** Schema names the store accepts: an unquoted PostgreSQL identifier in lower case. */
export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** SQLSTATE codes of transactions that PostgreSQL aborted and that succeed when run again. */
const RETRYABLE_CODES = new Set(['40P01', '40001']);
/** Attempts of one transaction that deadlocks or fails to serialise. */
const MAX_TRANSACTION_ATTEMPTS = 3;

export interface PoolOptions {
  poolSize: number;
  schema: string;
  /** Extra `-c name=value` session settings. */
  settings?: Record<string, string>;
  /** Receives errors of idle connections, which the pool then discards. */
  onError: (err: Error, context: string) => void;
}

/** Throws when `schema` is not a plain lower-case identifier. */
export function checkSchemaName(schema: string): void {
  if (!SCHEMA_NAME_PATTERN.test(schema)) {
    throw new Error(
      `PostgreSQL schema name must be 1 to 63 lower-case letters, digits or '_', starting with a letter or '_', got ${JSON.stringify(schema)}`,
    );
  }
}

/**
 * Returns the pg client configuration for the connection string with every
 * session's `search_path` set to `schema`. The connection string's own
 * `options` parameter would replace the pool's, so it is merged into it.
 */
export function clientConfig(connectionString: string, schema: string, settings: Record<string, string> = {}): pg.ClientConfig {
  checkSchemaName(schema);
  const url = new URL(connectionString);
  const extra = url.searchParams.get('options');
  url.searchParams.delete('options');
  const session = Object.entries({ search_path: schema, ...settings }).map(([name, value]) => `-c ${name}=${value}`);
  const options = [extra, ...session].filter(Boolean).join(' ');
  return { connectionString: url.toString(), options };
}

export function createPool(connectionString: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(connectionString, options.schema, options.settings), max: options.poolSize });
  // An idle connection that breaks (server restart, network) emits here; the pool drops it and opens a new one on demand.
  // pg-pool adds the whole client object to the error as `client`, which would fill a log line, so it is left out.
  pool.on('error', (err) => options.onError(withoutClient(err), 'idle PostgreSQL connection failed'));
  return pool;
}

/** Returns the error without the `client` property that pg-pool sets on errors of idle connections. */
function withoutClient(err: Error): Error {
  if (!('client' in err)) return err;
  const copy = new Error(err.message);
  Object.assign(copy, err);
  delete (copy as { client?: unknown }).client;
  copy.stack = err.stack;
  return copy;
}

function isRetryable(err: unknown): boolean {
  return RETRYABLE_CODES.has((err as { code?: string }).code ?? '');
}

/** Runs `work` again when PostgreSQL aborted it as a deadlock victim or serialisation failure, up to three attempts in all. */
export async function retryAborted<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= MAX_TRANSACTION_ATTEMPTS || !isRetryable(err)) throw err;
    }
  }
}

/** The state of a checked-out connection: the error that broke it, if one did. */
export interface Checkout {
  broken: Error | undefined;
}

/**
 * Checks a connection out of the pool, runs `work` with it and gives it
 * back. pg-pool listens for errors only on idle connections, and a
 * connection that the server ends while it is checked out (a restart, a
 * failover, pg_terminate_backend) emits an error that would end the process
 * without a listener. The listener keeps the process up, and the call in
 * progress fails. A connection with `broken` set is closed instead of reused.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient, checkout: Checkout) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const checkout: Checkout = { broken: undefined };
  const onError = (err: Error) => {
    checkout.broken ??= err;
  };
  client.on('error', onError);
  try {
    return await work(client, checkout);
  } finally {
    client.removeListener('error', onError);
    client.release(checkout.broken);
  }
}

/**
 * Runs `work` inside BEGIN/COMMIT on one pooled connection, rolling back on
 * error. A transaction that PostgreSQL aborted as a deadlock victim is run
 * again, so `work` must have no effects outside the database.
 */
export function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return retryAborted(() => runTransaction(pool, work));
}

function runTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client, checkout) => {
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that the server ended cannot roll back, and closing it ends the transaction anyway.
      if (checkout.broken === undefined) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // A connection whose ROLLBACK failed is in an unknown state.
          checkout.broken = rollbackError as Error;
        }
      }
      throw err;
    }
  });
}

/** Returns a builder of a named statement, which PostgreSQL parses and plans once per connection. */
export function prepared(name: string, text: string): (values?: unknown[]) => pg.QueryConfig {
  return (values = []) => ({ name, text, values });
}

/** Reports whether `schema` contains the tables of a Dits Webhooks store, without creating anything. */
export async function hasStoreSchema(connectionString: string, schema: string): Promise<boolean> {
  checkSchemaName(schema);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [`${schema}.schema_migrations`]);
    return rows[0].present === true;
  } finally {
    await client.end();
  }
}
