import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import type { ApiContext } from './context.js';

/** Returns the sender of events that the API itself emits: the token that made the change. */
export function tokenSender(request: FastifyRequest): Record<string, unknown> {
  return { login: request.token?.name ?? 'system', type: 'bot' };
}

/** Emits a repository lifecycle event through the normal ingestion path and waits for its commit. */
export async function emitRepositoryEvent(
  context: ApiContext,
  request: FastifyRequest,
  repoId: number,
  event: string,
  fields: Record<string, unknown> = {},
): Promise<void> {
  const result = await context.ingestor.submit({
    repoId,
    event,
    sender: tokenSender(request),
    fields,
    idempotencyKey: null,
    requestHash: null,
  });
  if (!result.ok) throw new ApiError('repo_not_found', `Repository ${repoId} was deleted while its ${event} event was being stored.`);
}
