import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** A service process started from the CLI, as an operator would run it. */
export interface ChildService {
  process: ChildProcess;
  url: string;
  /** The admin token printed at first start, or null when the data folder already had tokens. */
  adminToken: string | null;
  output: () => string;
}

/** Spawns `dits-webhook serve` and waits until it prints its URL. */
export function spawnService(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<ChildService> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', ...args], {
    env: { ...process.env, DITS_WEBHOOKS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not start within ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (!url) return;
      clearTimeout(timer);
      const adminToken = /\b(dwt_[A-Za-z0-9_-]+)/.exec(output)?.[1] ?? null;
      resolve({ process: child, url, adminToken, output: () => output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!/listening on/.test(output)) reject(new Error(`service exited (${code ?? signal}) before listening; output:\n${output}`));
    });
  });
}

/** Resolves when the process has exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Calls a child service's API with a bearer token and returns the status and the parsed JSON body. */
export async function callChild(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await request(base + path, {
    method: method as 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : null };
}

/** Kills every child still running (a failed assertion skips a test's own stop) and waits for each to exit. */
export async function stopChildren(children: ChildService[]): Promise<void> {
  for (const child of children) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    await exited(child.process);
  }
}
