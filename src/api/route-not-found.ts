/**
 * Errors for requests that match no route. A path that has routes under
 * other methods gets 405 `method_not_allowed` with an Allow header, as
 * RFC 9110 section 15.5.6 requires, and any other path gets 404
 * `route_not_found`.
 */
import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import { ApiError } from '../errors.js';

/** Maximum number of characters of the request path that an error message repeats. */
const MAX_SHOWN_PATH_LENGTH = 200;

/**
 * Collects the HTTP methods of every route registered after this call,
 * including the HEAD routes that fastify adds for GET routes.
 */
export function trackRouteMethods(app: FastifyInstance): ReadonlySet<string> {
  const methods = new Set<string>();
  app.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) methods.add(method);
  });
  return methods;
}

/**
 * Reports whether a route matched with an empty path parameter. The router
 * of fastify 5 (find-my-way 9) lets a parameter match nothing, so `/v1/repos/`
 * matches `/v1/repos/:repoId` with `repoId` set to ''. An empty wildcard (`*`)
 * does not count.
 */
export function hasEmptyPathParameter(params: unknown): boolean {
  if (typeof params !== 'object' || params === null) return false;
  for (const [name, value] of Object.entries(params)) {
    if (name !== '*' && value === '') return true;
  }
  return false;
}

/**
 * Tells whether `path` is registered as a route without parameters.
 * `hasRoute` reads its argument as a route pattern, and a misplaced `*` makes
 * it throw. No route of this API contains `*` or `:`, so a request path with
 * either is never a static route.
 */
function isStaticRoute(app: FastifyInstance, method: string, path: string): boolean {
  if (/[*:]/.test(path)) return false;
  return app.hasRoute({ method: method as HTTPMethods, url: path });
}

/** Lists, sorted by name, the methods whose routes match `path` with no empty path parameter. */
export function allowedMethods(app: FastifyInstance, methods: Iterable<string>, path: string): string[] {
  const allowed: string[] = [];
  for (const method of methods) {
    const found = app.findRoute({ method: method as HTTPMethods, url: path });
    if (!found) continue;
    // For a malformed URL or a parameter longer than maxParamLength, fastify's router returns a
    // stand-in route without parameters that responds with 400 or 414. So a match without parameters
    // counts only when the path is itself a registered static route.
    const params = found.params as Record<string, string>;
    const matches = Object.keys(params).length > 0 ? !hasEmptyPathParameter(params) : isStaticRoute(app, method, path);
    if (matches) allowed.push(method);
  }
  return allowed.sort();
}

/**
 * Builds the error for a request that no route handles: 405 when the path has
 * routes under other methods, else 404 with a hint when the path without its
 * trailing slash has routes, else 404 with `missingRouteMessage(path)`.
 */
export function routeNotFoundError(
  app: FastifyInstance,
  methods: Iterable<string>,
  request: FastifyRequest,
  missingRouteMessage: (shownPath: string) => string,
): ApiError {
  const path = request.url.split('?')[0];
  const shownPath = path.slice(0, MAX_SHOWN_PATH_LENGTH);
  const allowed = allowedMethods(app, methods, path);

  // A route that calls reply.callNotFound() for an unknown item, such as a missing dashboard asset,
  // matches under the request's own method, and that is still a 404.
  if (allowed.length > 0 && !allowed.includes(request.method)) {
    const list = allowed.join(', ');
    return new ApiError('method_not_allowed', `${request.method} is not allowed on ${shownPath}, which accepts ${list}.`, [], { allow: list });
  }

  const withoutSlash = path.slice(0, -1);
  if (allowed.length === 0 && path.length > 1 && path.endsWith('/') && allowedMethods(app, methods, withoutSlash).length > 0) {
    return new ApiError('route_not_found', `No route for ${request.method} ${shownPath}. Send the path without the trailing slash: ${withoutSlash.slice(0, MAX_SHOWN_PATH_LENGTH)}.`);
  }
  return new ApiError('route_not_found', missingRouteMessage(shownPath));
}
