/**
 * The commit objects of a push payload, with the files each commit added,
 * modified and removed, found by comparing its manifest with its first
 * parent's manifest (merges compare with the first parent, as GitHub does).
 */
import type { CommitObject, ManifestFiles, Person } from './dits-format.js';
import type { ObjectReader } from './object-store.js';

export interface ChangedFiles {
  added: string[];
  modified: string[];
  removed: string[];
}

/** One entry of `commits` and the `head_commit` of a push payload. */
export interface PayloadCommit extends ChangedFiles {
  id: string;
  message: string;
  /** Absent when the commit object has no parseable timestamp, since the service rejects an invalid date-time. */
  timestamp?: string;
  author: Person;
  committer: Person;
  /**
   * Present and true when a manifest could not be read, so `added`, `modified`
   * and `removed` are empty rather than the real changes.
   */
  files_unavailable?: true;
  /** Present and true when the file lists were cut to keep the push within the server's body limit. */
  files_truncated?: true;
  /** Present and true when the message was cut because the server rejected the push as too large. */
  message_truncated?: true;
}

/** Compares two manifests; a modified file is one whose content hash changed. Paths are sorted. */
export function compareManifests(parent: ManifestFiles, current: ManifestFiles): ChangedFiles {
  const added: string[] = [];
  const modified: string[] = [];
  const removed: string[] = [];
  for (const [path, hash] of current) {
    const before = parent.get(path);
    if (before === undefined) added.push(path);
    else if (before !== hash) modified.push(path);
  }
  for (const path of parent.keys()) {
    if (!current.has(path)) removed.push(path);
  }
  return { added: added.sort(), modified: modified.sort(), removed: removed.sort() };
}

export interface BuiltCommit {
  commit: PayloadCommit;
  /** Ids of the objects that were needed but missing (commits or manifests). */
  missing: string[];
}

/** Reads the manifests and returns the payload form of one commit; a missing object empties the file lists. */
export async function buildPayloadCommit(reader: ObjectReader, commit: CommitObject): Promise<BuiltCommit> {
  const base: PayloadCommit = {
    id: commit.id,
    message: commit.message,
    ...(Number.isFinite(Date.parse(commit.timestamp)) ? { timestamp: commit.timestamp } : {}),
    author: commit.author,
    committer: commit.committer,
    added: [],
    modified: [],
    removed: [],
  };
  const missing: string[] = [];

  const current = await reader.readManifest(commit.manifest);
  if (!current) missing.push(commit.manifest);

  let parentFiles: ManifestFiles | null = new Map();
  const firstParent = commit.parents[0];
  if (firstParent !== undefined) {
    const parent = await reader.readCommit(firstParent);
    if (!parent) missing.push(firstParent);
    parentFiles = parent ? await reader.readManifest(parent.manifest) : null;
    if (parent && !parentFiles) missing.push(parent.manifest);
  }

  if (!current || !parentFiles) return { commit: { ...base, files_unavailable: true }, missing };
  return { commit: { ...base, ...compareManifests(parentFiles, current) }, missing };
}
