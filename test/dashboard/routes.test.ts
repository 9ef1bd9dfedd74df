import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assetDirectoryCandidates, findAssetDirectory, loadDashboardAssets } from '../../src/dashboard/assets.js';
import { DASHBOARD_CONTENT_SECURITY_POLICY } from '../../src/dashboard/routes.js';
import { DELIVERY_STATUSES } from '../../src/delivery/states.js';
import { startTestService, type TestService } from '../support/service.js';

const ASSETS = new URL('../../src/dashboard/assets/', import.meta.url);
const assetText = (name: string) => readFileSync(new URL(name, ASSETS), 'utf8');
const scriptNames = readdirSync(ASSETS).filter((name) => name.endsWith('.js'));

let svc: TestService;

before(async () => {
  svc = await startTestService();
});

after(async () => {
  await svc.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(svc.url + path, { redirect: 'manual', headers });

test('dashboard routes answer', async () => {
  const cases: { path: string; status: number; type?: RegExp; location?: string }[] = [
    { path: '/', status: 302, location: '/dashboard/' },
    { path: '/dashboard', status: 302, location: '/dashboard/' },
    { path: '/dashboard/', status: 200, type: /^text\/html; charset=utf-8$/ },
    { path: '/dashboard/index.html', status: 200, type: /^text\/html/ },
    { path: '/dashboard/app.js', status: 200, type: /^text\/javascript; charset=utf-8$/ },
    { path: '/dashboard/app.css', status: 200, type: /^text\/css; charset=utf-8$/ },
    { path: '/dashboard/favicon.svg', status: 200, type: /^image\/svg\+xml$/ },
  ];
  for (const { path, status, type, location } of cases) {
    const response = await get(path);
    assert.equal(response.status, status, path);
    assert.equal(response.headers.get('content-security-policy'), DASHBOARD_CONTENT_SECURITY_POLICY, `${path} CSP`);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff', `${path} nosniff`);
    if (type) assert.match(response.headers.get('content-type') ?? '', type, `${path} content type`);
    if (location) assert.equal(response.headers.get('location'), location, `${path} location`);
    await response.arrayBuffer();
  }
});

test('unknown asset is 404', async () => {
  for (const path of ['/dashboard/missing.js', '/dashboard/..%2Fassets.ts', '/dashboard/%2e%2e%2fpackage.json']) {
    const response = await get(path);
    assert.equal(response.status, 404, path);
    assert.equal((await response.json()).error.code, 'route_not_found', path);
  }
});

test('etag revalidation returns 304', async () => {
  const first = await get('/dashboard/app.js');
  const etag = first.headers.get('etag');
  await first.arrayBuffer();
  assert.ok(etag, 'an ETag is sent');
  assert.equal(first.headers.get('cache-control'), 'no-cache');
  const again = await get('/dashboard/app.js', { 'if-none-match': etag });
  assert.equal(again.status, 304);
  const other = await get('/dashboard/app.css', { 'if-none-match': etag });
  assert.equal(other.status, 200, 'another file has another ETag');
  await other.arrayBuffer();
});

test('API still requires a token', async () => {
  const response = await get('/v1/repos');
  assert.equal(response.status, 401);
  await response.arrayBuffer();
});

test('CSP forbids inline and foreign code', () => {
  const directives = DASHBOARD_CONTENT_SECURITY_POLICY.split('; ');
  assert.ok(directives.includes("default-src 'self'"));
  assert.ok(directives.includes("script-src 'self'"));
  assert.ok(directives.includes("object-src 'none'"));
  assert.doesNotMatch(DASHBOARD_CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|\*|https?:/);
});

test('page has no inline code', () => {
  const html = assetText('index.html');
  const scripts = html.match(/<script\b[^>]*>[\s\S]*?<\/script>/gi) ?? [];
  assert.ok(scripts.length > 0);
  for (const script of scripts) assert.match(script, /^<script\b[^>]*\bsrc="[a-z-]+\.js"[^>]*><\/script>$/, script);
  assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i, 'no inline style or event handler');
});

test('assets load nothing from elsewhere', () => {
  for (const name of readdirSync(ASSETS)) {
    // The SVG namespace is an identifier, not a download.
    const text = assetText(name).replaceAll('http://www.w3.org/2000/svg', '');
    assert.doesNotMatch(text, /https?:\/\/|\/\/cdn|@import/i, name);
  }
});

test('scripts never parse API data as HTML', () => {
  assert.ok(scriptNames.length >= 5, `scripts found: ${scriptNames.join(', ')}`);
  for (const name of scriptNames) {
    const text = assetText(name);
    assert.doesNotMatch(text, /\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|createContextualFragment/, name);
  }
});

test('status filter matches lifecycle', () => {
  const match = /export const DELIVERY_STATUSES = (\[[^\]]*\]);/.exec(assetText('webhook.js'));
  assert.ok(match, 'webhook.js declares DELIVERY_STATUSES');
  assert.deepEqual(JSON.parse(match[1].replaceAll("'", '"')), [...DELIVERY_STATUSES]);
});

test('asset directory candidates', () => {
  const cases = [
    { module: 'file:///srv/app/src/dashboard/routes.ts', expected: ['file:///srv/app/src/dashboard/assets/', 'file:///srv/app/src/dashboard/assets/'] },
    { module: 'file:///srv/app/dist/dashboard/routes.js', expected: ['file:///srv/app/dist/dashboard/assets/', 'file:///srv/app/src/dashboard/assets/'] },
  ];
  for (const { module, expected } of cases) {
    assert.deepEqual(assetDirectoryCandidates(module).map(String), expected, module);
  }
});

test('compiled layout finds source assets', () => {
  const root = mkdtempSync(join(tmpdir(), 'dits-dashboard-assets-'));
  try {
    mkdirSync(join(root, 'dist', 'dashboard'), { recursive: true });
    mkdirSync(join(root, 'src', 'dashboard', 'assets'), { recursive: true });
    writeFileSync(join(root, 'src', 'dashboard', 'assets', 'index.html'), '<!doctype html>');
    writeFileSync(join(root, 'src', 'dashboard', 'assets', 'notes.txt'), 'not served');
    const moduleUrl = pathToFileURL(join(root, 'dist', 'dashboard', 'routes.js'));
    const found = findAssetDirectory(assetDirectoryCandidates(moduleUrl));
    assert.equal(found.href, pathToFileURL(join(root, 'src', 'dashboard', 'assets')).href + '/');
    const assets = loadDashboardAssets(found);
    assert.deepEqual([...assets.keys()], ['index.html'], 'only known file types are served');
    assert.equal(assets.get('index.html')?.contentType, 'text/html; charset=utf-8');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('missing assets name the folders', () => {
  const root = mkdtempSync(join(tmpdir(), 'dits-dashboard-assets-'));
  try {
    const candidates = assetDirectoryCandidates(pathToFileURL(join(root, 'dist', 'dashboard', 'routes.js')));
    assert.throws(
      () => findAssetDirectory(candidates),
      (error: Error) => error.message.includes(join(root, 'dist', 'dashboard', 'assets')) && error.message.includes(join(root, 'src', 'dashboard', 'assets')),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
