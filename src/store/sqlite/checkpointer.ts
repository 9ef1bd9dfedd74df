import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Runs SQLite WAL checkpoints on a worker thread. A checkpoint copies the
 * log back into the database file and, with synchronous=FULL, fsyncs it; run
 * inside a commit on the event loop it stalls every request for
 * milliseconds, so the service's own connections leave it to this thread.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
// Prepared on the first run, inside its error handling: preparing fails too when the file is unusable.
let checkpoint = null;
let lastLogFrames = -1;
let timer = null;
// A failure that repeats (a full disk) is reported when it starts and then once a minute, not on every run.
let failures = 0;
let reportedAt = 0;
const run = () => {
  let delay = workerData.idleIntervalMs;
  try {
    // The row is [busy, frames in the log, frames checkpointed]. A frame count that changed since the last run means writes go on.
    checkpoint ??= db.prepare('PRAGMA wal_checkpoint(PASSIVE)').raw();
    const [, logFrames] = checkpoint.get();
    if (logFrames !== lastLogFrames) delay = workerData.intervalMs;
    lastLogFrames = logFrames;
    failures = 0;
  } catch (err) {
    failures++;
    const now = Date.now();
    if (failures === 1 || now - reportedAt >= 60000) {
      reportedAt = now;
      const repeated = failures > 1 ? ' (' + failures + ' failures in a row)' : '';
      parentPort.postMessage({ error: String(err && err.message || err) + repeated });
    }
  }
  timer = setTimeout(run, delay);
};
timer = setTimeout(run, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  db.close();
  process.exit(0);
});
`;

/**
 * Time between checkpoints, in ms. Under steady writes a passive checkpoint
 * rarely catches up with the newest commit, so the log mostly starts over at
 * the automatic checkpoint in a commit on the event loop (every 10,000
 * pages). A short interval leaves that one little to copy. In a test with
 * 1,000 commits a second, it stalled the event loop for 20 to 60 ms at a
 * 200 ms interval, and for 7 to 16 ms at 20 ms.
 */
export const CHECKPOINT_INTERVAL_MS = 20;

/** Time between checkpoints while the log is unchanged since the last one, in ms. */
export const IDLE_CHECKPOINT_INTERVAL_MS = 500;

export class Checkpointer {
  private readonly worker: Worker;
  /** Resolves when the thread has ended, after a stop or after an error that ended it. */
  private readonly exited: Promise<void>;
  private stopped: Promise<void> | null = null;

  constructor(file: string, onError: (message: string) => void, intervalMs = CHECKPOINT_INTERVAL_MS, idleIntervalMs = IDLE_CHECKPOINT_INTERVAL_MS) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs, idleIntervalMs } });
    this.worker.on('message', (message: { error?: string }) => {
      if (message.error) onError(message.error);
    });
    this.worker.on('error', (err) => onError(err.message));
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.unref();
  }

  /** Stops the thread after its current checkpoint and closes its connection. */
  async stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    // Referenced again, so that the process waits for the thread to close its connection.
    this.worker.ref();
    this.stopped = this.exited;
    this.worker.postMessage('stop');
    return this.stopped;
  }
}
