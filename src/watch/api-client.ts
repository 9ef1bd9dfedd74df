/**
 * The calls the watcher makes to the Dits Webhooks server: event ingestion,
 * repository lookup by full name, and repository creation.
 */
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { VERSION } from '../version.js';
import { classifyStatus, parseRetryAfter } from './backoff.js';
import { isRecord } from './dits-format.js';
import type { EventBody } from './event-request.js';

export interface Repository {
  id: number;
  name: string;
  owner: string;
  full_name: string;
  private: boolean;
}

/** The 202 response of `POST /v1/repos/{id}/events`. */
export interface IngestResult {
  id: string;
  event: string;
  deliveries: number;
}

/** A failed call: an HTTP error status, a network failure (status null) or an unusable response body. */
export class ApiRequestError extends Error {
  constructor(
    message: string,
    /** HTTP status, or null when no response arrived. */
    readonly status: number | null,
    /** The server's error code, or the network error code such as `ECONNREFUSED`. */
    readonly code: string,
    /** True when the same request may succeed later (network failure, 408, 429, 5xx, 401, 403, or a response from something other than the API). */
    readonly retryable: boolean,
    /** Delay requested by a Retry-After header, in milliseconds. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export interface ApiClientOptions {
  /** Base URL of the server, such as `http://127.0.0.1:8080`; a path prefix is kept. */
  serverUrl: string;
  /** API token with the `events:write` scope (and `write` when repositories are created). */
  token: string;
  /** Time allowed for the response headers and for the body, each, in milliseconds. */
  timeoutMs: number;
}

interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  data: unknown;
}

const USER_AGENT = `dits-webhook-watch/${VERSION}`;

export class ApiClient {
  private readonly agent: Agent;
  private readonly base: string;

  constructor(private readonly options: ApiClientOptions) {
    this.base = options.serverUrl.replace(/\/+$/, '');
    this.agent = new Agent({ headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
  }

  /** Sends one event; the server returns the first result again for a repeated Idempotency-Key. */
  async ingestEvent(repoId: number, body: EventBody, idempotencyKey: string, signal?: AbortSignal): Promise<IngestResult> {
    const response = await this.call('POST', `/v1/repos/${repoId}/events`, body, signal, { 'idempotency-key': idempotencyKey });
    const data = expectSuccess(response, `POST /v1/repos/${repoId}/events`);
    if (!isRecord(data) || typeof data.id !== 'string') {
      throw new ApiRequestError(`POST /v1/repos/${repoId}/events returned ${response.status} without an event id`, response.status, 'invalid_response', true);
    }
    return { id: data.id, event: String(data.event), deliveries: Number(data.deliveries) };
  }

  /** Looks a repository up by `owner/name`; null when the server has none. */
  async findRepository(fullName: string, signal?: AbortSignal): Promise<Repository | null> {
    const path = `/v1/repos?full_name=${encodeURIComponent(fullName)}`;
    const data = expectSuccess(await this.call('GET', path, undefined, signal), `GET ${path}`);
    const list = isRecord(data) && Array.isArray(data.data) ? data.data : [];
    // The service matches owner and name without regard to letter case, so `Studio/Film` finds `studio/film`.
    const expected = fullName.toLowerCase();
    const match = list.find((repo) => isRecord(repo) && typeof repo.full_name === 'string' && repo.full_name.toLowerCase() === expected);
    return match && Number.isSafeInteger(match.id) ? (match as Repository) : null;
  }

  async createRepository(input: { owner: string; name: string; private?: boolean }, signal?: AbortSignal): Promise<Repository> {
    const data = expectSuccess(await this.call('POST', '/v1/repos', input, signal), 'POST /v1/repos');
    if (!isRecord(data) || !Number.isSafeInteger(data.id)) {
      throw new ApiRequestError('POST /v1/repos returned no repository id', null, 'invalid_response', true);
    }
    return data as unknown as Repository;
  }

  /**
   * Returns the scopes of the client's token as GET /v1/token reports them,
   * or null when the server cannot tell now: unreachable, the token
   * rejected, or a server without that route.
   */
  async tokenScopes(signal?: AbortSignal): Promise<string[] | null> {
    try {
      const response = await this.call('GET', '/v1/token', undefined, signal);
      const scopes = response.status === 200 && isRecord(response.data) ? response.data.scopes : null;
      return Array.isArray(scopes) && scopes.every((scope) => typeof scope === 'string') ? scopes : null;
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async call(
    method: Dispatcher.HttpMethod,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    extraHeaders: Record<string, string> = {},
  ): Promise<JsonResponse> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.token}`,
      accept: 'application/json',
      'user-agent': USER_AGENT,
      ...extraHeaders,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Dispatcher.ResponseData;
    try {
      response = await request(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.agent,
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const code = networkErrorCode(error);
      throw new ApiRequestError(`${method} ${path} failed: ${code} (${(error as Error).message})`, null, code, true);
    }
    const text = await response.body.text();
    let data: unknown = null;
    try {
      data = text === '' ? null : JSON.parse(text);
    } catch {
      data = null;
    }
    return { status: response.statusCode, headers: response.headers, data };
  }
}

function networkErrorCode(error: unknown): string {
  const direct = (error as { code?: unknown }).code;
  const cause = (error as { cause?: { code?: unknown } }).cause?.code;
  if (typeof cause === 'string') return cause;
  return typeof direct === 'string' ? direct : 'network_error';
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Returns the response data of a 2xx, or throws an ApiRequestError that carries the server's error code and message. */
function expectSuccess(response: JsonResponse, call: string): unknown {
  const fromApi = isRecord(response.data) && isRecord(response.data.error) && typeof response.data.error.code === 'string';
  const action = classifyStatus(response.status, fromApi);
  if (action === 'accepted') return response.data;
  const error = isRecord(response.data) && isRecord(response.data.error) ? response.data.error : {};
  const code = typeof error.code === 'string' ? error.code : `http_${response.status}`;
  const message = typeof error.message === 'string' ? error.message : 'no error message in the response body';
  const retryAfter = parseRetryAfter(headerValue(response.headers['retry-after']), Date.now());
  throw new ApiRequestError(`${call} returned ${response.status} ${code}: ${message}`, response.status, code, action === 'retry', retryAfter);
}
