/**
 * The Dits repository watcher behind `dits-webhook watch <dir>...`: watches
 * the refs and locks of each working copy and sends the resulting events to
 * the server's ingestion API, each under an idempotency key, surviving
 * restarts and server outages without repeating or losing events.
 */
import { access, mkdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hasScope } from '../api/tokens.js';
import type { TokenScope } from '../store/types.js';
import { ApiClient } from './api-client.js';
import { mappingByOwner } from './repo-mapping.js';
import type { RepoMapping } from './repo-mapping.js';
import { statePathsFor, type StatePaths } from './snapshot.js';
import { kernelFileSystemOf } from '../kernel-paths.js';
import { StateLock } from './state-lock.js';
import { osLogin, resolveWatchOptions, WatchOptionsError } from './watch-options.js';
import type { ResolvedWatchOptions, WatchOptions } from './watch-options.js';
import { WorkingCopyWatch } from './working-copy-watch.js';

export type { WatchOptions } from './watch-options.js';
export { WatchOptionsError } from './watch-options.js';

export interface RunningWatcher {
  /** Stops watching and sending; queued events stay in the outbox for the next start. */
  stop(): Promise<void>;
  /**
   * Scans every working copy once more, then resolves when every event found
   * so far has been sent or dropped. It waits as long as the server is
   * unreachable, and rejects when the watcher is stopped first.
   */
  flushed(): Promise<void>;
}

async function checkWorkingCopies(dirs: string[]): Promise<void> {
  const problems = [];
  for (const [index, dir] of dirs.entries()) {
    const isFolder = await stat(join(dir, '.dits')).then((s) => s.isDirectory(), () => false);
    if (!isFolder) {
      problems.push({ field: `dirs[${index}]`, message: `expected a Dits working copy with a .dits folder, got ${JSON.stringify(dir)}, which has none; pass the folder where Dits was initialized` });
    }
  }
  if (problems.length > 0) throw new WatchOptionsError(problems);
}

/** Creates the state folder, or explains why it cannot hold the snapshot and outbox files. */
async function prepareStateDir(stateDir: string): Promise<void> {
  const kernel = kernelFileSystemOf(stateDir);
  if (kernel !== null) {
    throw new WatchOptionsError([
      { field: '--state-dir', message: `${JSON.stringify(stateDir)} is on the kernel file system ${kernel}, which cannot hold files; pass a folder on a disk` },
    ]);
  }
  let reason: string;
  try {
    await mkdir(stateDir, { recursive: true });
    if ((await stat(stateDir)).isDirectory()) return;
    reason = 'it is not a folder';
  } catch (error) {
    reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
  throw new WatchOptionsError([
    { field: '--state-dir', message: `${JSON.stringify(stateDir)} cannot hold the snapshot and outbox files (${reason}); pass a folder this user can create or write to` },
  ]);
}

/** The state files of a working copy and the lock file that keeps a second watcher away. */
interface StateFiles {
  paths: StatePaths;
  lock: string;
}

/**
 * Returns the state files of a working copy. In a shared state folder they
 * are named after the working copy's real path, so that a second watcher
 * that reaches the same copy through a symbolic link finds the first one's
 * lock. Files named after the path as given, from before, are used while
 * none named after the real path exist, but the lock always goes by the real
 * path.
 */
async function stateFilesFor(dir: string, stateDir: string | null): Promise<StateFiles> {
  if (stateDir === null) {
    const paths = statePathsFor(dir);
    return { paths, lock: `${paths.snapshot}.lock` };
  }
  const real = await realpath(dir);
  const paths = statePathsFor(real, stateDir);
  const lock = `${paths.snapshot}.lock`;
  if (real === dir) return { paths, lock };
  const asGiven = statePathsFor(dir, stateDir);
  const exists = (path: string) => access(path).then(() => true, () => false);
  return { paths: !(await exists(paths.snapshot)) && (await exists(asGiven.snapshot)) ? asGiven : paths, lock };
}

function mappingFor(options: ResolvedWatchOptions, dir: string): RepoMapping {
  if (options.repo !== null) return { kind: 'id', id: options.repo };
  return mappingByOwner(dir, options.owner!, options.create, options.createPrivate);
}

/**
 * Refuses to start with a token that the server reports to lack a scope the
 * watcher needs: `events:write` always, `read` to look repositories up by
 * owner, `write` to create them. Otherwise every event would wait for good.
 * A server that cannot tell now is left to the sender's retries.
 */
async function checkTokenScopes(client: ApiClient, options: ResolvedWatchOptions): Promise<void> {
  const scopes = await client.tokenScopes();
  if (scopes === null) return;
  let needed: TokenScope[] = ['events:write'];
  let purpose = 'sending events';
  if (options.owner !== null) {
    needed = ['events:write', 'read'];
    purpose = '--owner';
  }
  if (options.create) {
    needed = ['events:write', 'read', 'write'];
    purpose = '--owner with --create';
  }
  const missing = needed.filter((scope) => !hasScope(scopes as TokenScope[], scope));
  if (missing.length === 0) return;
  const has = scopes.length > 0 ? scopes.join(', ') : 'no scope';
  // The write scope includes read and events:write.
  const suggested = options.create ? 'write' : needed.join(',');
  throw new WatchOptionsError([
    {
      field: 'token',
      message: `the server reports that this token has ${has} and lacks ${missing.join(' and ')}, which ${purpose} needs; create a token with dits-webhook token create --scopes ${suggested}`,
    },
  ]);
}

/**
 * Starts watching and resolves after each working copy's first scan. With a
 * stored snapshot, the events of changes made while the watcher was down are
 * queued by then. Without one, the current state becomes the baseline, and
 * changes made before this start are not reported.
 */
export async function startWatcher(input: WatchOptions): Promise<RunningWatcher> {
  const options = resolveWatchOptions(input);
  const dirs = options.dirs.map((dir) => resolve(dir));
  await checkWorkingCopies(dirs);
  if (options.stateDir) await prepareStateDir(options.stateDir);

  const client = new ApiClient({ serverUrl: options.serverUrl, token: options.token, timeoutMs: options.requestTimeoutMs });
  try {
    await checkTokenScopes(client, options);
  } catch (error) {
    await client.close();
    throw error;
  }
  const copies: WorkingCopyWatch[] = [];
  const locks: StateLock[] = [];
  const releaseLocks = () => {
    for (const lock of locks.splice(0)) lock.release();
  };
  try {
    for (const dir of dirs) {
      const mapping = mappingFor(options, dir);
      const { paths, lock } = await stateFilesFor(dir, options.stateDir);
      locks.push(StateLock.acquire(lock, dir));
      copies.push(
        await WorkingCopyWatch.start({
          dir,
          paths,
          mapping,
          client,
          logger: options.logger.child({ working_copy: dir, repository: mapping.kind === 'id' ? mapping.id : `${mapping.owner}/${mapping.name}` }),
          now: options.now,
          pollIntervalMs: options.pollIntervalMs,
          debounceMs: options.debounceMs,
          useFsWatch: options.useFsWatch,
          readRetry: options.readRetry,
          outboxPauseBytes: options.outboxPauseBytes,
          limits: { maxListed: options.maxCommitsListed, maxRead: options.maxCommitsRead },
          backoff: options.backoff,
          configuredLogin: options.sender,
          fallbackLogin: osLogin(),
        }),
      );
    }
  } catch (error) {
    await Promise.all(copies.map((copy) => copy.stop()));
    releaseLocks();
    await client.close();
    throw error;
  }

  let stopping: Promise<void> | null = null;
  return {
    stop() {
      stopping ??= (async () => {
        await Promise.all(copies.map((copy) => copy.stop()));
        releaseLocks();
        await client.close();
      })();
      return stopping;
    },
    async flushed() {
      await Promise.all(copies.map((copy) => copy.scanNow()));
      await Promise.all(copies.map((copy) => copy.whenIdle()));
    },
  };
}
