/**
 * Command-line references to API resources: repositories by id or
 * `owner/name`, webhooks by id within a repository or an owner.
 */
import type { ApiClient } from './client.js';
import { CliError, UsageError } from './errors.js';

const SLUG = '[A-Za-z0-9][A-Za-z0-9._-]{0,99}';
const SLUG_PATTERN = new RegExp(`^${SLUG}$`);
const FULL_NAME_PATTERN = new RegExp(`^(${SLUG})/(${SLUG})$`);

export type RepoReference = { kind: 'id'; id: number } | { kind: 'name'; owner: string; name: string };

/** Parses a positive integer id such as a repository, webhook or token id; the UsageError names `label`. */
export function parseId(value: string, label: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${label} must be a positive integer id, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** Parses a repository reference: a numeric id or `owner/name`. */
export function parseRepoReference(value: string): RepoReference {
  if (/^[0-9]+$/.test(value)) return { kind: 'id', id: parseId(value, 'repository') };
  const match = FULL_NAME_PATTERN.exec(value);
  if (!match) {
    throw new UsageError(`repository ${JSON.stringify(value)} is neither an id nor owner/name; use e.g. 12 or alice/film (letters, digits, '.', '_', '-')`);
  }
  return { kind: 'name', owner: match[1], name: match[2] };
}

/** Parses `owner/name` for repository creation, where an id names nothing yet. */
export function parseFullName(value: string): { owner: string; name: string } {
  const match = FULL_NAME_PATTERN.exec(value);
  if (!match) {
    throw new UsageError(`repository ${JSON.stringify(value)} is not owner/name; pass the owner login and repository name, such as alice/film (letters, digits, '.', '_', '-')`);
  }
  return { owner: match[1], name: match[2] };
}

/** Checks an owner login for owner-level webhooks. */
export function parseOwner(value: string): string {
  if (!SLUG_PATTERN.test(value)) throw new UsageError(`--owner must be a login of letters, digits, '.', '_' or '-', got ${JSON.stringify(value)}`);
  return value;
}

/** Resolves a repository reference to its id, asking the server for `owner/name`. */
export async function resolveRepoId(client: ApiClient, value: string): Promise<number> {
  const reference = parseRepoReference(value);
  if (reference.kind === 'id') return reference.id;
  const fullName = `${reference.owner}/${reference.name}`;
  const page = await client.get<{ data: { id: number; full_name: string }[] }>('/v1/repos', { full_name: fullName });
  const match = page.data.find((repo) => repo.full_name === fullName);
  if (!match) throw new CliError(`repository ${fullName} does not exist; create it with \`dits-webhook repo create ${fullName}\` or list repositories with \`dits-webhook repo list\``);
  return match.id;
}

export interface ScopeFlags {
  repo?: string;
  owner?: string;
}

/** Returns the API path of the webhook collection that `--repo` or `--owner` names; exactly one must be given. */
export async function webhookCollectionPath(client: ApiClient, flags: ScopeFlags): Promise<string> {
  if (flags.repo !== undefined && flags.owner !== undefined) {
    throw new UsageError('pass either --repo or --owner, not both: a webhook belongs to one repository or to one owner');
  }
  if (flags.repo !== undefined) return `/v1/repos/${await resolveRepoId(client, flags.repo)}/webhooks`;
  if (flags.owner !== undefined) return `/v1/owners/${encodeURIComponent(parseOwner(flags.owner))}/webhooks`;
  throw new UsageError('missing --repo <id|owner/name> or --owner <login>: name the repository or owner the webhook belongs to');
}

/** Returns the API path of one webhook. */
export async function webhookPath(client: ApiClient, flags: ScopeFlags, hook: string): Promise<string> {
  const id = parseId(hook, 'webhook');
  return `${await webhookCollectionPath(client, flags)}/${id}`;
}
