/**
 * Read access to Dits commit and manifest objects, with bounded caches.
 * Objects are content-addressed and never change once written, so a parsed
 * object can be cached for the life of the process. A missing or unreadable
 * object is not cached, because Dits may still be writing it.
 */
import { objectPath, parseCommit, parseManifest, readTextIfExists, UnusableFileError } from './dits-format.js';
import type { CommitObject, ManifestFiles } from './dits-format.js';

/** Object database access for the event builders; null means the object is missing or invalid. */
export interface ObjectReader {
  readCommit(id: string): Promise<CommitObject | null>;
  readManifest(id: string): Promise<ManifestFiles | null>;
}

export interface ObjectCacheLimits {
  /** Parsed commits kept in memory; each is a few hundred bytes. */
  commits: number;
  /** Parsed manifests kept in memory; one can list thousands of files. */
  manifests: number;
}

const DEFAULT_LIMITS: ObjectCacheLimits = { commits: 20_000, manifests: 64 };

/** Largest commit object read, in bytes; its message is the only part that grows. */
export const COMMIT_OBJECT_MAX_BYTES = 16 * 1024 * 1024;
/** Largest manifest object read, in bytes: about a million file entries. */
export const MANIFEST_OBJECT_MAX_BYTES = 256 * 1024 * 1024;

/** Reads an object file, or returns null when it is missing, not a regular file or too large: the callers treat all three as missing. */
async function readObjectText(path: string, maxBytes: number): Promise<string | null> {
  try {
    return await readTextIfExists(path, maxBytes);
  } catch (error) {
    if (error instanceof UnusableFileError) return null;
    throw error;
  }
}

/** A map that evicts its least recently used entry beyond `limit` entries. */
class LruCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}

/** Creates a reader of the objects under `<ditsDir>/objects`. */
export function createObjectReader(ditsDir: string, limits: ObjectCacheLimits = DEFAULT_LIMITS): ObjectReader {
  const commits = new LruCache<CommitObject>(limits.commits);
  const manifests = new LruCache<ManifestFiles>(limits.manifests);

  return {
    async readCommit(id) {
      const cached = commits.get(id);
      if (cached) return cached;
      const text = await readObjectText(objectPath(ditsDir, 'commits', id), COMMIT_OBJECT_MAX_BYTES);
      const commit = text === null ? null : parseCommit(id, text);
      if (commit) commits.set(id, commit);
      return commit;
    },
    async readManifest(id) {
      const cached = manifests.get(id);
      if (cached) return cached;
      const text = await readObjectText(objectPath(ditsDir, 'manifests', id), MANIFEST_OBJECT_MAX_BYTES);
      const manifest = text === null ? null : parseManifest(text);
      if (manifest) manifests.set(id, manifest);
      return manifest;
    },
  };
}
