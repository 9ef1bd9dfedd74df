/**
 * Locates and loads the dashboard's static files. They are plain HTML, CSS
 * and JavaScript modules under `src/dashboard/assets/`, with no build step.
 * tsc copies no such files to `dist/`, so the compiled module looks first
 * beside itself and then in the source tree of the same checkout.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One static file, held in memory; the dashboard's files total a few tens of KiB. */
export interface DashboardAsset {
  name: string;
  contentType: string;
  body: Buffer;
  /** Strong validator: a hash of the body, quoted as HTTP requires. */
  etag: string;
}

/** File extensions served, with their media types; other files in the folder are ignored. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Returns the folders that may hold the assets, in search order, for a module
 * at `moduleUrl`: `assets/` beside it (running from `src/` with tsx), then
 * `../../src/dashboard/assets/` (running from `dist/dashboard/` after tsc).
 */
export function assetDirectoryCandidates(moduleUrl: string | URL): URL[] {
  return [new URL('./assets/', moduleUrl), new URL('../../src/dashboard/assets/', moduleUrl)];
}

/** Returns the first candidate folder that contains `index.html`, or throws an error naming every folder tried. */
export function findAssetDirectory(candidates: readonly URL[]): URL {
  const found = candidates.find((directory) => existsSync(fileURLToPath(new URL('index.html', directory))));
  if (found) return found;
  const tried = candidates.map((directory) => fileURLToPath(directory)).join(', ');
  throw new Error(`Dashboard assets not found: no index.html in ${tried}; run the service from a checkout that contains src/dashboard/assets/.`);
}

/** Reads every servable file of `directory` into memory, keyed by file name. */
export function loadDashboardAssets(directory: URL): Map<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>();
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || contentType === undefined) continue;
    const body = readFileSync(new URL(entry.name, directory));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    assets.set(entry.name, { name: entry.name, contentType, body, etag });
  }
  return assets;
}
