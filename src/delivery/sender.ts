import type { Dispatcher } from 'undici';
import { classifySendError } from './send-errors.js';
import type { SendErrorKind } from './outcome.js';

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

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** Reads at most `limit` bytes of a response body within the body timeout, then cancels the rest. */
async function readCapped(body: Dispatcher.ResponseData['body'], limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  const timer = setTimeout(() => body.destroy(), BODY_READ_TIMEOUT_MS);
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      if (size + buf.length > limit) {
        chunks.push(buf.subarray(0, limit - size));
        size = limit;
        truncated = true;
        break;
      }
      chunks.push(buf);
      size += buf.length;
    }
  } catch {
    // A body cut off by the receiver or by the read timeout keeps what arrived.
  } finally {
    clearTimeout(timer);
    if (truncated || !body.readableEnded) body.destroy();
  }
  return { bytes: Buffer.concat(chunks, size), truncated };
}

/** Sends one POST and reports the status line, headers and capped body, or a typed send error. Never throws. */
export async function sendWebhookRequest(request: SendRequest): Promise<SendResult> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), request.timeoutMs);
  try {
    const response = await request.dispatcher.request({
      origin: request.url.origin,
      path: request.url.pathname + request.url.search,
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: controller.signal,
      headersTimeout: request.timeoutMs,
      bodyTimeout: BODY_READ_TIMEOUT_MS,
    });
    clearTimeout(timer);
    const durationMs = performance.now() - started;
    const { bytes, truncated } = await readCapped(response.body, request.bodyLimitBytes);
    return {
      statusCode: response.statusCode,
      headers: flattenHeaders(response.headers),
      body: bytes,
      bodyTruncated: truncated,
      durationMs,
      error: null,
    };
  } catch (err) {
    clearTimeout(timer);
    const error = controller.signal.aborted ? { kind: 'timeout' as const, message: `timed out after ${request.timeoutMs} ms waiting for the response headers` } : classifySendError(err);
    return { statusCode: null, headers: null, body: null, bodyTruncated: false, durationMs: performance.now() - started, error };
  }
}
