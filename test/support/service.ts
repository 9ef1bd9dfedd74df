import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { startService, type Service, type ServiceOptions } from '../../src/app.js';

/** A service on a fresh SQLite file in a temporary folder, listening on a free loopback port. */
export interface TestService extends Service {
  url: string;
  adminToken: string;
  dataDir: string;
  /** Calls the API with the admin token (or another) and returns status, headers and parsed JSON. */
  api(method: string, path: string, body?: unknown, options?: { token?: string; headers?: Record<string, string>; raw?: string | Buffer }): Promise<ApiResponse>;
  stop(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
  text: string;
}

export async function startTestService(options: ServiceOptions & { overrides?: Record<string, unknown> } = {}): Promise<TestService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dits-webhooks-test-'));
  const service = await startService({
    ...options,
    overrides: { port: 0, dataDir, allowPrivateTargets: true, logLevel: 'silent', sqliteSynchronous: 'normal', ...options.overrides },
    env: {},
    logger: options.logger ?? pino({ level: 'silent' }),
    announce: () => {},
  });
  const url = service.url as string;
  const adminToken = service.adminToken as string;
  const api: TestService['api'] = async (method, path, body, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token !== '') headers.authorization = `Bearer ${opts.token ?? adminToken}`;
    let payload: string | Buffer | undefined = opts.raw;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await request(url + path, { method: method as 'GET', headers, body: payload });
    const text = await res.body.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.statusCode, headers: res.headers, json, text };
  };
  return {
    ...service,
    url,
    adminToken,
    dataDir,
    api,
    async stop() {
      await service.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitUntil<T>(check: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
