import { closeSync, fdatasync, openSync } from 'node:fs';

/** A function that flushes the data of one open file to disk, such as fs.fdatasync. */
export type Datasync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

/**
 * Makes the commits of a WAL-mode database durable with fdatasync on the
 * libuv thread pool, so that the event loop does not wait for the disk while
 * SQLite would block it in a synchronous=FULL commit. fdatasync covers every
 * write made to the file before it starts, from any connection. Calls that
 * arrive while one runs share the next one.
 */
export class WalSync {
  private fd: number | null = null;
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(
    private readonly walFile: string,
    private readonly datasync: Datasync = fdatasync,
  ) {}

  /** Resolves once every write made to the log before this call is on disk. */
  sync(): Promise<void> {
    if (this.next) return this.next;
    if (!this.running) return this.start();
    // The running sync may have started before the caller's write, so the caller waits for the one after it.
    const next = this.running.catch(() => undefined).then(() => {
      this.next = null;
      return this.start();
    });
    this.next = next;
    return next;
  }

  private start(): Promise<void> {
    // Opened on first use: SQLite creates the log with the first commit, which comes before the first sync.
    this.fd ??= openSync(this.walFile, 'r');
    const fd = this.fd;
    const running = new Promise<void>((resolve, reject) => this.datasync(fd, (err) => (err ? reject(err) : resolve())));
    this.running = running;
    const clear = () => {
      if (this.running === running) this.running = null;
    };
    running.then(clear, clear);
    return running;
  }

  /** Waits for the syncs in progress, then closes the file. */
  async close(): Promise<void> {
    await Promise.allSettled([this.running, this.next]);
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
