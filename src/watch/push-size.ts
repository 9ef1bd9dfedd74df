/**
 * Keeps the file lists of a push within a size that the server accepts. A
 * push of commits that each touch thousands of files would otherwise exceed
 * the ingestion body limit (10 MiB by default) and be rejected with 413.
 * Newer commits keep their lists first; a commit whose lists were cut is
 * flagged `files_truncated`.
 */

/** The file lists of one commit, in the payload form. */
export interface FileLists {
  added?: string[];
  modified?: string[];
  removed?: string[];
  files_truncated?: true;
}

export interface FileListBudget {
  /** Paths listed per commit, across added, modified and removed. */
  maxPathsPerCommit: number;
  /** UTF-8 bytes of all listed paths of the push, each path counted with its JSON quotes and comma. */
  maxPathBytes: number;
}

/** 3,000 paths per commit, and 4 MiB of paths per push, which leaves room under the service's default 10 MiB body limit. */
export const DEFAULT_FILE_LIST_BUDGET: FileListBudget = { maxPathsPerCommit: 3000, maxPathBytes: 4 * 1024 * 1024 };

const LISTS = ['added', 'modified', 'removed'] as const;

function pathBytes(path: string): number {
  return Buffer.byteLength(path, 'utf8') + 3;
}

/** Returns the UTF-8 bytes of every listed path of the commits, counted as the budget counts them. */
export function listedPathBytes(commits: readonly FileLists[]): number {
  let total = 0;
  for (const commit of commits) for (const list of LISTS) for (const path of commit[list] ?? []) total += pathBytes(path);
  return total;
}

/**
 * Returns the commits with their file lists cut to the budget, newest
 * (last) commit first served, and the number of paths left out. Commits
 * within the budget are returned as they are.
 */
export function capFileLists<T extends FileLists>(commits: readonly T[], budget: FileListBudget): { commits: T[]; omitted: number } {
  let bytesLeft = budget.maxPathBytes;
  let omitted = 0;
  const capped = new Array<T>(commits.length);
  for (let index = commits.length - 1; index >= 0; index--) {
    const commit = commits[index];
    let pathsLeft = budget.maxPathsPerCommit;
    let cut = false;
    const lists: Partial<Record<(typeof LISTS)[number], string[]>> = {};
    for (const name of LISTS) {
      const paths = commit[name];
      if (paths === undefined) continue;
      const keptPaths: string[] = [];
      for (const path of paths) {
        const size = pathBytes(path);
        if (pathsLeft > 0 && size <= bytesLeft) {
          keptPaths.push(path);
          pathsLeft--;
          bytesLeft -= size;
        } else {
          cut = true;
          omitted++;
        }
      }
      lists[name] = keptPaths;
    }
    capped[index] = cut ? { ...commit, ...lists, files_truncated: true } : commit;
  }
  return { commits: capped, omitted };
}
