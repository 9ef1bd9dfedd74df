import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./service-child.ts', import.meta.url));

/** A service process started by a scale test or benchmark. */
export interface ServiceChild {
  process: ChildProcess;
  pid: number;
  role: string;
  url: string | null;
  workerId: string | null;
  adminToken: string | null;
  output: () => string;
}

/** Spawns `service-child.ts` with the role and environment, and waits for its ready line. */
export function spawnServiceChild(role: 'api' | 'worker' | 'all', env: Record<string, string>, timeoutMs = 30_000): Promise<ServiceChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, role], {
    env: { ...process.env, DITS_WEBHOOKS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${role} process did not start within ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (!line) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { pid: number; url: string | null; workerId: string | null; adminToken: string | null };
      resolve({ process: child, role, ...ready, output: () => output });
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${role} process exited (${code ?? signal}) before it was ready; output:\n${output}`));
    });
  });
}

/** Sends SIGTERM to the process (by its PID) and waits for it to exit, with SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
