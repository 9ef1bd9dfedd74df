/** `token create|list|revoke` (admin token) and `token show` (any token): API tokens. */
import type { Command } from 'commander';
import { fetchAllPages } from '../client.js';
import { TOKEN_SCOPES } from '../../api/tokens.js';
import { UsageError } from '../errors.js';
import { cell, formatTable, formatTime, print, printJson, sanitize } from '../output.js';
import { parseId } from '../references.js';
import { runAction } from '../run-action.js';
import { addSettingsOptions, connect } from '../settings.js';
import { splitList } from '../webhook-flags.js';

/** Maximum number of pages of 100 tokens that `token list` reads. */
const MAX_TOKEN_PAGES = 100;

interface Token {
  id: number;
  name: string;
  scopes: string[];
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  /** Present only in the create response. */
  token?: string;
}

/** Parses `--scopes`: a comma-separated list of distinct scopes from the catalog. */
export function parseScopes(raw: string): string[] {
  const scopes = splitList([raw]);
  if (scopes.length === 0) throw new UsageError(`--scopes needs at least one of ${TOKEN_SCOPES.join(', ')}`);
  for (const scope of scopes) {
    if (!(TOKEN_SCOPES as readonly string[]).includes(scope)) {
      throw new UsageError(`--scopes entry ${JSON.stringify(scope)} is not a scope; use ${TOKEN_SCOPES.join(', ')}`);
    }
  }
  return [...new Set(scopes)];
}

async function createToken(flags: { name: string; scopes: string }, command: Command): Promise<void> {
  const scopes = parseScopes(flags.scopes);
  const { settings, client } = connect(command);
  const token = await client.post<Token>('/v1/tokens', { name: flags.name, scopes });
  if (settings.json) return printJson(token);
  // The name comes back from the server, so it is escaped like every other text the CLI prints.
  print(`Created token ${token.id} (${sanitize(token.name)}) with scopes ${token.scopes.join(', ')}.`);
  print(`Token: ${token.token}`);
  print('This token is shown only once: store it now, e.g. in DITS_WEBHOOKS_TOKEN. Revoke it with `dits-webhook token revoke ' + token.id + '`.');
}

async function listTokens(_flags: unknown, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  // Token lists are short, so the pages are read and shown as one list.
  const page = await fetchAllPages<Token>(client, '/v1/tokens', { limit: 100 }, MAX_TOKEN_PAGES);
  if (settings.json) return printJson(page);
  const rows = page.data.map((t) => [String(t.id), t.name, t.scopes.join(','), t.prefix + '...', formatTime(t.created_at), formatTime(t.last_used_at), t.revoked_at ? `revoked ${formatTime(t.revoked_at)}` : 'active']);
  print(formatTable(['id', 'name', 'scopes', 'prefix', 'created', 'last used', 'status'], rows.map((row) => row.map(cell))));
  if (page.next_cursor) print(`Showing the first ${page.data.length} tokens; the API lists the rest with GET /v1/tokens?cursor=${page.next_cursor}.`);
}

async function showToken(_flags: unknown, command: Command): Promise<void> {
  const { settings, client } = connect(command);
  const token = await client.get<Token>('/v1/token');
  if (settings.json) return printJson(token);
  print(`Token ${token.id} (${sanitize(token.name)}), prefix ${token.prefix}..., scopes ${token.scopes.join(', ')}; created ${formatTime(token.created_at)}, last used ${formatTime(token.last_used_at)}.`);
}

async function revokeToken(id: string, _flags: unknown, command: Command): Promise<void> {
  const tokenId = parseId(id, 'token');
  const { settings, client } = connect(command);
  await client.delete(`/v1/tokens/${tokenId}`);
  if (settings.json) return printJson({ id: tokenId, revoked: true });
  print(`Revoked token ${tokenId}; requests that use it now get 401.`);
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('Create, list and revoke API tokens (needs an admin token), or show the token in use');

  addSettingsOptions(
    token
      .command('create')
      .description('Create an API token; it is printed once')
      .requiredOption('--name <name>', 'what the token is for, 1 to 100 characters')
      .requiredOption('--scopes <scopes>', `comma-separated scopes: ${TOKEN_SCOPES.join(', ')}`),
  ).action(runAction(createToken));

  addSettingsOptions(token.command('list').description('List tokens, revoked ones included')).action(runAction(listTokens));

  addSettingsOptions(token.command('show').description('Show the name and scopes of the token in use; any token may')).action(runAction(showToken));

  addSettingsOptions(token.command('revoke').description('Revoke a token at once').argument('<id>', 'token id from `dits-webhook token list`')).action(runAction(revokeToken));
}
