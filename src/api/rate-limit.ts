/**
 * A fixed-window request counter per token, kept in process memory. With
 * several API processes each enforces the limit on its own share of traffic.
 */
export class RateLimiter {
  private readonly windows = new Map<number, { start: number; count: number }>();

  constructor(
    private readonly limitPerMinute: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Counts one request; returns 0 when allowed, else the seconds to wait. */
  take(tokenId: number): number {
    const now = this.clock();
    const windowStart = now - (now % 60_000);
    let window = this.windows.get(tokenId);
    if (!window || window.start !== windowStart) {
      if (this.windows.size > 100_000) this.windows.clear();
      window = { start: windowStart, count: 0 };
      this.windows.set(tokenId, window);
    }
    window.count++;
    if (window.count <= this.limitPerMinute) return 0;
    return Math.max(1, Math.ceil((windowStart + 60_000 - now) / 1000));
  }
}
