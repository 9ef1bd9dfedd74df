import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.js';
import type { TokenScope } from '../../store/types.js';
import type { ApiContext } from '../context.js';
import { nextCursor, pageParams } from '../pagination.js';
import { pageQuerySchema, tokenCreateSchema } from '../schemas.js';
import { generateToken, hashToken, TOKEN_PREFIX } from '../tokens.js';
import { parseIdParam, validateInput } from '../validation.js';
import { tokenView } from '../views.js';

/** Creates a token and returns the plain token string, which is shown only this once. */
export async function issueToken(context: ApiContext, name: string, scopes: TokenScope[]): Promise<{ token: string; record: Awaited<ReturnType<ApiContext['store']['createToken']>> }> {
  const token = generateToken();
  const record = await context.store.createToken(
    { name, scopes, hash: hashToken(token), prefix: token.slice(0, TOKEN_PREFIX.length + 6) },
    context.clock(),
  );
  return { token, record };
}

export function registerTokenRoutes(app: FastifyInstance, context: ApiContext): void {
  const bodyLimit = context.config.maxRequestBodyBytes;

  app.post('/tokens', { config: { scope: 'admin' }, bodyLimit }, async (request, reply) => {
    const body = validateInput<{ name: string; scopes: TokenScope[] }>(tokenCreateSchema, request.body);
    const { token, record } = await issueToken(context, body.name, body.scopes);
    return reply.status(201).send({ ...tokenView(record), token });
  });

  app.get('/tokens', { config: { scope: 'admin', readsQuery: true } }, async (request) => {
    const query = validateInput<{ limit?: string; cursor?: string }>(pageQuerySchema, request.query, 'query');
    const page = await context.store.listTokenPage(pageParams(query, 'tokens'));
    return { data: page.items.map(tokenView), next_cursor: nextCursor('tokens', page.nextCursor) };
  });

  // Any valid token may read its own record, so that a client such as the dashboard can tell what it may do.
  app.get('/token', { config: { scope: 'any' } }, async (request) => tokenView(request.token!));

  app.delete<{ Params: { tokenId: string } }>('/tokens/:tokenId', { config: { scope: 'admin', takesNoBody: true } }, async (request, reply) => {
    const id = parseIdParam(request.params.tokenId, 'token_id');
    const outcome = await context.store.revokeToken(id, context.clock());
    if (outcome === 'last_admin') {
      // Without an admin token no one could create tokens again, because the first-start token is printed only for an empty store.
      throw new ApiError('last_admin_token', `Token ${id} is the last active admin token; create another admin token with POST /v1/tokens before revoking it.`);
    }
    if (outcome === 'not_found') {
      throw new ApiError('token_not_found', `Token ${id} does not exist or is already revoked; list tokens with GET /v1/tokens.`);
    }
    return reply.status(204).send();
  });
}
