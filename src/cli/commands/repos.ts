/** `repo create|list|show|delete`: the repositories whose events the service fans out. */
import type { Command } from 'commander';
import { fetchAllPages } from '../client.js';
import { cell, formatFields, formatTable, formatTime, print, printJson } from '../output.js';
import { parseFullName, parseOwner, resolveRepoId } from '../references.js';
import { runAction } from '../run-action.js';
import { addSettingsOptions, connect } from '../settings.js';

export interface Repository {
  id: number;
  name: string;
  owner: string;
  full_name: string;
  private: boolean;
  description: string | null;
  default_branch: string;
  archived: boolean;
  created_at: string;
  updated_at: string;
}

/** Page size and page count bound `repo list`: at most 100 × 100 repositories. */
const PAGE_SIZE = 100;
const MAX_PAGES = 100;

function repositoryFields(repo: Repository): [string, string][] {
  return [
    ['ID', String(repo.id)],
    ['Full name', repo.full_name],
    ['Visibility', repo.private ? 'private' : 'public'],
    ['Description', cell(repo.description)],
    ['Default branch', repo.default_branch],
    ['Archived', repo.archived ? 'yes' : 'no'],
    ['Created', formatTime(repo.created_at)],
    ['Updated', formatTime(repo.updated_at)],
  ];
}

interface CreateFlags {
  private?: boolean;
  description?: string;
  defaultBranch?: string;
}

async function createRepository(fullName: string, flags: CreateFlags, command: Command): Promise<void> {
  const { owner, name } = parseFullName(fullName);
  const { settings, client } = connect(command);
  const body: Record<string, unknown> = { owner, name, private: flags.private === true };
  if (flags.description !== undefined) body.description = flags.description;
  if (flags.defaultBranch !== undefined) body.default_branch = flags.defaultBranch;
  const repo = await client.post<Repository>('/v1/repos', body);
  if (settings.json) return printJson(repo);
  print(`Created repository ${repo.full_name} (id ${repo.id}, ${repo.private ? 'private' : 'public'}).`);
  print(`Add a webhook with: dits-webhook create --repo ${repo.full_name} --url <receiver URL> --events push`);
}

async function listRepositories(flags: { owner?: string }, command: Command): Promise<void> {
  const owner = flags.owner === undefined ? undefined : parseOwner(flags.owner);
  const { settings, client } = connect(command);
  const page = await fetchAllPages<Repository>(client, '/v1/repos', { owner, limit: PAGE_SIZE }, MAX_PAGES);
  if (settings.json) return printJson(page);
  if (page.data.length === 0) {
    print(owner ? `No repositories of ${owner}.` : 'No repositories. Create one with: dits-webhook repo create <owner/name>');
    return;
  }
  const rows = page.data.map((repo) => [String(repo.id), repo.full_name, repo.private ? 'private' : 'public', repo.default_branch, formatTime(repo.created_at)]);
  print(formatTable(['id', 'full name', 'visibility', 'default branch', 'created'], rows));
  if (page.next_cursor) print(`Showing the first ${page.data.length} repositories; narrow the list with --owner.`);
}

async function showRepository(reference: string, _flags: unknown, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const repo = await client.get<Repository>(`/v1/repos/${await resolveRepoId(client, reference)}`);
  if (settings.json) return printJson(repo);
  print(formatFields(repositoryFields(repo)));
}

async function deleteRepository(reference: string, _flags: unknown, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const id = await resolveRepoId(client, reference);
  // The GET names the repository in the confirmation and turns a wrong id into repo_not_found before anything changes.
  const repo = await client.get<Repository>(`/v1/repos/${id}`);
  await client.delete(`/v1/repos/${id}`);
  if (settings.json) return printJson({ id: repo.id, full_name: repo.full_name, deleted: true });
  print(`Deleted repository ${repo.full_name} (id ${repo.id}); deliveries its own webhooks still had waiting are cancelled.`);
}

export function registerRepoCommands(program: Command): void {
  const repo = program.command('repo').description('Create, list, show and delete repositories');

  addSettingsOptions(
    repo
      .command('create')
      .description('Register a repository; the server sends repo.created to its owner-level webhooks')
      .argument('<owner/name>', 'owner login and repository name, such as alice/film')
      .option('--private', 'mark the repository private (default public)')
      .option('--description <text>', 'description of at most 1000 characters')
      .option('--default-branch <branch>', 'default branch name (default main)'),
  ).action(runAction(createRepository));

  addSettingsOptions(
    repo.command('list').description('List repositories, all pages').option('--owner <login>', 'only repositories of this owner'),
  ).action(runAction(listRepositories));

  addSettingsOptions(
    repo.command('show').description('Show one repository').argument('<repo>', 'repository id or owner/name'),
  ).action(runAction(showRepository));

  addSettingsOptions(
    repo.command('delete').description('Delete a repository; its webhooks receive repo.deleted first').argument('<repo>', 'repository id or owner/name'),
  ).action(runAction(deleteRepository));
}
