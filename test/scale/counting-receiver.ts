import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What one receiver saw of one delivery id. */
export interface Reception {
  count: number;
  bodies: Buffer[];
  /** Requests whose sender went away before the response was sent. */
  aborted: number;
}

/**
 * A loopback receiver for one webhook that responds 200 after `delayMs()`,
 * records every request by its X-Dits-Delivery header, and tracks how many
 * requests are open at once.
 */
export class CountingReceiver {
  readonly received = new Map<string, Reception>();
  total = 0;
  open = 0;
  maxOpen = 0;
  delayMs: () => number = () => 0;
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        this.open--;
      };
      res.on('close', close);
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const id = String(req.headers['x-dits-delivery'] ?? '');
        const reception = this.received.get(id) ?? { count: 0, bodies: [], aborted: 0 };
        reception.count++;
        reception.bodies.push(Buffer.concat(chunks));
        this.received.set(id, reception);
        this.total++;
        res.on('close', () => {
          if (!res.writableFinished) reception.aborted++;
        });
        const delay = this.delayMs();
        const reply = () => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('ok');
        };
        if (delay > 0) setTimeout(reply, delay);
        else reply();
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  static async start(): Promise<CountingReceiver> {
    const receiver = new CountingReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
