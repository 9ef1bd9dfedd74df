/**
 * The management API client of the CLI. Every call returns the parsed JSON
 * body of a 2xx response. It throws ApiCallError for an error response, and
 * CliError when the server cannot be reached or returns something other than JSON.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { VERSION } from '../version.js';
import { ApiCallError, CliError, type ApiErrorDetail } from './errors.js';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or null for an empty body (204). */
  data: T;
}

export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Time allowed for the response headers and, separately, for the body. */
const DEFAULT_TIMEOUT_MS = 30_000;

const USER_AGENT = `dits-webhook-cli/${VERSION}`;

export class ApiClient {
  /** Base URL without a trailing slash; a path prefix such as `/dits` is kept. */
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string | null,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async get<T = any>(path: string, query?: CallOptions['query']): Promise<T> {
    return (await this.call<T>('GET', path, { query })).data;
  }

  async post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return (await this.call<T>('POST', path, { body, headers })).data;
  }

  async patch<T = any>(path: string, body: unknown): Promise<T> {
    return (await this.call<T>('PATCH', path, { body })).data;
  }

  async delete(path: string): Promise<void> {
    await this.call('DELETE', path);
  }

  /** Sends one request; returns status, headers and parsed body of a 2xx response. */
  async call<T = any>(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT, ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';

    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      response = await request(this.baseUrl + path + queryString(options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      text = await response.body.text();
    } catch (error) {
      throw new CliError(describeNetworkError(this.baseUrl, error, this.timeoutMs));
    }

    const data = parseJson(text);
    if (response.statusCode >= 200 && response.statusCode < 300) {
      if (data === undefined) {
        throw new CliError(`the server at ${this.baseUrl} returned a response that is not JSON; check that --url or DITS_WEBHOOKS_URL points to a Dits Webhooks server`);
      }
      return { status: response.statusCode, headers: response.headers, data: data as T };
    }
    throw toApiCallError(this.baseUrl, response.statusCode, response.headers, data);
  }
}

function queryString(query: CallOptions['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const encoded = params.toString();
  return encoded ? `?${encoded}` : '';
}

/** Parses a response body; null for an empty body, undefined when it is not JSON. */
function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorCode(error: unknown): string | undefined {
  const candidates = [error, (error as { cause?: unknown })?.cause, (error as { errors?: unknown[] })?.errors?.[0]];
  for (const candidate of candidates) {
    const code = (candidate as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Builds the message for a request that got no HTTP response. */
export function describeNetworkError(baseUrl: string, error: unknown, timeoutMs: number): string {
  const code = errorCode(error);
  const next = 'start it with `dits-webhook serve` or set DITS_WEBHOOKS_URL';
  switch (code) {
    case 'ECONNREFUSED':
      return `cannot reach the server at ${baseUrl}: connection refused; ${next}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach the server at ${baseUrl}: host name not found (${code}); check the host in --url or DITS_WEBHOOKS_URL`;
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `the server at ${baseUrl} did not answer within ${timeoutMs / 1000} s (${code}); check that it is running and healthy (GET /healthz)`;
    default:
      return `cannot reach the server at ${baseUrl}: ${(error as Error)?.message ?? String(error)}${code ? ` (${code})` : ''}; ${next}`;
  }
}

function toApiCallError(baseUrl: string, status: number, headers: IncomingHttpHeaders, data: unknown): ApiCallError {
  const body = (data as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (!body || typeof body.message !== 'string') {
    const message = `the server at ${baseUrl} returned HTTP ${status} without an error message; check that --url or DITS_WEBHOOKS_URL points to a Dits Webhooks server`;
    return new ApiCallError(message, status, `http_${status}`, [], null);
  }
  const code = typeof body.code === 'string' ? body.code : `http_${status}`;
  const details = Array.isArray(body.details) ? body.details.filter(isDetail) : [];
  const retryAfter = typeof headers['retry-after'] === 'string' ? headers['retry-after'] : null;
  return new ApiCallError(body.message, status, code, details, hintForError(code, status, retryAfter));
}

function isDetail(value: unknown): value is ApiErrorDetail {
  return typeof value === 'object' && value !== null && typeof (value as ApiErrorDetail).field === 'string' && typeof (value as ApiErrorDetail).message === 'string';
}

/** Returns "1 second", "7 seconds" or "a few seconds" for a Retry-After value. */
function waitText(retryAfter: string | null): string {
  if (retryAfter === null) return 'a few seconds';
  return retryAfter === '1' ? '1 second' : `${retryAfter} seconds`;
}

/** Returns the CLI command that helps with an API error code, or null when the server's message is enough. */
export function hintForError(code: string, status: number, retryAfter: string | null): string | null {
  switch (code) {
    case 'unauthorized':
      return 'Pass a valid API token with --token or DITS_WEBHOOKS_TOKEN; the server prints an admin token on its first start, and `dits-webhook token create` makes more.';
    case 'insufficient_scope':
      return 'Use a token with the required scope; an admin can create one with `dits-webhook token create --name NAME --scopes SCOPES`.';
    case 'repo_not_found':
      return 'List repositories with `dits-webhook repo list`.';
    case 'webhook_not_found':
      return 'List webhooks with `dits-webhook list --repo <id|owner/name>` or `dits-webhook list --owner <login>`.';
    case 'delivery_not_found':
      return 'List deliveries with `dits-webhook deliveries <hook> --repo <id|owner/name>`.';
    case 'last_admin_token':
      return 'Create another admin token with `dits-webhook token create --name NAME --scopes admin`, then revoke this one.';
    case 'token_not_found':
      return 'List tokens with `dits-webhook token list`.';
    case 'webhook_inactive':
      return 'Activate the webhook with `dits-webhook update <hook> --active`.';
    case 'rate_limited':
      return `Wait ${waitText(retryAfter)} and run the command again.`;
    case 'store_full':
      return 'The disk of the server database is full. Free space on the server, then run the command again.';
    case 'store_busy':
      return `Another process is holding the database lock. Wait ${waitText(retryAfter)} and run the command again; if it keeps failing, stop the process that keeps a transaction open.`;
    case 'store_unavailable':
      return `The server lost its database connection during the command. Wait ${waitText(retryAfter)} and run it again; if it keeps failing, check the PostgreSQL server.`;
    case 'too_many_streams':
      return 'Close another event stream opened with this token, or use another token.';
    case 'route_not_found':
    case 'method_not_allowed':
      return 'The server does not have this API route; check that --url or DITS_WEBHOOKS_URL points to a Dits Webhooks server of the same version as this CLI.';
    default:
      return status >= 500 ? 'The server failed; its log has the cause. Run the command again, and report it if it keeps failing.' : null;
  }
}

/** A list response of the API. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/**
 * Fetches a list and follows `next_cursor` until the last page, reading at
 * most `maxPages` pages. The result's `next_cursor` is null only when every
 * page was read.
 */
export async function fetchAllPages<T>(client: ApiClient, path: string, query: Record<string, string | number | undefined>, maxPages: number): Promise<Page<T>> {
  const data: T[] = [];
  let cursor: string | undefined = typeof query.cursor === 'string' ? query.cursor : undefined;
  for (let page = 0; page < maxPages; page++) {
    const result = await client.get<Page<T>>(path, { ...query, cursor });
    data.push(...result.data);
    if (!result.next_cursor) return { data, next_cursor: null };
    cursor = result.next_cursor;
  }
  return { data, next_cursor: cursor ?? null };
}
