import type { FastifyRequest } from 'fastify';
import type { Store, TokenRecord } from '../store/types.js';

/** Time between two writes of a token's `last_used_at`, in ms: the column is accurate to this interval. */
const TOKEN_USE_INTERVAL_MS = 60_000;

/**
 * Records when each token was last used, at most once per interval per
 * token, so that authenticating a request costs no database write. The
 * stored value seeds the interval, so API processes sharing a database
 * usually write it once per interval (two may race at the interval's end).
 */
export class TokenUseRecorder {
  private readonly written = new Map<number, number>();
  /** No write is tried before this time after a failed one. */
  private pausedUntil = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: () => number,
  ) {}

  record(token: TokenRecord, request: FastifyRequest): void {
    const now = this.clock();
    if (now < this.pausedUntil) return;
    const last = Math.max(this.written.get(token.id) ?? 0, token.lastUsedAt ?? 0);
    if (now - last < TOKEN_USE_INTERVAL_MS) return;
    if (this.written.size >= 10_000) this.written.clear();
    this.written.set(token.id, now);
    // After a failed write no token is written before the interval ends: while another process holds the SQLite
    // lock, each try would stall the event loop for the whole busy timeout.
    this.store.touchToken(token.id, now).catch((err: unknown) => {
      this.pausedUntil = now + TOKEN_USE_INTERVAL_MS;
      request.log.warn({ err, token_id: token.id }, 'recording the last use of a token failed; the next try is a minute later');
    });
  }
}
