import type { SendErrorKind } from './outcome.js';

/** Maps an error thrown by undici or the socket layer to a send error kind. */
export function classifySendError(err: unknown): { kind: SendErrorKind; message: string } {
  const error = err as { code?: string; name?: string; message?: string; cause?: unknown };
  const code = error?.code ?? '';
  const message = error?.message ?? String(err);
  if (code === 'ERR_BLOCKED_ADDRESS') return { kind: 'blocked', message };
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT' || error?.name === 'TimeoutError' || error?.name === 'AbortError') {
    return { kind: 'timeout', message: 'timed out waiting for the response headers' };
  }
  if (code === 'ECONNREFUSED') return { kind: 'refused', message: 'connection refused' };
  const misbehaviour = protocolMisbehaviour(code, message);
  if (misbehaviour) return { kind: 'network', message: misbehaviour };
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') {
    return { kind: 'reset', message: 'connection reset before the response arrived' };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
    return { kind: 'dns', message: `DNS lookup failed (${code})` };
  }
  if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code) || /certificate|SSL|TLS/i.test(message)) {
    return { kind: 'tls', message: `TLS failed: ${message}` };
  }
  if (error?.cause && error.cause !== err) {
    const inner = classifySendError(error.cause);
    if (inner.kind !== 'network') return inner;
  }
  return { kind: 'network', message: code ? `${code}: ${message}` : message };
}

/**
 * Returns a message for the responses that undici rejects. It closes the
 * connection on them and reports a generic socket error or a failed internal
 * check, which would read as a reset or as a bug.
 */
function protocolMisbehaviour(code: string, message: string): string | null {
  if ((code === 'UND_ERR_SOCKET' && message === 'bad upgrade') || (code === 'ERR_ASSERTION' && message.includes('assert(upgrade)'))) {
    return 'the receiver answered 101 Switching Protocols, but a webhook request asks for no protocol switch';
  }
  if (code === 'UND_ERR_SOCKET' && message === 'bad response') {
    return 'the receiver sent a response the request did not ask for (an unprompted 100 Continue, or a response before the request was sent)';
  }
  if (code === 'ERR_ASSERTION' && message.includes('statusCode >= 100')) return 'the receiver sent a status code below 100, outside the range of HTTP status codes';
  // Other failed checks inside undici quote its source code, which means nothing to the receiver's owner.
  if (code === 'ERR_ASSERTION') return 'the receiver sent a response that the HTTP client could not parse';
  return null;
}
