import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Kernel file systems, which hold no ordinary files. */
const KERNEL_FILE_SYSTEMS = ['/proc', '/sys'];

/**
 * Returns the kernel file system that `path` lies on, or null. Node 20.20's
 * recursive mkdir spins without returning on paths under /proc, so callers
 * check this before they create a folder. Symbolic links are followed as far
 * as the path exists, so a link to /proc counts as /proc.
 */
export function kernelFileSystemOf(path: string): string | null {
  const absolute = realPathOfExisting(resolve(path));
  return KERNEL_FILE_SYSTEMS.find((prefix) => absolute === prefix || absolute.startsWith(prefix + '/')) ?? null;
}

/** Returns `path` with its longest existing leading part replaced by that part's real path. */
function realPathOfExisting(path: string): string {
  const rest: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(realpathSync(current), ...rest);
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      rest.unshift(basename(current));
      current = parent;
    }
  }
}
