import type { Agent } from 'undici';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { envName, loadConfig, unknownEnvVariables, type Config, type ConfigSources } from './config.js';
import { createLogger } from './logger.js';
import { SqliteStore } from './store/sqlite/store.js';
import type { Store } from './store/types.js';
import { isStoreConnectionLost } from './errors.js';
import { DeliveryWorker } from './delivery/worker.js';
import { createGuardedAgent } from './delivery/guarded-connector.js';
import { systemResolver, type Resolver } from './delivery/target-host.js';
import { EventIngestor } from './events/ingest.js';
import { buildOperationsServer, buildServer } from './api/server.js';
import { registerDashboardRoutes } from './dashboard/routes.js';
import { issueToken } from './api/routes/tokens.js';
import { SecretBox } from './signing/secret-box.js';
import { SecretReadiness, warnAboutUnavailableSecrets } from './signing/secret-check.js';
import { pruneServiceProcesses, runningServiceProcesses, ServicePresence } from './service-presence.js';
import { Metrics } from './metrics.js';
import type { ApiContext } from './api/context.js';

export interface ServiceOptions extends ConfigSources {
  logger?: Logger;
  /** Resolver for target host names; tests inject one so that no real DNS is asked. */
  resolver?: Resolver;
  clock?: () => number;
  random?: () => number;
  /** Output function for the first admin token; default stdout. */
  announce?: (line: string) => void;
  /** Wait of finished attempts for an ingestion to record them, in ms; tests raise it to make that path certain. */
  rideWaitMs?: number;
  /** Idle limit of API connections, in ms; tests shorten it. */
  idleConnectionTimeoutMs?: number;
}

export interface Service {
  config: Readonly<Config>;
  store: Store;
  logger: Logger;
  /** Base URL of the API, or null when this process runs only a worker. */
  url: string | null;
  /** Base URL of the health and metrics routes of a worker-only process, or null. */
  metricsUrl: string | null;
  /** The admin token created at first start, or null when tokens already existed. */
  adminToken: string | null;
  worker: DeliveryWorker | null;
  server: FastifyInstance | null;
  /** Stops accepting requests, lets deliveries in flight finish within the grace period, closes the store. */
  close(): Promise<void>;
}

/** Error codes of opening the SQLite file that a different data folder fixes. */
const DATA_DIR_FAILURES = new Set([
  'EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOTSUP', 'ENOENT', 'ELOOP', 'ENAMETOOLONG', 'SQLITE_CANTOPEN', 'SQLITE_READONLY',
]);

/** Error codes of a PostgreSQL connection that the databaseUrl setting or the server's state explains: network, authentication, unknown database. */
const DATABASE_CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', '28P01', '28000', '3D000']);

/** Explains, by error code, a failed listen that the configuration can fix. */
const LISTEN_FAILURES: Record<string, (host: string, port: number) => string> = {
  EADDRINUSE: (host, port) => `port ${port} on ${host} is already in use; stop the process that holds it, or set another port with --port or ${envName('port')}`,
  EACCES: (host, port) => `port ${port} on ${host} needs privileges this process lacks; set a port above 1023 with --port or ${envName('port')}`,
  EADDRNOTAVAIL: (host) => `host ${host} is not an address of this machine; set another host with --host or ${envName('host')}`,
  ENOTFOUND: (host) => `host ${host} cannot be resolved; set an IP address or a name this machine resolves with --host or ${envName('host')}`,
  EAI_AGAIN: (host) => `host ${host} cannot be resolved right now; set an IP address with --host or ${envName('host')}`,
};

/** Starts listening and returns the base URL, with a wildcard bind address shown as 127.0.0.1. */
async function listen(server: FastifyInstance, config: Readonly<Config>): Promise<string> {
  try {
    await server.listen({ host: config.host, port: config.port });
  } catch (err) {
    const explain = LISTEN_FAILURES[(err as { code?: string }).code ?? ''];
    if (explain === undefined) throw err;
    throw new Error(`cannot listen: ${explain(config.host, config.port)}`);
  }
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
}

/**
 * Time for which a closing server keeps its idle kept-alive connections, in
 * ms, so that a request already on its way gets 503 instead of a reset.
 * Without it, the shutdown test saw 2 of about 300 requests reset.
 */
export const SHUTDOWN_LINGER_MS = 200;

/**
 * Stops the HTTP server: it accepts no new connection, lets requests in
 * progress finish, and closes idle connections after SHUTDOWN_LINGER_MS and
 * then as they turn idle. The connections still open when `graceMs` ends,
 * such as a request whose body arrives slowly, are closed then.
 */
async function closeServer(server: FastifyInstance, graceMs: number): Promise<void> {
  const http = server.server;
  const closeIdleConnections = http.closeIdleConnections.bind(http);
  // server.close() closes idle connections at once; the replacement leaves that to the timer below.
  http.closeIdleConnections = () => {};
  const idleCloser = setInterval(closeIdleConnections, Math.min(SHUTDOWN_LINGER_MS, graceMs));
  const deadline = setTimeout(() => http.closeAllConnections(), graceMs);
  try {
    await server.close();
  } finally {
    clearInterval(idleCloser);
    clearTimeout(deadline);
  }
}

/** Opens the store that the configuration names; `logger` receives errors the store recovers from by itself. */
export async function openStore(config: Readonly<Config>, logger?: Logger): Promise<Store> {
  if (config.databaseUrl) {
    const { PostgresStore } = await import('./store/postgres/store.js');
    const store = new PostgresStore(config.databaseUrl, {
      schema: config.databaseSchema,
      onError: (err, context) => logger?.warn({ err }, context),
    });
    try {
      await store.migrate();
    } catch (err) {
      await store.close().catch(() => undefined);
      const code = (err as { code?: string }).code ?? '';
      // node-postgres reports a failed TLS negotiation, such as an sslmode the server cannot serve, with a message and no code.
      const tls = code === '' && /\bSSL\b/.test((err as Error).message);
      if (!DATABASE_CONNECT_FAILURES.has(code) && !tls && !isStoreConnectionLost(err)) throw err;
      const check = tls ? 'sslmode and the other TLS parameters of the URL' : 'the URL';
      throw new Error(
        `cannot reach the PostgreSQL database of databaseUrl (${(err as Error).message}); check ${check} in --database or ${envName('databaseUrl')}, and that the server runs and accepts this user`,
      );
    }
    return store;
  }
  try {
    return new SqliteStore(join(config.dataDir, 'dits-webhooks.db'), {
      synchronous: config.sqliteSynchronous,
      onError: (message) => logger?.error({ error: message }, 'SQLite maintenance failed'),
    });
  } catch (err) {
    if (!DATA_DIR_FAILURES.has((err as { code?: string }).code ?? '')) throw err;
    throw new Error(
      `dataDir ${config.dataDir} cannot hold the database (${(err as Error).message}); set a writable folder with --data-dir or ${envName('dataDir')}`,
    );
  }
}

/** Starts the API, the worker or both, as the configuration's role selects. */
export async function startService(options: ServiceOptions = {}): Promise<Service> {
  const config = loadConfig(options);
  const logger = options.logger ?? createLogger(config.logLevel);
  for (const { name, closest } of unknownEnvVariables(options.env ?? {})) {
    logger.warn({ variable: name }, `environment variable ${name} is not a setting and is ignored; did you mean ${closest}? The README's configuration table lists every variable`);
  }
  const clock = options.clock ?? Date.now;
  const store = await openStore(config, logger);
  const secretBox = new SecretBox(config.encryptionKey);
  const metrics = new Metrics(store);
  const resolver = options.resolver ?? systemResolver;
  const policy = { allowPrivateTargets: config.allowPrivateTargets, allowCidrs: [...config.allowCidrs] };

  let worker: DeliveryWorker | null = null;
  /** The HTTP agents of the worker's requests, closed at shutdown. */
  const agents: Agent[] = [];
  const wakeWorker = () => worker?.notify();
  const ingestor = new EventIngestor(store, logger, wakeWorker, clock);
  let server: FastifyInstance | null = null;
  let url: string | null = null;
  let metricsUrl: string | null = null;
  let adminToken: string | null = null;
  const secretReadiness = new SecretReadiness(store, secretBox);
  const context: ApiContext = {
    store, config, logger, ingestor, wakeWorker, clock, resolver, secretBox, secretReadiness, metrics, idleConnectionTimeoutMs: options.idleConnectionTimeoutMs,
  };

  // The port is bound first: a start that cannot listen ends before it prints a token or sends a delivery.
  try {
    if (config.role !== 'worker') {
      server = await buildServer(context, [registerDashboardRoutes]);
      url = await listen(server, config);
    } else {
      // A worker-only process still serves health checks and metrics scrapes, on the configured port.
      server = await buildOperationsServer(context);
      metricsUrl = await listen(server, config);
    }
  } catch (err) {
    await server?.close();
    await store.close();
    throw err;
  }

  const presence = new ServicePresence(store, config.role, logger);
  try {
    await presence.start();
  } catch (err) {
    await server?.close();
    await store.close();
    throw err;
  }
  await pruneServiceProcesses(store, Date.now()).catch((err: unknown) => logger.warn({ err }, 'removing the records of ended service processes failed'));
  // Recorded before the check, so that a `secrets reencrypt` starting meanwhile finds this process and stops.
  const reencrypting = (await runningServiceProcesses(store, Date.now(), presence.id)).filter((entry) => entry.role === 'reencrypt');
  if (reencrypting.length > 0) {
    await presence.stop();
    await server?.close();
    await store.close();
    throw new Error(
      `secrets reencrypt is running on this database (${reencrypting[0].id}); start the service with the new key once it has finished`,
    );
  }

  if (config.role !== 'worker' && (await store.countTokens()) === 0) {
    adminToken = (await issueToken(context, 'admin', ['admin'])).token;
    const announce = options.announce ?? ((line: string) => process.stdout.write(line + '\n'));
    announce(`Created the first admin token (shown only once, store it now): ${adminToken}`);
  }

  if (config.role !== 'api') {
    await warnAboutUnavailableSecrets(store, secretBox, logger);
    const agentOptions = { connectTimeoutMs: config.deliveryTimeoutMs, agentOptions: { pipelining: 1 } };
    const secure = createGuardedAgent(policy, resolver, agentOptions);
    const insecure = createGuardedAgent(policy, resolver, { ...agentOptions, insecure: true });
    agents.push(secure, insecure);
    worker = new DeliveryWorker({
      store,
      config,
      logger: logger.child({ component: 'worker' }),
      dispatcher: (insecureSsl) => (insecureSsl ? insecure : secure),
      openSecret: (stored) => secretBox.open(stored),
      observer: metrics,
      clock,
      random: options.random,
      rideWaitMs: options.rideWaitMs,
    });
    worker.start();
    ingestor.attachWorker(worker);
  }
  if (url) logger.info({ url, role: config.role, store: store.kind }, 'Dits Webhooks API listening');
  else logger.info({ url: metricsUrl, role: config.role, store: store.kind }, 'Dits Webhooks worker serving /healthz, /readyz and /metrics');

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      // The worker stops claiming at once rather than after the last HTTP request, and both get the same grace period.
      await Promise.all([server ? closeServer(server, config.shutdownGraceMs) : undefined, worker?.stop(config.shutdownGraceMs)]);
      // Requests still running after the grace period were recorded as interrupted and their leases released, so
      // their connections close now rather than keep the process alive until the receivers respond.
      await Promise.all(agents.map((agent) => agent.destroy()));
      await presence.stop();
      await store.close();
      logger.info('Dits Webhooks stopped');
      logger.flush?.();
    })();
    return closing;
  };
  return { config, store, logger, url, metricsUrl, adminToken, worker, server, close };
}
