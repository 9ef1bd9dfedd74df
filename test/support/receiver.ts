import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it: headers and the exact body bytes. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  at: number;
}

export type Responder = (request: ReceivedRequest, res: ServerResponse) => void | Promise<void>;

/**
 * A real HTTP receiver on a loopback port. Each test sets how it responds;
 * it records every request and counts connections and concurrent requests.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  connections = 0;
  inFlight = 0;
  maxInFlight = 0;
  private server: Server;
  private responder: Responder = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  };
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', () => this.connections++);
  }

  static async start(host = '127.0.0.1'): Promise<Receiver> {
    const receiver = new Receiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, host, resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  respondWith(responder: Responder): void {
    this.responder = responder;
  }

  /** Responds with a fixed status, headers and body. */
  respondStatus(status: number, headers: Record<string, string> = {}, body = ''): void {
    this.respondWith((_req, res) => {
      res.writeHead(status, headers);
      res.end(body);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
    this.requests.push(request);
    for (const waiter of this.waiters.filter((w) => this.requests.length >= w.count)) waiter.resolve();
    this.waiters = this.waiters.filter((w) => this.requests.length < w.count);
    res.on('close', () => this.inFlight--);
    try {
      await this.responder(request, res);
    } catch {
      res.destroy();
    }
  }

  /** Resolves once `count` requests have arrived, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`receiver got ${this.requests.length} of ${count} requests within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
