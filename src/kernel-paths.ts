import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, sep } from 'node:path';

/** Kernel file systems, which contain no ordinary files. */
const KERNEL_FILE_SYSTEMS = ['/proc', '/sys'];

/**
 * Returns the kernel file system that `path` lies on, or null. Node 20.20's
 * recursive mkdir spins without returning on paths under /proc, so callers
 * check this before they create a folder. The path is followed as the kernel
 * follows it, so a link to /proc counts as /proc, also before a `..`.
 */
export function kernelFileSystemOf(path: string): string | null {
  const physical = physicalPath(path);
  return KERNEL_FILE_SYSTEMS.find((prefix) => physical === prefix || physical.startsWith(prefix + '/')) ?? null;
}

/**
 * Returns the absolute path that `path` names, with each existing part
 * replaced by its real path before the next part is applied. path.resolve
 * would remove `link/..` as text, while the kernel first follows `link`.
 */
function physicalPath(path: string): string {
  let current = isAbsolute(path) ? sep : process.cwd();
  for (const part of path.split(sep)) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      current = dirname(current);
      continue;
    }
    current = join(current, part);
    try {
      current = realpathSync(current);
    } catch {
      // A part that does not exist yet cannot be a link; the rest is applied as text.
    }
  }
  return current;
}
