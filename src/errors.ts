/**
 * The error catalog. Every error that reaches an API client has a stable code
 * from this table, the HTTP status listed here and a message that names the
 * field and the fix. Internal failures are logged and shown only as
 * `internal_error`.
 */

/** One problem with one input field; `field` is a JSON-pointer-like path such as `events[2]`. */
export interface FieldError {
  field: string;
  message: string;
}

export const ERROR_CATALOG = {
  invalid_json: { status: 400, description: 'The request body is not valid JSON or not valid UTF-8.' },
  invalid_request: { status: 400, description: 'A field is missing, has the wrong type or is out of range; `details` lists each field.' },
  invalid_number: { status: 400, description: 'A number would reach receivers as another number: an integer written without fraction or exponent beyond 2^53 - 1, a number of 2^53 or more that a double cannot hold as written (`9007199254740993.0`), a non-zero number that would become 0 (`1e-400`), or one outside the double range.' },
  invalid_event_pattern: { status: 400, description: 'An entry of `events` matches no event type or uses a wildcard inside a segment.' },
  invalid_target_url: { status: 400, description: 'The webhook URL is not an absolute http or https URL, or contains whitespace or control characters.' },
  target_blocked: { status: 422, description: 'The webhook URL points to an address that the server configuration blocks.' },
  unauthorized: { status: 401, description: 'The Authorization header is missing, malformed, or carries an unknown or revoked token.' },
  insufficient_scope: { status: 403, description: 'The token lacks the scope that the route requires.' },
  route_not_found: { status: 404, description: 'No route matches the method and path.' },
  repo_not_found: { status: 404, description: 'No repository has that id.' },
  webhook_not_found: { status: 404, description: 'No webhook with that id belongs to the repository or owner.' },
  delivery_not_found: { status: 404, description: 'No delivery with that id belongs to the webhook.' },
  replay_not_found: { status: 404, description: 'No replay with that id belongs to the webhook.' },
  token_not_found: { status: 404, description: 'No token has that id, or it is already revoked.' },
  event_type_not_found: { status: 404, description: 'No event type has that name.' },
  method_not_allowed: { status: 405, description: 'The route exists but not for this HTTP method.' },
  repo_exists: { status: 409, description: 'A repository with that owner and name already exists.' },
  idempotency_key_reused: { status: 409, description: 'The Idempotency-Key was used before with a different request body.' },
  last_admin_token: { status: 409, description: 'The token is the last active admin token; create another admin token before revoking it.' },
  delivery_in_progress: { status: 409, description: 'The delivery has an attempt running or a manual attempt already queued; redeliver it after that attempt ends.' },
  payload_too_large: { status: 413, description: 'The request body exceeds the configured size limit.' },
  unsupported_media_type: { status: 415, description: 'The request body must be sent as application/json.' },
  webhook_inactive: { status: 422, description: 'The webhook is inactive; activate it before pinging, redelivering or replaying.' },
  webhook_limit_reached: { status: 422, description: 'The repository or owner already has the maximum number of webhooks.' },
  request_header_too_large: { status: 431, description: 'The request line and headers together are larger than the server accepts.' },
  request_timeout: { status: 408, description: 'The request did not arrive completely in time.' },
  rate_limited: { status: 429, description: 'The token sent too many requests; retry after the number of seconds in Retry-After.' },
  too_many_streams: { status: 429, description: 'The token already has the maximum number of open event streams on this server process; close one before opening another.' },
  internal_error: { status: 500, description: 'The server failed; the cause is in the server log, not in the response.' },
  service_unavailable: { status: 503, description: 'The server is starting or shutting down.' },
  store_busy: { status: 503, description: 'The database stayed locked by another process for the whole wait; retry after the number of seconds in Retry-After.' },
  store_unavailable: {
    status: 503,
    description: 'The connection to the PostgreSQL server failed during the request (a restart, a failover, a network fault); retry after the number of seconds in Retry-After.',
  },
  store_full: { status: 507, description: 'The database disk is full, so nothing was stored. Free disk space on the server and retry.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Bidirectional embeddings, overrides and isolates, which reorder the text shown around them. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

/** Returns text with each bidirectional embedding, override or isolate written as its escape, such as \u202e. */
export function escapeBidiControls(text: string): string {
  return text.replace(BIDI_CONTROLS, (char) => `\\u${char.charCodeAt(0).toString(16)}`);
}

/**
 * An error meant for an API client: a catalog code, a message and optional
 * field details. Messages quote the values that were sent, and clients show
 * them to people, so bidirectional controls in them are escaped.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: FieldError[];
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, details: FieldError[] = [], headers: Record<string, string> = {}) {
    super(escapeBidiControls(message));
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.details = details.map((detail) => ({ ...detail, field: escapeBidiControls(detail.field), message: escapeBidiControls(detail.message) }));
    this.headers = headers;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details: FieldError[] } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** Builds an `invalid_request` error whose message lists the first few field problems. */
export function invalidRequest(details: FieldError[]): ApiError {
  const shown = details.slice(0, 3).map((d) => `${d.field}: ${d.message}`).join('; ');
  const more = details.length > 3 ? ` (and ${details.length - 3} more in details)` : '';
  return new ApiError('invalid_request', `Invalid request. ${shown}${more}`, details);
}

/** Reports whether a store call failed because another process holds the SQLite write lock. */
export function isStoreLocked(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'SQLITE_BUSY';
}

/** Reports whether a store call failed because the disk is full (SQLITE_FULL). */
export function isStoreFull(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'SQLITE_FULL';
}

/**
 * SQLSTATE codes of a PostgreSQL connection that failed or that the server
 * ended: the connection exception class 08, and the operator intervention
 * codes of a shutdown, a crash or a server that is starting.
 */
const CONNECTION_LOST_CODES = /^(08...|57P01|57P02|57P03)$/;

/** Reports whether a store call failed because its PostgreSQL connection failed or the server ended it. */
export function isStoreConnectionLost(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (CONNECTION_LOST_CODES.test(code) || code === 'ECONNREFUSED' || code === 'ECONNRESET')) return true;
  // node-postgres reports a socket that closed under a query, and a later query on that client, with these messages and no code.
  return typeof message === 'string' && (message.startsWith('Connection terminated') || message === 'Client has encountered a connection error and is not queryable');
}

/**
 * Reports whether a store write failed for a reason that passes by itself:
 * another process's lock, a full disk, or an I/O error. Writing the same
 * data again later can succeed.
 */
export function isPassingStoreFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_FULL' || (typeof code === 'string' && code.startsWith('SQLITE_IOERR'));
}
