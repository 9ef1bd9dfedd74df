/**
 * Records each running `serve` process in the store it uses, so that
 * maintenance commands such as `secrets reencrypt` can tell that a service
 * still uses the database.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { processIdentity, processState } from './delivery/worker-identity.js';
import type { ServiceProcessRecord, Store } from './store/types.js';
import { isStoreFull } from './errors.js';

/** How often a running process refreshes its record, in ms. */
export const PRESENCE_INTERVAL_MS = 10_000;
/** Age after which a record counts as left behind by a process that stopped without removing it, in ms. */
export const PRESENCE_STALE_MS = 3 * PRESENCE_INTERVAL_MS;

/**
 * The record of this process. It uses the wall clock, never an injected one,
 * since other processes compare its times with theirs.
 */
export class ServicePresence {
  readonly id = `service-${processIdentity()}-${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();

  constructor(
    private readonly store: Store,
    private readonly role: ServiceProcessRecord['role'],
    private readonly logger: Logger,
  ) {}

  /**
   * Writes the record, trying again for up to `waitMs` while the store
   * fails (a SQLite file locked by another process), and raises when it
   * never succeeds: unrecorded, the process would be invisible to
   * `secrets reencrypt`. Then refreshes it every PRESENCE_INTERVAL_MS until `stop`.
   */
  async start(waitMs = PRESENCE_STALE_MS): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        await this.store.recordServiceProcess({ id: this.id, role: this.role, startedAt: this.startedAt, seenAt: Date.now() });
        break;
      } catch (err) {
        if (Date.now() >= deadline) {
          const next = isStoreFull(err) ? 'free disk space on the database disk and start again' : 'start again once the database is available';
          throw new Error(`recording this process in the store failed for ${Math.round(waitMs / 1000)} s (${(err as Error).message}); ${next}`);
        }
        this.logger.warn({ err, process_id: this.id }, 'recording this process in the store failed; trying again in 1 s');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    this.timer = setInterval(() => void this.refresh(), PRESENCE_INTERVAL_MS);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    try {
      await this.store.recordServiceProcess({ id: this.id, role: this.role, startedAt: this.startedAt, seenAt: Date.now() });
    } catch (err) {
      this.logger.warn({ err, process_id: this.id }, 'recording this service process in the store failed; trying again in 10 s');
    }
  }

  /** Stops refreshing and removes the record. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      await this.store.removeServiceProcess(this.id);
    } catch (err) {
      this.logger.warn({ err, process_id: this.id }, 'removing the record of this service process failed; it counts as stopped once this process ends, or after 30 s for other hosts');
    }
  }
}

/**
 * Lists the processes that use the store now, other than `exceptId`. A
 * process on this host counts while it runs, however old its record (one
 * stopped with SIGSTOP refreshes nothing), and not once it has ended (a
 * kill -9 leaves its record behind). A process on another host counts while
 * its record is younger than PRESENCE_STALE_MS.
 */
export async function runningServiceProcesses(store: Store, now: number, exceptId: string | null = null): Promise<ServiceProcessRecord[]> {
  const records = await store.listServiceProcesses(0);
  return records.filter((entry) => {
    if (entry.id === exceptId) return false;
    const state = processState(entry.id);
    if (state !== 'unknown') return state === 'running';
    return entry.seenAt >= now - PRESENCE_STALE_MS;
  });
}

/** Age after which the record of a process on another host is removed, in ms: it stopped without removing it. */
const FORGET_AFTER_MS = 7 * 86_400_000;

/**
 * Removes the records that processes killed without a clean stop left
 * behind: those of ended processes on this host, and those of other hosts
 * not refreshed for a week. Returns how many were removed.
 */
export async function pruneServiceProcesses(store: Store, now: number): Promise<number> {
  let removed = 0;
  for (const entry of await store.listServiceProcesses(0)) {
    const state = processState(entry.id);
    if (state === 'ended' || (state === 'unknown' && entry.seenAt < now - FORGET_AFTER_MS)) {
      await store.removeServiceProcess(entry.id);
      removed++;
    }
  }
  return removed;
}
