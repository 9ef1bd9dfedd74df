import type { FastifyInstance } from 'fastify';
import { ERROR_CATALOG } from '../../errors.js';
import { VERSION } from '../../version.js';
import type { ApiContext } from '../context.js';

export function registerOperationsRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/healthz', async () => ({ status: 'ok', version: VERSION }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await context.store.ping();
      return { status: 'ready', store: context.store.kind };
    } catch (err) {
      context.logger.error({ err }, 'readiness check failed');
      return reply.status(503).send({ status: 'unavailable', store: context.store.kind });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await context.metrics.registry.metrics();
    return reply.type(context.metrics.registry.contentType).send(text);
  });

  app.get('/v1/errors', async () => ({
    data: Object.entries(ERROR_CATALOG).map(([code, entry]) => ({ code, status: entry.status, description: entry.description })),
  }));
}
