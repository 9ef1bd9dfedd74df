import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/** Error for a working copy that a watcher in another live process already watches. */
export class WatchedElsewhereError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
    readonly lockPath: string,
  ) {
    super(`another watcher (process ${pid}) already watches ${dir}; stop it first, or delete ${lockPath} if no watcher runs`);
    this.name = 'WatchedElsewhereError';
  }
}

/** Reports whether a process with this id is running; a process of another user counts too. */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock file next to a working copy's snapshot that contains the watcher's
 * process id, so that a second watcher of the same working copy fails to
 * start instead of sending every event twice. A lock whose process has
 * ended is taken over. The lock is best effort: a state folder that cannot
 * hold the file leaves the working copy unlocked, and writing the snapshot
 * reports that folder's problem.
 */
export class StateLock {
  private constructor(private readonly path: string | null) {}

  static acquire(path: string, dir: string): StateLock {
    const content = `${process.pid}\n`;
    try {
      writeFileSync(path, content, { flag: 'wx' });
      return new StateLock(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return new StateLock(null);
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(path, 'utf8').trim());
    } catch {
      // Removed meanwhile, or unreadable: treated as a lock without a live holder.
    }
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && processRuns(holder)) throw new WatchedElsewhereError(dir, holder, path);
    try {
      writeFileSync(path, content);
      return new StateLock(path);
    } catch {
      return new StateLock(null);
    }
  }

  /** Removes the lock file, unless another process has taken it over since. */
  release(): void {
    if (this.path === null) return;
    try {
      if (readFileSync(this.path, 'utf8').trim() === String(process.pid)) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}
