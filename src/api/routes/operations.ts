import { statfs } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ERROR_CATALOG, isStoreLocked } from '../../errors.js';
import { VERSION } from '../../version.js';
import { renderApiReference } from '../api-reference-page.js';
import type { ApiContext } from '../context.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi.js';

/** The reference page forbids every external resource and every script; only its inline style applies. */
const DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Responds to a readiness probe: 200 when the store responds and a write
 * could start, otherwise 503 with the reason. A lock held by another
 * process usually passes, so it logs a warning without a stack.
 */
/**
 * Returns why the disk of the SQLite data folder is too full for the
 * service to be ready, or null. Writes on a full disk fail with 507
 * store_full, so a load balancer should stop sending traffic before that.
 */
async function lowDiskReason(context: ApiContext): Promise<string | null> {
  const { config, store } = context;
  if (store.kind !== 'sqlite' || config.minFreeDiskBytes === 0) return null;
  const { bavail, bsize } = await statfs(config.dataDir);
  const free = bavail * bsize;
  if (free >= config.minFreeDiskBytes) return null;
  context.logger.warn({ free_bytes: free, min_free_disk_bytes: config.minFreeDiskBytes }, 'not ready: the disk of the data folder is nearly full');
  return `the disk of the data folder has ${free} bytes free, fewer than minFreeDiskBytes (${config.minFreeDiskBytes}); free disk space`;
}

export async function answerReadiness(context: ApiContext, reply: FastifyReply): Promise<unknown> {
  try {
    await context.store.ping();
    const disk = await lowDiskReason(context);
    if (disk !== null) return reply.status(503).send({ status: 'unavailable', store: context.store.kind, reason: disk });
    const secrets = await context.secretReadiness.notReadyReason(Date.now());
    if (secrets !== null) return reply.status(503).send({ status: 'unavailable', store: context.store.kind, reason: secrets });
    return { status: 'ready', store: context.store.kind };
  } catch (err) {
    const locked = isStoreLocked(err);
    if (locked) context.logger.warn('not ready: the SQLite database is locked by another process');
    else context.logger.error({ err }, 'readiness check failed');
    const reason = locked ? 'another process holds the database write lock' : 'the store did not respond; the cause is in the server log';
    return reply.status(503).send({ status: 'unavailable', store: context.store.kind, reason });
  }
}

/** Registers health, readiness, metrics, the OpenAPI document, the reference page and the error catalog. */
export function registerOperationsRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/healthz', async () => ({ status: 'ok', version: VERSION }));

  app.get('/readyz', async (_request, reply) => answerReadiness(context, reply));

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
