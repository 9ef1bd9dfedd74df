import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventIngestor } from '../events/ingest.js';
import type { Store, TokenRecord } from '../store/types.js';
import type { Resolver } from '../delivery/target-host.js';
import type { SecretBox } from '../signing/secret-box.js';
import type { SecretReadiness } from '../signing/secret-check.js';
import type { Metrics } from '../metrics.js';

/** Everything the routes need, built once at start. */
export interface ApiContext {
  store: Store;
  config: Readonly<Config>;
  logger: Logger;
  ingestor: EventIngestor;
  /** Wakes the local worker, if this process runs one. */
  wakeWorker: () => void;
  clock: () => number;
  resolver: Resolver;
  secretBox: SecretBox;
  /** Reports a configured key that opens none of the stored secrets, for the readiness probe. */
  secretReadiness: SecretReadiness;
  metrics: Metrics;
  /** Idle limit of API connections, in ms; tests shorten it. Default: idleConnectionTimeoutMs(config). */
  idleConnectionTimeoutMs?: number;
}

/** The token a route requires: a scope, or `any` for any valid token whatever its scopes. */
export type RouteScope = import('../store/types.js').TokenScope | 'any';

/** One registered route and the token it requires, or null for a public route. */
export interface RouteEntry {
  method: string;
  url: string;
  scope: RouteScope | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered so far, filled by an onRoute hook. */
    routeList: readonly RouteEntry[];
  }
  interface FastifyRequest {
    token: TokenRecord | null;
    /** When the token was checked, on the monotonic clock (performance.now), in ms. */
    tokenCheckedAt: number;
  }
  interface FastifyContextConfig {
    /** Scope the route requires, or `any` for any valid token; routes without one are public. */
    scope?: RouteScope;
    /** True for routes that validate their own query parameters. Every other route rejects any query parameter. */
    readsQuery?: boolean;
    /** True for POST routes that take no body, such as pings: a body with fields gets a 400 rather than being ignored. */
    takesNoBody?: boolean;
  }
}
