import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { joinField } from '../events/validate.js';
import { TOKEN_RECHECK_MS } from '../store/token-policy.js';
import { ApiError, ERROR_CATALOG, invalidRequest, isStoreConnectionLost, isStoreFull, isStoreLocked, type ErrorCode } from '../errors.js';
import type { Config } from '../config.js';
import type { ApiContext, RouteEntry } from './context.js';
import { parseJsonBody } from './json-body.js';
import { RateLimiter } from './rate-limit.js';
import { TokenUseRecorder } from './token-use.js';
import { hasScope, hashToken } from './tokens.js';
import { registerRepositoryRoutes } from './routes/repositories.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerDeliveryRoutes } from './routes/deliveries.js';
import { registerReplayRoutes } from './routes/replays.js';
import { registerEventRoutes } from './routes/events.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { answerReadiness, registerOperationsRoutes } from './routes/operations.js';
import { trackEventStreams } from './event-stream.js';
import { hasEmptyPathParameter, routeNotFoundError, trackRouteMethods } from './route-not-found.js';
import { countHeaderLines } from './raw-headers.js';

/** Time a client has to send the headers and body of one request, in ms. A 10 MiB event body needs about 90 KB/s to fit. */
export const REQUEST_TIMEOUT_MS = 120_000;

/**
 * Time a connection may go without any byte read or written before the server
 * closes it, in ms. A response that its client stops reading stays in the
 * server's memory until then; without this limit it stayed there for good.
 */
export const IDLE_CONNECTION_TIMEOUT_MS = 120_000;

/** Returns the idle limit of connections: IDLE_CONNECTION_TIMEOUT_MS, or more when event stream heartbeats are further apart. */
export function idleConnectionTimeoutMs(config: Pick<Config, 'eventStreamHeartbeatMs'>): number {
  return Math.max(IDLE_CONNECTION_TIMEOUT_MS, 2 * config.eventStreamHeartbeatMs);
}

function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.status(error.status).send(error.toJSON());
}

/** Maps fastify's own errors (body parsing, limits) to catalog errors. */
function fromFastifyError(error: FastifyError, limitBytes: number): ApiError | null {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', `Request body exceeds the limit of ${limitBytes} bytes; send a smaller body.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported_media_type', 'Request body must be sent with Content-Type: application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_json', 'Request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('invalid_request', 'Content-Length does not match the body sent.');
    default:
      if (error.statusCode === 400) return new ApiError('invalid_request', 'The request is malformed; check the method, path, headers and body.');
      return null;
  }
}

/**
 * Rejects a Content-Type charset other than UTF-8: the body is always decoded
 * as UTF-8, so text in another charset would be stored changed.
 */
function checkCharset(contentType: string | undefined): void {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1];
  if (charset === undefined || /^utf-?8$/i.test(charset)) return;
  throw new ApiError('unsupported_media_type', `Content-Type names the charset ${JSON.stringify(charset.slice(0, 40))}; send the JSON body as UTF-8, with charset=utf-8 or no charset.`);
}

/** Rejects a compressed body: the API reads JSON bodies as sent, so a gzip body would only fail as invalid JSON. */
function checkContentEncoding(encoding: string | undefined): void {
  if (encoding === undefined || /^\s*identity\s*$/i.test(encoding)) return;
  throw new ApiError('unsupported_media_type', `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; send the body uncompressed, without a Content-Encoding header.`);
}

/** Tells whether a parsed body is absent or an empty JSON object. */
function isEmptyBody(body: unknown): boolean {
  return body === undefined || (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
}

/** Sends the router's own errors (a malformed percent-escape in the path, an overlong path parameter) in the catalog's shape. */
function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'A path segment is longer than 100 characters, which no id or name of this API is; check the path.'
      : 'The request path is malformed (a percent sign must start a valid UTF-8 escape such as %20); check the path.';
  void sendError(reply, new ApiError('invalid_request', message));
}

/**
 * Responds to a request that Node's HTTP parser rejected before any route ran
 * (bad header characters, oversized headers, a timeout) in the catalog's
 * error shape, then closes the connection.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'request_header_too_large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'invalid_request';
  const messages: Record<string, string> = {
    request_header_too_large: `The request line and headers together exceed ${maxHeaderSize} bytes; shorten the URL and its query string, or send fewer or shorter headers.`,
    request_timeout: 'The request took too long to arrive; send it again at once.',
    invalid_request: 'The request is malformed (for example a header with control characters); check the method, path and headers.',
  };
  const body = JSON.stringify(new ApiError(code, messages[code]).toJSON());
  const status = ERROR_CATALOG[code].status;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function apiLogLevel(logger: ApiContext['logger']): string {
  if (logger.isLevelEnabled('debug')) return 'debug';
  return logger.isLevelEnabled('warn') ? 'warn' : logger.level;
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  // Node keeps the first of several Authorization lines, so a second token would be ignored without a word.
  if (countHeaderLines(request, 'authorization') > 1) {
    throw new ApiError('invalid_request', 'Header Authorization was sent more than once; send one "Authorization: Bearer <token>".', [
      { field: 'Authorization', message: 'expected one header line, got several' },
    ]);
  }
  // RFC 7235 allows one or more spaces between the scheme and the credentials.
  const match = /^Bearer +([A-Za-z0-9._~+/=-]{1,512})$/i.exec(header.trim());
  return match ? match[1] : null;
}

/** Builds the HTTP server with every route; it does not listen yet. */
export async function buildServer(context: ApiContext, extraRoutes: ((app: FastifyInstance) => Promise<void> | void)[] = []): Promise<FastifyInstance> {
  const { config, store, logger } = context;
  const app = Fastify({
    // Per-request access lines at info level would cost more than the requests themselves at ingestion rates.
    loggerInstance: logger.child({ component: 'api' }, { level: apiLogLevel(logger) }) as unknown as FastifyBaseLogger,
    // Routes that accept larger bodies (event ingestion) raise this limit on their own.
    bodyLimit: config.maxRequestBodyBytes,
    trustProxy: false,
    // Fastify turns off Node's limit on receiving a whole request, and without one, clients that trickle bodies keep sockets open forever.
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: context.idleConnectionTimeoutMs ?? idleConnectionTimeoutMs(config),
    // Fastify's own 503 while closing has another body shape, so the onRequest hook below responds instead.
    return503OnClosing: false,
    requestIdHeader: false,
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    reply.header('connection', 'close');
    done(new ApiError('service_unavailable', 'The server is shutting down and takes no new requests; send the request again, to another instance or once it is back.'));
  });
  app.decorateRequest('token', null);
  app.decorateRequest('tokenCheckedAt', 0);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/([a-z.+-]+\+)?json(;.*)?$/i, { parseAs: 'buffer' }, (request, body, done) => {
    try {
      checkCharset(request.headers['content-type']);
      checkContentEncoding(request.headers['content-encoding']);
      // An empty body is no body: routes such as redeliver take none, and routes that need one reject `undefined` by field.
      done(null, (body as Buffer).length === 0 ? undefined : parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) return sendError(reply, error);
    const mapped = fromFastifyError(error as FastifyError, request.routeOptions.bodyLimit ?? config.maxRequestBodyBytes);
    if (mapped) return sendError(reply, mapped);
    if (isStoreFull(error)) {
      request.log.error({ err: error, method: request.method, url: request.url }, 'the database disk is full; the request was not stored');
      return sendError(reply, new ApiError('store_full', 'The database disk is full, so nothing was stored. Free disk space on the server, then retry the request.'));
    }
    if (isStoreLocked(error)) {
      request.log.warn({ err: error, method: request.method, url: request.url }, 'database locked; the request was not stored');
      return sendError(reply, new ApiError('store_busy', 'The database is locked by another process; nothing was stored. Retry the request later.', [], { 'retry-after': '1' }));
    }
    if (isStoreConnectionLost(error)) {
      request.log.warn({ err: error, method: request.method, url: request.url }, 'the PostgreSQL connection failed during the request');
      return sendError(
        reply,
        new ApiError(
          'store_unavailable',
          'The connection to the database failed during the request, so it may not have been stored. Retry it; an event sent again with the same Idempotency-Key is stored once.',
          [],
          { 'retry-after': '1' },
        ),
      );
    }
    request.log.error({ err: error, method: request.method, url: request.url }, 'request failed');
    return sendError(reply, new ApiError('internal_error', 'The server failed to handle the request; the cause is in the server log.'));
  });

  const routeMethods = trackRouteMethods(app);
  const missingRouteError = (request: FastifyRequest): ApiError =>
    routeNotFoundError(app, routeMethods, request, (path) => `No route for ${request.method} ${path}; see /openapi.json for the routes.`);
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, missingRouteError(request));
  });
  // A path with an empty segment where a route has a parameter, such as `/v1/repos/`, names no
  // resource, so it gets the same 404 as a path that matches no route, before any token check.
  app.addHook('onRequest', (request, _reply, done) => {
    done(hasEmptyPathParameter(request.params) ? missingRouteError(request) : undefined);
  });

  const limiter = new RateLimiter(config.rateLimitPerMinute, context.clock);
  const tokenUses = new TokenUseRecorder(store, context.clock);
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config?.scope;
    if (!scope) return;
    const presented = bearerToken(request);
    if (!presented) throw new ApiError('unauthorized', 'Missing or malformed Authorization header; send "Authorization: Bearer <token>".');
    const token = await store.findTokenByHash(hashToken(presented));
    if (!token || token.revokedAt !== null) throw new ApiError('unauthorized', 'The bearer token is unknown or revoked; create a token with POST /v1/tokens.');
    const wait = limiter.take(token.id);
    if (wait > 0) {
      throw new ApiError('rate_limited', `Token ${token.name} exceeded ${config.rateLimitPerMinute} requests per minute; retry after ${wait} seconds.`, [], {
        'retry-after': String(wait),
      });
    }
    if (scope !== 'any' && !hasScope(token.scopes, scope)) {
      throw new ApiError('insufficient_scope', `This route requires the ${scope} scope; token ${token.name} has ${token.scopes.join(', ')}.`);
    }
    request.token = token;
    request.tokenCheckedAt = performance.now();
    tokenUses.record(token, request);
  });

  // The token is checked before the body arrives, and a body may take up to the request timeout. A request that
  // took longer than TOKEN_RECHECK_MS is checked again, so that a token revoked meanwhile cannot finish it.
  app.addHook('preHandler', async (request) => {
    const token = request.token;
    if (!token || performance.now() - request.tokenCheckedAt < TOKEN_RECHECK_MS) return;
    const current = await store.findTokenByHash(token.hash);
    if (!current || current.revokedAt !== null) {
      throw new ApiError('unauthorized', `The bearer token ${token.name} was revoked while the request was being received, so nothing was done; send it again with an active token.`);
    }
    request.tokenCheckedAt = performance.now();
  });

  // Every route with the scope it requires, so that tests can check that no route is left unguarded.
  const routeList: RouteEntry[] = [];
  app.decorate('routeList', routeList);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routeList.push({ method, url: route.url, scope: route.config?.scope ?? null });
  });

  // A parameter or body field ignored in silence hides a client's mistake, such as `?limt=5`.
  app.addHook('preHandler', async (request) => {
    const config = request.routeOptions.config;
    if (config?.takesNoBody && !isEmptyBody(request.body)) {
      const body = request.body;
      // Each field of an object is named. Any other JSON value is named as the body.
      const fields = body !== null && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body).map((key) => joinField('', key)) : ['body'];
      throw invalidRequest(fields.map((field) => ({ field, message: 'is not used by this route, which takes no body; remove it' })));
    }
    if (!request.routeOptions.url?.startsWith('/v1/') || config?.readsQuery) return;
    const names = Object.keys((request.query ?? {}) as Record<string, unknown>);
    if (names.length === 0) return;
    throw invalidRequest(names.map((name) => ({ field: joinField('query', name), message: 'is not a parameter of this route; remove it' })));
  });

  registerOperationsRoutes(app, context);
  trackEventStreams(app, context);
  await app.register(
    async (v1) => {
      registerRepositoryRoutes(v1, context);
      registerWebhookRoutes(v1, context);
      registerDeliveryRoutes(v1, context);
      registerReplayRoutes(v1, context);
      registerEventRoutes(v1, context);
      registerTokenRoutes(v1, context);
    },
    { prefix: '/v1' },
  );
  for (const register of extraRoutes) await register(app);
  return app;
}

/** Builds the server of a worker-only process: /healthz, /readyz and /metrics, nothing that needs a token. */
export async function buildOperationsServer(context: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: context.logger.child({ component: 'operations' }, { level: apiLogLevel(context.logger) }) as unknown as FastifyBaseLogger });
  const routeMethods = trackRouteMethods(app);
  app.get('/healthz', async () => ({ status: 'ok', role: 'worker' }));
  app.get('/readyz', async (_request, reply) => answerReadiness(context, reply));
  app.get('/metrics', async (_request, reply) => {
    return reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = routeNotFoundError(app, routeMethods, request, (path) => `A worker-only process serves /healthz, /readyz and /metrics, not ${path}.`);
    sendError(reply, error);
  });
  return app;
}

