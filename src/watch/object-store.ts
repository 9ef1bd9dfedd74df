/**
 * Read access to Dits commit and manifest objects, with bounded caches.
 * Objects are content-addressed and never change once written, so a parsed
 * object can be cached for the life of the process. A missing or unreadable
 * object is not cached, because Dits may still be writing it.
 */
import { objectPath, parseCommit, parseManifest, readTextIfExists } from './dits-format.js';
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
      const text = await readTextIfExists(objectPath(ditsDir, 'commits', id));
      const commit = text === null ? null : parseCommit(id, text);
      if (commit) commits.set(id, commit);
      return commit;
    },
    async readManifest(id) {
      const cached = manifests.get(id);
      if (cached) return cached;
      const text = await readTextIfExists(objectPath(ditsDir, 'manifests', id));
      const manifest = text === null ? null : parseManifest(text);
      if (manifest) manifests.set(id, manifest);
      return manifest;
    },
  };
}
