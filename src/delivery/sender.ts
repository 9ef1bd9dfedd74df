import type { Dispatcher } from 'undici';
import { classifySendError } from './send-errors.js';
import type { SendErrorKind } from './outcome.js';
import { DeadlineQueue, type Deadline } from './deadlines.js';

/** Maximum time spent reading a response body after the headers arrived, in ms. The body never decides the outcome. */
export const BODY_READ_TIMEOUT_MS = 2000;

export interface SendRequest {
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
  /** Time for connecting and receiving status line and headers, in ms. */
  timeoutMs: number;
  /** Maximum response body bytes kept. */
  bodyLimitBytes: number;
  dispatcher: Dispatcher;
}

export interface SendResult {
  statusCode: number | null;
  headers: Record<string, string> | null;
  body: Buffer | null;
  bodyTruncated: boolean;
  durationMs: number;
  error: { kind: SendErrorKind; message: string } | null;
}

const deadlines = new DeadlineQueue();

/** Response headers that take one value: a repeated one keeps its first value, since a joined list would not parse. */
const SINGLE_VALUE_HEADERS = new Set(['retry-after', 'location', 'content-length', 'content-type', 'date']);

/**
 * Turns undici's raw header list (name, value, name, value...) into lower-case
 * names, with repeated values joined by a comma. The record has no prototype,
 * so a header named `__proto__` is kept like any other.
 */
function headerRecord(raw: Buffer[]): Record<string, string> {
  const headers = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase();
    const value = raw[i + 1].toString('latin1');
    if (!Object.hasOwn(headers, name)) headers[name] = value;
    else if (!SINGLE_VALUE_HEADERS.has(name)) headers[name] = `${headers[name]}, ${value}`;
  }
  return headers;
}

class TimedOut extends Error {
  constructor(readonly phase: 'headers' | 'body') {
    super(`${phase} deadline passed`);
  }
}

/**
 * One request on undici's dispatch interface: the response body goes
 * straight into a capped buffer, with no stream, promise chain or
 * AbortController per request. One shared timer enforces the deadlines.
 */
class CappedResponse implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | null = null;
  private deadline: Deadline;
  private statusCode: number | null = null;
  private headers: Record<string, string> | null = null;
  private chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;
  private durationMs = 0;
  private settled = false;
  private timedOut = false;

  constructor(
    private readonly request: SendRequest,
    private readonly started: number,
    private readonly resolve: (result: SendResult) => void,
  ) {
    this.deadline = deadlines.add(request.timeoutMs, () => this.expire('headers'));
  }

  private expire(phase: 'headers' | 'body'): void {
    if (phase === 'headers') this.timedOut = true;
    if (this.abort) this.abort(new TimedOut(phase));
    else this.fail(new TimedOut(phase));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    // A request that timed out while it waited for a connection is dropped at once.
    if (this.timedOut) abort(new TimedOut('headers'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    // Informational 1xx responses precede the real one.
    if (statusCode < 200) return true;
    this.deadline.cancel();
    this.durationMs = performance.now() - this.started;
    this.statusCode = statusCode;
    this.headers = rawHeaders ? headerRecord(rawHeaders as Buffer[]) : {};
    this.deadline = deadlines.add(BODY_READ_TIMEOUT_MS, () => this.expire('body'));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.truncated) return true;
    const limit = this.request.bodyLimitBytes;
    if (this.size + chunk.length > limit) {
      this.chunks.push(chunk.subarray(0, limit - this.size));
      this.size = limit;
      this.truncated = true;
      // The rest is not read: closing the connection is cheaper than draining it.
      this.abort?.(new Error(`response body larger than the ${limit} bytes kept`));
      return true;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  onComplete(): void {
    this.finishWithResponse();
  }

  onError(err: Error): void {
    if (this.statusCode === null) {
      this.fail(err);
      return;
    }
    // Once the headers arrived, a body cut off by the receiver, the cap or the read deadline keeps what arrived, flagged as incomplete.
    this.truncated = true;
    this.finishWithResponse();
  }

  onUpgrade(): void {
    this.fail(new Error('the receiver switched protocols'));
  }

  onBodySent(): void {}

  private finishWithResponse(): void {
    if (this.settled) return;
    this.settled = true;
    this.deadline.cancel();
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.resolve({ statusCode: this.statusCode, headers: this.headers, body, bodyTruncated: this.truncated, durationMs: this.durationMs, error: null });
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.deadline.cancel();
    const error = this.timedOut
      ? { kind: 'timeout' as const, message: `timed out after ${this.request.timeoutMs} ms waiting for the response headers` }
      : classifySendError(err);
    this.resolve({ statusCode: null, headers: null, body: null, bodyTruncated: false, durationMs: performance.now() - this.started, error });
  }
}

/** Sends one POST and reports the status line, headers and capped body, or a typed send error. Never throws. */
export function sendWebhookRequest(request: SendRequest): Promise<SendResult> {
  const started = performance.now();
  return new Promise<SendResult>((resolve) => {
    const handler = new CappedResponse(request, started, resolve);
    try {
      request.dispatcher.dispatch(
        {
          origin: request.url.origin,
          path: request.url.pathname + request.url.search,
          method: 'POST',
          headers: request.headers,
          body: request.body,
          // The deadline queue enforces both limits; undici's own timers would only repeat that work.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        handler,
      );
    } catch (err) {
      handler.onError(err as Error);
    }
  });
}
