/**
 * A real HTTP server on 127.0.0.1 that implements the ingestion contract the
 * watcher is written against: `POST /v1/repos/{id}/events` with
 * Idempotency-Key, `GET /v1/repos?full_name=` and `POST /v1/repos`. It stores
 * what it accepts, can be taken down (listener closed, connections dropped)
 * and brought back on the same port, and can respond with 503 for a while.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StoredRepo {
  id: number;
  name: string;
  owner: string;
  full_name: string;
  private: boolean;
}

export interface StoredEvent {
  id: string;
  repoId: number;
  idempotencyKey: string | null;
  body: Record<string, unknown> & { event: string };
}

/** One POST to the events route, whatever its response status was. */
export interface EventPost {
  repoId: number;
  idempotencyKey: string | null;
  status: number;
}

type Override = (body: Record<string, unknown>) => { status: number; body: unknown } | null;

export class IngestionServer {
  readonly repos: StoredRepo[] = [];
  readonly events: StoredEvent[] = [];
  readonly posts: EventPost[] = [];
  /** When set, every request gets 503 service_unavailable. */
  unavailable = false;
  /** Lets a test respond to chosen events differently; returning null processes the event normally. */
  override: Override | null = null;
  private readonly byKey = new Map<string, { bodyText: string; result: unknown }>();
  private server: Server;
  private port = 0;

  private constructor(readonly token: string) {
    this.server = this.createHttpServer();
  }

  static async start(token = 'test-token-events-write'): Promise<IngestionServer> {
    const server = new IngestionServer(token);
    await server.listen();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  addRepo(owner: string, name: string): StoredRepo {
    const repo = { id: this.repos.length + 101, name, owner, full_name: `${owner}/${name}`, private: false };
    this.repos.push(repo);
    return repo;
  }

  eventsOf(repoId: number): StoredEvent[] {
    return this.events.filter((event) => event.repoId === repoId);
  }

  /** Closes the listener and drops open connections, so the port refuses connections. */
  async down(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    this.server = this.createHttpServer();
    await this.listen();
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private createHttpServer(): Server {
    return createServer((request, response) => {
      this.handle(request, response).catch((error: Error) => send(response, 500, { error: { code: 'internal_error', message: error.message, details: [] } }));
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    if (this.unavailable) return send(response, 503, errorBody('service_unavailable', 'The server is starting or shutting down.'));
    if (request.headers.authorization !== `Bearer ${this.token}`) return send(response, 401, errorBody('unauthorized', 'Missing or unknown token.'));

    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const eventsRoute = /^\/v1\/repos\/(\d+)\/events$/.exec(url.pathname);
    if (request.method === 'POST' && eventsRoute) return this.ingest(Number(eventsRoute[1]), request, text, response);
    if (request.method === 'GET' && url.pathname === '/v1/repos') {
      const fullName = url.searchParams.get('full_name');
      return send(response, 200, { data: this.repos.filter((repo) => fullName === null || repo.full_name === fullName), next_cursor: null });
    }
    if (request.method === 'POST' && url.pathname === '/v1/repos') return this.createRepo(text, response);
    return send(response, 404, errorBody('route_not_found', `No route for ${request.method} ${url.pathname}.`));
  }

  private ingest(repoId: number, request: IncomingMessage, text: string, response: ServerResponse): void {
    const key = typeof request.headers['idempotency-key'] === 'string' ? request.headers['idempotency-key'] : null;
    const reply = (status: number, body: unknown): void => {
      this.posts.push({ repoId, idempotencyKey: key, status });
      send(response, status, body);
    };
    if (!this.repos.some((repo) => repo.id === repoId)) return reply(404, errorBody('repo_not_found', `No repository has id ${repoId}.`));
    if (request.headers['content-type'] !== 'application/json') return reply(415, errorBody('unsupported_media_type', 'Send application/json.'));
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text);
    } catch {
      return reply(400, errorBody('invalid_json', 'The body is not valid JSON.'));
    }
    if (typeof body.event !== 'string') return reply(400, errorBody('invalid_request', 'event: expected an event name.'));

    if (key !== null && this.byKey.has(key)) {
      const first = this.byKey.get(key)!;
      if (first.bodyText !== text) return reply(409, errorBody('idempotency_key_reused', 'The Idempotency-Key was used with another body.'));
      return reply(202, first.result);
    }
    const overridden = this.override?.(body);
    if (overridden) return reply(overridden.status, overridden.body);

    const stored: StoredEvent = { id: randomUUID(), repoId, idempotencyKey: key, body: body as StoredEvent['body'] };
    this.events.push(stored);
    const result = { id: stored.id, event: body.event, deliveries: 0 };
    if (key !== null) this.byKey.set(key, { bodyText: text, result });
    reply(202, result);
  }

  private createRepo(text: string, response: ServerResponse): void {
    const body = JSON.parse(text) as { owner?: unknown; name?: unknown; private?: unknown };
    if (typeof body.owner !== 'string' || typeof body.name !== 'string') return send(response, 400, errorBody('invalid_request', 'owner and name are required.'));
    if (this.repos.some((repo) => repo.full_name === `${body.owner}/${body.name}`)) return send(response, 409, errorBody('repo_exists', 'The repository exists.'));
    const repo = this.addRepo(body.owner, body.name);
    repo.private = body.private === true;
    send(response, 201, repo);
  }
}

function errorBody(code: string, message: string): unknown {
  return { error: { code, message, details: [] } };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
