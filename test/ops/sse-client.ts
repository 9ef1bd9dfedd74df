/**
 * Event stream clients for the tests: the `eventsource` package (a WHATWG
 * EventSource for Node) with a bearer token, a way to drop its connection as
 * a network failure would, and a gate that delays its reconnection.
 */
import { EventSource, type EventSourceFetchInit } from 'eventsource';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { EVENT_NAMES } from '../../src/events/catalog.js';
import { waitUntil } from '../support/service.js';

export interface StreamMessage {
  type: string;
  id: string;
  data: any;
}

/** Wraps a response body so that the test can end it as a dropped connection would. */
function droppableBody<T>(source: ReadableStream<T>): { body: ReadableStream<T>; drop: () => void } {
  const reader = source.getReader();
  let drop: () => void = () => {};
  const body = new ReadableStream<T>({
    start(controller) {
      drop = () => {
        void reader.cancel().catch(() => {});
        try {
          controller.close();
        } catch {
          // Already closed by the server's end of the stream.
        }
      };
    },
    async pull(controller) {
      const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (chunk.done) {
        try {
          controller.close();
        } catch {
          // Already closed by drop().
        }
        return;
      }
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { body, drop };
}

export class StreamClient {
  readonly messages: StreamMessage[] = [];
  /** Request headers of each connection, in order, as sent by the client. */
  readonly connections: Record<string, string>[] = [];
  errors: { code?: number; message?: string }[] = [];
  readonly source: EventSource;
  private dropCurrent: (() => void) | null = null;
  private gate: Promise<void> | null = null;

  constructor(url: string, options: { token?: string; lastEventId?: string } = {}) {
    this.source = new EventSource(url, {
      fetch: async (input, init: EventSourceFetchInit) => {
        const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
        if (options.token) headers.authorization = `Bearer ${options.token}`;
        // A fresh EventSource has no last event id; this stands for a client that stored one across restarts.
        if (this.connections.length === 0 && options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
        this.connections.push(headers);
        if (this.gate) await this.gate;
        const res = await fetch(input, { ...init, headers });
        if (!res.body) return res;
        const { body, drop } = droppableBody(res.body);
        this.dropCurrent = drop;
        return { body, url: res.url, status: res.status, redirected: res.redirected, headers: res.headers };
      },
    });
    const record = (event: MessageEvent) => {
      this.messages.push({ type: event.type, id: event.lastEventId, data: JSON.parse(event.data) });
    };
    for (const name of [...EVENT_NAMES, 'message']) this.source.addEventListener(name, record);
    this.source.addEventListener('error', (event) => this.errors.push({ code: (event as any).code, message: (event as any).message }));
  }

  opened(timeoutMs = 5000): Promise<unknown> {
    return waitUntil(() => this.source.readyState === this.source.OPEN, timeoutMs, 'the stream to open');
  }

  received(count: number, timeoutMs = 10_000): Promise<unknown> {
    return waitUntil(() => this.messages.length >= count, timeoutMs, `${count} stream messages (have ${this.messages.length})`);
  }

  /** Holds the next connection attempt until the returned function is called. */
  holdReconnect(): () => void {
    let release: () => void = () => {};
    this.gate = new Promise((resolve) => {
      release = () => {
        this.gate = null;
        resolve();
      };
    });
    return release;
  }

  /** Ends the current response body as a dropped connection would; the client then reconnects. */
  dropConnection(): void {
    this.dropCurrent?.();
    this.dropCurrent = null;
  }

  close(): void {
    this.source.close();
  }
}

/** What a raw read of a stream saw: comments, messages, the retry field and whether the body ended. */
export interface RawStream {
  status: number;
  headers: Headers;
  comments: string[];
  messages: EventSourceMessage[];
  retry: number | null;
  ended: boolean;
  abort: () => void;
  /** Resolves when the body ends or the request is aborted. */
  done: Promise<void>;
}

/** Reads a stream with eventsource-parser, which reports comment lines that EventSource hides. */
export async function openRawStream(url: string, headers: Record<string, string>): Promise<RawStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const stream: RawStream = {
    status: res.status,
    headers: res.headers,
    comments: [],
    messages: [],
    retry: null,
    ended: false,
    abort: () => controller.abort(),
    done: Promise.resolve(),
  };
  const parser = createParser({
    onEvent: (message) => stream.messages.push(message),
    onComment: (comment) => stream.comments.push(comment.trim()),
    onRetry: (retry) => {
      stream.retry = retry;
    },
  });
  stream.done = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      stream.ended = true;
    } catch {
      // Aborted by the test.
    }
  })();
  return stream;
}
