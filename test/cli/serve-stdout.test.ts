/**
 * Runs `dits-webhook serve` and the other service commands as a user would.
 * The first test puts standard output on a pipe that the reader closes after
 * the first line, as `npm start | head -1` does to catch the admin token. The
 * service must go on serving and stop on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { cliEnv, makeHome, prepareCli, runCli } from './cli-harness.js';

/** Returns a loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('serve outlives a closed standard output', async (t) => {
  const command = await prepareCli();
  const home = makeHome();
  const dataDir = mkdtempSync(join(tmpdir(), 'dits-serve-stdout-'));
  t.after(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  const port = await freePort();
  const child = spawn(process.execPath, [...command, 'serve', '--port', String(port), '--data-dir', dataDir], {
    env: cliEnv(home),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const first = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8'))));
  assert.match(first, /admin token/);
  child.stdout.destroy();

  // Until it is ready, the service may still be writing its start-up lines into the closed pipe.
  const deadline = Date.now() + 15_000;
  let status = 0;
  while (status !== 200 && Date.now() < deadline) {
    try {
      const res = await request(`http://127.0.0.1:${port}/healthz`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.text();
      status = res.statusCode;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  assert.equal(status, 200, `the service answers after its reader left; stderr: ${stderr}`);

  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running 10 s after SIGTERM'), 10_000))]);
  assert.equal(code, 0, `stderr: ${stderr}`);
});

test('config before service command rejected', async (t) => {
  const command = await prepareCli();
  const home = makeHome();
  t.after(() => rmSync(home, { recursive: true, force: true }));
  for (const args of [['serve', '--port', '0'], ['migrate'], ['secrets', 'reencrypt']]) {
    const name = args[0] === 'secrets' ? 'secrets reencrypt' : args[0];
    const result = await runCli(command, ['--config', 'service.json', ...args], cliEnv(home));
    assert.equal(result.code, 2, `${name}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`--config before ${name} names the CLI settings file, .*: dits-webhook ${name} --config service\\.json`));
  }
});
