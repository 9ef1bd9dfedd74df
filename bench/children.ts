import { fork, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every child this benchmark started, so that all are ended on any exit path. */
const started = new Set<ChildProcess>();

function killAll(): void {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) child.kill('SIGKILL');
  }
  started.clear();
}

let hooksInstalled = false;

/** Ends every child on exit, on Ctrl-C and on SIGTERM, including after an uncaught error. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

interface Pending {
  resolve: (value: any) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A benchmark child process that serves RPC calls (see rpc.ts). */
export class BenchChild {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: { id?: number; result?: unknown; error?: string }) => {
      if (message.id === undefined) return;
      const entry = this.pending.get(message.id);
      if (!entry) return;
      this.pending.delete(message.id);
      clearTimeout(entry.timer);
      if (message.error !== undefined) entry.reject(new Error(`${name}: ${message.error}`));
      else entry.resolve(message.result);
    });
    child.on('exit', (code, signal) => {
      started.delete(child);
      for (const entry of this.pending.values()) {
        clearTimeout(entry.timer);
        entry.reject(new Error(`${name} exited (code ${code}, signal ${signal}) with a call pending`));
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /**
   * Starts `bench/<script>` under tsx and waits for its ready message.
   * The child's stdout goes to /dev/null (the service logs one line per
   * delivery there); stderr stays visible for crashes.
   */
  static async start(script: string, name = script, timeoutMs = 30_000): Promise<BenchChild> {
    installExitHooks();
    const path = fileURLToPath(new URL(script, import.meta.url));
    const child = fork(path, [], { execArgv: ['--import', 'tsx', ...benchExecArgv(name)], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    started.add(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms`)), timeoutMs);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with code ${code} before it was ready`));
      });
    });
    return new BenchChild(name, child);
  }

  /** Calls a method in the child; rejects when the child does not reply within `timeoutMs`. */
  call<T = any>(method: string, params: unknown = {}, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${method} did not reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ id, method, params });
    });
  }

  /** Asks the child to shut down cleanly, then kills it by PID if it is still running after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.call('close', {}, graceMs);
    } catch {
      // A child that cannot close cleanly is killed below.
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    if (this.child.connected) this.child.disconnect();
    await exited;
    clearTimeout(timer);
  }
}

/** Extra Node flags for one child, e.g. `BENCH_CPU_PROF=service` writes a CPU profile of the service children. */
function benchExecArgv(name: string): string[] {
  const profiled = (process.env.BENCH_CPU_PROF ?? '').split(',').filter(Boolean);
  if (!profiled.some((prefix) => name.startsWith(prefix))) return [];
  const interval = process.env.BENCH_CPU_PROF_INTERVAL ? [`--cpu-prof-interval=${process.env.BENCH_CPU_PROF_INTERVAL}`] : [];
  return ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR ?? join(tmpdir(), 'dits-bench-profiles')}`, ...interval];
}
