import { fdatasync, openSync, closeSync } from 'node:fs';

/**
 * Makes commits of a synchronous=NORMAL connection durable without
 * blocking the event loop. SQLite at synchronous=FULL calls fdatasync on the
 * WAL inside every commit, on the calling thread. Instead, the ingestion
 * path commits at NORMAL and then waits for `sync()`, which runs fdatasync
 * on the WAL file in libuv's thread pool. Once it resolves, every frame
 * written before the call, commit marker included, is on disk, which is
 * what FULL guarantees. Callers that arrive while a sync runs share the
 * next one, so a burst of commits costs two syncs, not one each.
 *
 * A checkpoint may copy frames into the database file before this sync
 * runs, and a later writer may then restart the WAL over them. That is safe
 * because the checkpoint syncs the WAL and the database file first.
 */
export class WalSync {
  /** fdatasync calls started so far. */
  flushes = 0;
  private fd: number | null = null;
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(private readonly walFile: string) {}

  /** Resolves once everything written to the WAL before this call is on disk. */
  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.flush().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    // The running sync may have started before this caller's commit: wait for the one after it.
    const settled = this.running.then(
      () => undefined,
      () => undefined,
    );
    this.next ??= settled.then(() => {
      this.next = null;
      return this.sync();
    });
    return this.next;
  }

  private flush(): Promise<void> {
    // The WAL exists from the first commit until the last connection closes, and the store keeps its connections open.
    try {
      this.fd ??= openSync(this.walFile, 'r+');
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const fd = this.fd;
    this.flushes++;
    return new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
