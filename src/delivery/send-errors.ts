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
