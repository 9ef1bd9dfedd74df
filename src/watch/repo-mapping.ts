/**
 * Mapping of a working copy to the server repository that receives its
 * events: a fixed id (`--repo ID`, one working copy only), or
 * `OWNER/<folder name>` looked up on the server and, with `--create`, created
 * when missing.
 */
import { basename, resolve } from 'node:path';
import { ApiRequestError } from './api-client.js';
import type { ApiClient } from './api-client.js';

export type RepoMapping =
  | { kind: 'id'; id: number }
  | { kind: 'name'; owner: string; name: string; create: boolean; private: boolean };

/** Maps a working copy to its repository by the folder's base name under `owner`. */
export function mappingByOwner(workingCopy: string, owner: string, create: boolean, isPrivate: boolean): RepoMapping {
  return { kind: 'name', owner, name: basename(resolve(workingCopy)), create, private: isPrivate };
}

/** Returns a stable text that names the target repository without asking the server; every idempotency key includes it. */
export function repoKeyOf(mapping: RepoMapping): string {
  return mapping.kind === 'id' ? `repo:${mapping.id}` : `name:${mapping.owner}/${mapping.name}`;
}

/** Resolves a mapping to a repository id once and keeps it until `forget`. A failed lookup is tried again on the next call. */
export class RepoResolver {
  private id: number | null;

  constructor(
    private readonly client: ApiClient,
    private readonly mapping: RepoMapping,
  ) {
    this.id = mapping.kind === 'id' ? mapping.id : null;
  }

  /** Drops a looked-up id, so that the next call looks the owner/name up again. A fixed id (`--repo`) stays. */
  forget(): void {
    if (this.mapping.kind === 'name') this.id = null;
  }

  async resolve(signal?: AbortSignal): Promise<number> {
    if (this.id !== null) return this.id;
    const mapping = this.mapping as Extract<RepoMapping, { kind: 'name' }>;
    const fullName = `${mapping.owner}/${mapping.name}`;

    let repository = await this.client.findRepository(fullName, signal);
    if (!repository && mapping.create) {
      try {
        repository = await this.client.createRepository({ owner: mapping.owner, name: mapping.name, private: mapping.private }, signal);
      } catch (error) {
        // Another watcher or a person created it between the lookup and the creation.
        if (!(error instanceof ApiRequestError) || error.status !== 409) throw error;
        repository = await this.client.findRepository(fullName, signal);
      }
    }
    if (!repository) {
      // Retryable: the events wait in the outbox until someone creates the repository.
      throw new ApiRequestError(
        `Repository ${fullName} was not found on the server. Create it with POST /v1/repos, or restart the watcher with --create.`,
        404,
        'repo_not_found',
        true,
      );
    }
    this.id = repository.id;
    return repository.id;
  }
}
