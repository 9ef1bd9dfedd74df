/**
 * Routes of the web dashboard: `/` and `/dashboard` redirect to
 * `/dashboard/`, which serves the single page, and `/dashboard/<file>` serves
 * its scripts and styles. The page itself calls the `/v1` API with the token
 * the user types in, so these routes need no token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { assetDirectoryCandidates, findAssetDirectory, loadDashboardAssets, type DashboardAsset } from './assets.js';

/**
 * Content-Security-Policy of every dashboard response: scripts, styles,
 * images and API calls from this origin only, and no inline script or style.
 * An event payload or response body that slips into the page as markup still
 * cannot run code.
 */
export const DASHBOARD_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': DASHBOARD_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const DASHBOARD_PATH = '/dashboard/';

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: DashboardAsset): FastifyReply {
  reply.headers(SECURITY_HEADERS);
  // no-cache makes the browser revalidate each time, so a restarted server with new assets is seen at once.
  reply.header('cache-control', 'no-cache');
  reply.header('etag', asset.etag);
  if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
  return reply.type(asset.contentType).send(asset.body);
}

function redirectToDashboard(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.headers(SECURITY_HEADERS).redirect(DASHBOARD_PATH, 302);
}

/**
 * Registers the dashboard routes. It reads the assets once, from
 * `assetDirectory` or else from the first folder of `assetDirectoryCandidates`
 * that contains them, and throws when there is none, so the server fails to start.
 */
export function registerDashboardRoutes(app: FastifyInstance, assetDirectory?: URL): void {
  const directory = assetDirectory ?? findAssetDirectory(assetDirectoryCandidates(import.meta.url));
  const assets = loadDashboardAssets(directory);
  const index = assets.get('index.html');
  if (!index) throw new Error(`Dashboard assets in ${directory.href} lack index.html; pass a folder that contains the dashboard's index.html.`);

  app.get('/', redirectToDashboard);
  app.get('/dashboard', redirectToDashboard);
  app.get(DASHBOARD_PATH, async (request, reply) => sendAsset(request, reply, index));
  app.get<{ Params: { file: string } }>(`${DASHBOARD_PATH}:file`, async (request, reply) => {
    const asset = assets.get(request.params.file);
    if (!asset) return reply.callNotFound();
    return sendAsset(request, reply, asset);
  });
}
