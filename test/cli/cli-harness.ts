/**
 * Runs the `dits-webhook` binary as a user would: a child process with its
 * own environment, stdout, stderr and exit status.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd: ROOT, env: options.env ?? process.env, timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * Builds the project with tsc and returns the command that starts the CLI:
 * the built `dist/cli/main.js` when it runs, otherwise `src/cli/main.ts`
 * through tsx. tsc emits JavaScript even when another file has type errors,
 * so the built binary is the usual path. The fallback covers a build that
 * does not run at all.
 */
export async function prepareCli(): Promise<string[]> {
  // scripts/run-tests.mjs builds once before the test files start, so that parallel files never read a half-written dist/.
  if (process.env.DITS_TEST_PREBUILT !== '1') {
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { timeoutMs: 120_000 });
  }
  const built = [join(ROOT, 'dist/cli/main.js')];
  const probe = await run(process.execPath, [...built, 'listen', '--help']);
  if (probe.code === 0) return built;
  process.stderr.write(`# dist/cli/main.js does not run (${probe.stderr.trim().split('\n')[0]}); testing src/cli/main.ts through tsx\n`);
  return ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
}

/** Creates an empty folder to serve as HOME for CLI children; the caller removes it. */
export function makeHome(): string {
  return mkdtempSync(join(tmpdir(), 'dits-cli-home-'));
}

/**
 * Returns a child environment with only PATH, the given HOME and the given
 * variables, so the settings of the person running the tests never leak in.
 */
export function cliEnv(home: string, vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: home, ...vars };
}

/** Runs the CLI to completion. */
export function runCli(command: string[], args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliResult> {
  return run(process.execPath, [...command, ...args], { env, input });
}

/** A CLI process that keeps running, such as `listen`, with its output collected line by line. */
export class RunningCli {
  readonly stdoutLines: string[] = [];
  stderr = '';
  private buffer = '';
  private readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffer += chunk;
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop() ?? '';
      this.stdoutLines.push(...lines);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(command: string[], args: string[], env: NodeJS.ProcessEnv): RunningCli {
    return new RunningCli(spawn(process.execPath, [...command, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** Resolves with the first stdout line that matches, or rejects after `timeoutMs` or when the process exits. */
  async waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.stdoutLines.find((candidate) => pattern.test(candidate));
      if (line !== undefined) return line;
      if (this.child.exitCode !== null) throw new Error(`CLI exited with ${this.child.exitCode} before printing ${pattern}; stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no stdout line matched ${pattern} within ${timeoutMs} ms; stdout: ${this.stdoutLines.join('\n')}; stderr: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends SIGTERM and returns the exit status; kills the process if it has not exited after 5 s. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
