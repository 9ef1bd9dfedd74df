import type { FastifyInstance } from 'fastify';
import { ERROR_CATALOG } from '../../errors.js';
import { VERSION } from '../../version.js';
import { renderApiReference } from '../api-reference-page.js';
import type { ApiContext } from '../context.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi.js';

/** The reference page forbids every external resource and every script; only its inline style applies. */
const DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Registers health, readiness, metrics, the OpenAPI document, the reference page and the error catalog. */
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

  let document: OpenApiDocument | null = null;
  let page: string | null = null;
  app.get('/openapi.json', async () => {
    document ??= buildOpenApiDocument();
    return document;
  });

  app.get('/docs', async (_request, reply) => {
    document ??= buildOpenApiDocument();
    page ??= renderApiReference(document);
    return reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_CSP).send(page);
  });

  app.get('/v1/errors', async () => ({
    data: Object.entries(ERROR_CATALOG).map(([code, entry]) => ({ code, status: entry.status, description: entry.description })),
  }));
}
