/**
 * Runs one Dits Webhooks service (API, worker or both) in its own process, so
 * that its CPU time is measured apart from the load generator and receiver.
 * Logs go to this process's stdout, which the parent sends to /dev/null.
 */
import { startService, type Service } from '../src/app.js';
import type { SqliteStore } from '../src/store/sqlite/store.js';
import { cpuMicros, monotonicMs, serveRpc } from './rpc.js';
import { takeStoreStats } from './store-trace.js';

let service: Service | null = null;

function sqlite(): SqliteStore {
  if (!service || service.store.kind !== 'sqlite') throw new Error('no SQLite service is running in this process');
  return service.store as SqliteStore;
}

serveRpc({
  /** Starts the service; `startedAt` is read just before start, so module loading is not timed. */
  async start(params: { overrides: Record<string, unknown> }) {
    const startedAt = monotonicMs();
    const cpuAtStart = cpuMicros();
    takeStoreStats();
    service = await startService({ overrides: params.overrides, env: {}, announce: () => {} });
    // startService returns once the worker has started, before its first claim.
    return { url: service.url, adminToken: service.adminToken, startedAt, cpuAtStart, readyAt: monotonicMs(), cpuAtReady: cpuMicros() };
  },
  cpu() {
    return { cpuMicros: cpuMicros(), rssBytes: process.memoryUsage().rss };
  },
  storeStats: () => takeStoreStats(),
  /** Counts deliveries by status, straight from the database. */
  statusCounts() {
    const rows = sqlite().db.prepare('SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status').all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
  },
  async close() {
    if (service) await service.close();
    service = null;
    setImmediate(() => process.exit(0));
  },
});
