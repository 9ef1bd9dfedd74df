import type { FastifyInstance } from 'fastify';
import { ApiError, invalidRequest } from '../../errors.js';
import type { ApiContext } from '../context.js';
import { emitRepositoryEvent } from '../emit.js';
import { nextCursor, pageParams } from '../pagination.js';
import { repoCreateSchema, repoPatchSchema, repoQuerySchema } from '../schemas.js';
import { parseIdParam, validateInput } from '../validation.js';
import { repositoryView } from '../views.js';
import type { RepositoryRecord } from '../../store/types.js';

interface RepoCreateBody {
  owner: string;
  name: string;
  private?: boolean;
  description?: string | null;
  default_branch?: string;
}

interface RepoPatchBody {
  name?: string;
  private?: boolean;
  description?: string | null;
  default_branch?: string;
  archived?: boolean;
}

/**
 * Builds the error for a taken name. Names compare without regard to case, so
 * the message names the existing repository as stored, with its id.
 */
async function repoExists(context: ApiContext, owner: string, name: string): Promise<ApiError> {
  const existing = await context.store.findRepository(owner, name).catch((err: unknown) => {
    context.logger.warn({ err, owner, name }, 'reading the repository that holds a name failed; the error quotes the name as sent');
    return null;
  });
  const holder = existing ? `${existing.owner}/${existing.name} (id ${existing.id})` : `${owner}/${name}`;
  return new ApiError('repo_exists', `Repository ${holder} already exists, and names compare without regard to case; choose another name or use the existing repository.`, [
    { field: 'name', message: `${owner}/${name} is taken by ${holder}` },
  ]);
}

/** Loads a repository by its path parameter or throws repo_not_found. */
export async function loadRepository(context: ApiContext, rawId: string): Promise<RepositoryRecord> {
  const id = parseIdParam(rawId, 'repo_id');
  const repo = await context.store.getRepository(id);
  if (!repo) throw new ApiError('repo_not_found', `Repository ${id} does not exist; list repositories with GET /v1/repos.`);
  return repo;
}

export function registerRepositoryRoutes(app: FastifyInstance, context: ApiContext): void {
  const { store, clock } = context;
  const bodyLimit = context.config.maxRequestBodyBytes;

  app.post('/repos', { config: { scope: 'write' }, bodyLimit }, async (request, reply) => {
    const body = validateInput<RepoCreateBody>(repoCreateSchema, request.body);
    const created = await store.createRepository(
      {
        owner: body.owner,
        name: body.name,
        private: body.private ?? false,
        description: body.description ?? null,
        defaultBranch: body.default_branch ?? 'main',
      },
      clock(),
    );
    if (created === 'exists') throw await repoExists(context, body.owner, body.name);
    await emitRepositoryEvent(context, request, created.id, 'repo.created');
    return reply.status(201).send(repositoryView(created));
  });

  app.get('/repos', { config: { scope: 'read', readsQuery: true } }, async (request) => {
    const query = validateInput<{ owner?: string; full_name?: string; limit?: string; cursor?: string }>(repoQuerySchema, request.query, 'query');
    if (query.full_name) {
      if (query.cursor !== undefined) {
        throw invalidRequest([{ field: 'query.cursor', message: 'is not used with full_name, which matches at most one repository; remove it' }]);
      }
      const [owner, name] = query.full_name.split('/');
      const repo = await store.findRepository(owner, name);
      // Filters combine: an owner that differs from the full name's owner matches nothing.
      const matches = repo !== null && (query.owner === undefined || query.owner.toLowerCase() === repo.owner.toLowerCase());
      return { data: matches ? [repositoryView(repo)] : [], next_cursor: null };
    }
    const list = `repos:${(query.owner ?? '').toLowerCase()}`;
    const page = await store.listRepositories({ owner: query.owner, ...pageParams(query, list) });
    return { data: page.items.map(repositoryView), next_cursor: nextCursor(list, page.nextCursor) };
  });

  app.get<{ Params: { repoId: string } }>('/repos/:repoId', { config: { scope: 'read' } }, async (request) => {
    return repositoryView(await loadRepository(context, request.params.repoId));
  });

  app.patch<{ Params: { repoId: string } }>('/repos/:repoId', { config: { scope: 'write' }, bodyLimit }, async (request) => {
    const before = await loadRepository(context, request.params.repoId);
    const body = validateInput<RepoPatchBody>(repoPatchSchema, request.body);
    const updated = await store.updateRepository(
      before.id,
      { name: body.name, private: body.private, description: body.description, defaultBranch: body.default_branch, archived: body.archived },
      clock(),
    );
    if (updated === 'exists') throw await repoExists(context, before.owner, body.name ?? before.name);
    if (!updated) throw new ApiError('repo_not_found', `Repository ${before.id} does not exist; list repositories with GET /v1/repos.`);
    if (updated.name !== before.name) await emitRepositoryEvent(context, request, updated.id, 'repo.renamed', { changes: { name: { from: before.name } } });
    if (updated.private !== before.private) {
      await emitRepositoryEvent(context, request, updated.id, 'repo.visibility_changed', { changes: { private: { from: before.private } } });
    }
    if (updated.archived !== before.archived) await emitRepositoryEvent(context, request, updated.id, 'repo.archived', { archived: updated.archived });
    return repositoryView(updated);
  });

  app.delete<{ Params: { repoId: string } }>('/repos/:repoId', { config: { scope: 'write', takesNoBody: true } }, async (request, reply) => {
    const repo = await loadRepository(context, request.params.repoId);
    // The event is stored first, so that the repository's own webhooks receive it as their last event.
    await emitRepositoryEvent(context, request, repo.id, 'repo.deleted');
    await store.deleteRepository(repo.id, clock());
    return reply.status(204).send();
  });
}
