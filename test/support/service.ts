import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { startService, type Service, type ServiceOptions } from '../../src/app.js';

/** A service on a SQLite file in a temporary folder (new, or reopened with the `dataDir` option), listening on a loopback port. */
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

export interface TestServiceOptions extends ServiceOptions {
  overrides?: Record<string, unknown>;
  /** Folder of an earlier test service to open again, as after a restart; default a new temporary folder. */
  dataDir?: string;
  /** Leaves the data folder in place on `stop()`, so that another service can open it. */
  keepData?: boolean;
  /**
   * Admin token of the earlier service on `dataDir`. The service creates and
   * returns a token only when its store has none, so a restart needs this one.
   */
  adminToken?: string;
}

export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const { dataDir: reusedDataDir, keepData = false, adminToken: knownToken, ...serviceOptions } = options;
  const dataDir = reusedDataDir ?? mkdtempSync(join(tmpdir(), 'dits-webhooks-test-'));
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    service = await startService({
      ...serviceOptions,
      overrides: { port: 0, dataDir, allowPrivateTargets: true, logLevel: 'silent', sqliteSynchronous: 'normal', ...options.overrides },
      env: {},
      logger: options.logger ?? pino({ level: 'silent' }),
      announce: () => {},
    });
  } catch (err) {
    // A start that fails leaves no service whose stop() would remove the folder made here.
    if (reusedDataDir === undefined && !keepData) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const url = service.url as string;
  // NOTE: on a reused store without the adminToken option this is null despite its type, which callers that reopen a folder check for.
  const adminToken = (service.adminToken ?? knownToken ?? null) as string;
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
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
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
