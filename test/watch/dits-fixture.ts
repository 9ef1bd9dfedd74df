/**
 * Builds Dits working copies on disk in the documented `.dits` format, since
 * Dits itself cannot be installed for tests. Object ids are sha256 hex of the
 * object's content: only their form (64 lowercase hex characters, stored in
 * objects as arrays of 32 integers) matters to the watcher.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FixturePerson {
  name: string;
  email: string;
}

export interface CommitInput {
  /** First parent; omitted or null for a root commit. */
  parent?: string | null;
  /** Extra merge parents. */
  mergeParents?: string[];
  message: string;
  /** The whole tree of the commit: path to file content. */
  files: Record<string, string>;
  author?: FixturePerson;
  committer?: FixturePerson;
  /** RFC 3339 with microseconds; defaults to a clock that moves one minute per commit. */
  timestamp?: string;
}

/** A stored lock as Dits writes it in `locks.json`. */
export interface FixtureLock {
  owner: string;
  acquired_at: number;
  expires_at: number;
  reason: string | null;
}

export const DEFAULT_AUTHOR: FixturePerson = { name: 'Ada Editor', email: 'ada@example.com' };

/** Converts 64 hex characters to the 32-integer array form of Dits hash fields. */
export function hexToHash(hex: string): number[] {
  return [...Buffer.from(hex, 'hex')];
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

let commitClockMs = Date.parse('2025-12-14T22:00:00Z');

/** Formats a time like Dits does: RFC 3339 UTC with microseconds. */
export function ditsTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

export class DitsRepoFixture {
  readonly ditsDir: string;
  /** The `timestamp` written into each commit, by commit id. */
  readonly timestamps = new Map<string, string>();

  private constructor(
    /** The working copy folder, the one that contains `.dits`. */
    readonly dir: string,
    private readonly root: string,
  ) {
    this.ditsDir = join(dir, '.dits');
  }

  /** Creates an initialized working copy named `name` in a new temporary folder. */
  static create(name = 'project'): DitsRepoFixture {
    const root = mkdtempSync(join(tmpdir(), 'dits-watch-'));
    const fixture = new DitsRepoFixture(join(root, name), root);
    for (const folder of ['refs/heads', 'refs/tags', 'objects/commits', 'objects/manifests']) {
      mkdirSync(join(fixture.ditsDir, folder), { recursive: true });
    }
    writeFileSync(join(fixture.ditsDir, 'HEAD'), 'ref: refs/heads/main\n');
    return fixture;
  }

  /** Writes a manifest object for a whole tree and returns its id. */
  writeManifest(files: Record<string, string>): string {
    const entries: Record<string, unknown> = {};
    for (const [path, content] of Object.entries(files)) {
      const contentHash = hexToHash(sha256(content));
      entries[path] = { path, mode: 0o644, file_type: 'Regular', size: Buffer.byteLength(content), content_hash: contentHash, chunks: [], storage: 'Chunked' };
    }
    const text = JSON.stringify({ entries }, null, 2);
    const id = sha256(text);
    this.writeObject('manifests', id, text);
    return id;
  }

  /** Writes a manifest and a commit object (objects before refs, as Dits does) and returns the commit id. */
  writeCommit(input: CommitInput): string {
    const manifest = this.writeManifest(input.files);
    commitClockMs += 60_000;
    const fields = {
      parent: input.parent ? hexToHash(input.parent) : null,
      ...(input.mergeParents?.length ? { parents: input.mergeParents.map(hexToHash) } : {}),
      manifest: hexToHash(manifest),
      message: input.message,
      author: input.author ?? DEFAULT_AUTHOR,
      committer: input.committer ?? input.author ?? DEFAULT_AUTHOR,
      timestamp: input.timestamp ?? ditsTimestamp(commitClockMs),
    };
    const id = sha256(JSON.stringify(fields));
    this.writeObject('commits', id, JSON.stringify({ hash: hexToHash(id), ...fields }, null, 2));
    this.timestamps.set(id, fields.timestamp);
    return id;
  }

  /** Points `refs/<ref>` (such as `heads/main` or `tags/v1`) at a commit, writing in place like Dits. */
  setRef(ref: string, id: string): void {
    const path = join(this.ditsDir, 'refs', ref);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, id + '\n');
  }

  deleteRef(ref: string): void {
    rmSync(join(this.ditsDir, 'refs', ref));
  }

  /** Rewrites `locks.json` whole; each key is the locked path. */
  writeLocks(locks: Record<string, FixtureLock>): void {
    const stored: Record<string, unknown> = {};
    for (const [path, lock] of Object.entries(locks)) stored[path] = { path, ...lock };
    writeFileSync(join(this.ditsDir, 'locks.json'), JSON.stringify(stored, null, 2));
  }

  /** Simulates a write caught halfway: writes the first `length` characters of `text` (default half) to a path under `.dits`. */
  writeHalf(relativePath: string, text: string, length = Math.floor(text.length / 2)): void {
    const path = join(this.ditsDir, relativePath);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text.slice(0, length));
  }

  /** Deletes an object, to simulate a damaged or partial object database. */
  removeObject(kind: 'commits' | 'manifests', id: string): void {
    rmSync(join(this.ditsDir, 'objects', kind, id.slice(0, 2), id.slice(2)));
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  private writeObject(kind: 'commits' | 'manifests', id: string, text: string): void {
    const path = join(this.ditsDir, 'objects', kind, id.slice(0, 2), id.slice(2));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}
