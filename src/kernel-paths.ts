import { resolve } from 'node:path';

/** Kernel file systems, which hold no ordinary files. */
const KERNEL_FILE_SYSTEMS = ['/proc', '/sys'];

/**
 * Returns the kernel file system that `path` lies on, or null. Node 20.20's
 * recursive mkdir spins without returning on paths under /proc, so callers
 * check this before they create a folder.
 */
export function kernelFileSystemOf(path: string): string | null {
  const absolute = resolve(path);
  return KERNEL_FILE_SYSTEMS.find((prefix) => absolute === prefix || absolute.startsWith(prefix + '/')) ?? null;
}
