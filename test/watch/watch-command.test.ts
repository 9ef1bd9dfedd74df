import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { describeOptionErrors, watchOptionsFromFlags } from '../../src/watch/command.js';
import { validateWatchOptions } from '../../src/watch/watch-options.js';
import { DitsRepoFixture } from './dits-fixture.js';
import { IngestionServer } from './ingestion-server.js';
import { waitFor, withDeadline } from './test-support.js';

const logger = pino({ level: 'silent' });
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// main.ts belongs to the CLI; this registers the command on a program of its own.
const WATCH_SCRIPT = [
  "import { Command } from 'commander';",
  "const { registerWatchCommand } = await import('./src/watch/command.ts');",
  'const program = new Command();',
  'registerWatchCommand(program);',
  "await program.parseAsync(process.argv.slice(1), { from: 'user' });",
].join('\n');

describe('watchOptionsFromFlags', () => {
  const env = { DITS_WEBHOOKS_URL: 'http://127.0.0.1:9000', DITS_WEBHOOKS_TOKEN: 'env-token' };

  test('environment fills what flags leave out', () => {
    const options = watchOptionsFromFlags(['/w'], { repo: '7' }, env, logger);
    assert.equal(options.serverUrl, 'http://127.0.0.1:9000');
    assert.equal(options.token, 'env-token');
    assert.equal(options.repo, 7);
    assert.equal(options.useFsWatch, true);
  });

  test('flags win over the environment', () => {
    const options = watchOptionsFromFlags(['/w'], { url: 'http://127.0.0.1:1', token: 'flag-token', pollInterval: '40', fsWatch: false }, env, logger);
    assert.deepEqual([options.serverUrl, options.token, options.pollIntervalMs, options.useFsWatch], ['http://127.0.0.1:1', 'flag-token', 40, false]);
  });

  test('default server URL', () => {
    assert.equal(watchOptionsFromFlags(['/w'], {}, {}, logger).serverUrl, 'http://127.0.0.1:8080');
  });

  test('errors name the flags', () => {
    const options = watchOptionsFromFlags(['/w'], { repo: 'seven', pollInterval: 'fast' }, {}, logger);
    const text = describeOptionErrors(validateWatchOptions(options));
    assert.match(text, /^--token \(or DITS_WEBHOOKS_TOKEN\): /m);
    assert.match(text, /^--repo: expected a positive integer repository id, got "seven"$/m);
    assert.match(text, /^--poll-interval: expected an integer from 10 to 3600000 milliseconds, got "fast"$/m);
  });

  test('private without create', () => {
    const options = watchOptionsFromFlags(['/w'], { owner: 'studio', token: 't', private: true }, {}, logger);
    assert.match(describeOptionErrors(validateWatchOptions(options)), /^--private: private applies only to repositories that --create makes; add --create or drop --private$/m);
  });
});

/** A `watch` command run in a child process, with what it printed so far; the child is killed when the test ends. */
interface WatchRun {
  exited: Promise<number | null>;
  child: ReturnType<typeof spawn>;
  stdout: () => string;
  stderr: () => string;
}

function runWatch(t: TestContext, args: string[], env: NodeJS.ProcessEnv): WatchRun {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WATCH_SCRIPT, 'watch', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { exited, child, stdout: () => stdout, stderr: () => stderr };
}

describe('watch command', () => {
  test('sends events and exits 0 on SIGTERM', async (t) => {
    const server = await IngestionServer.start();
    const fixture = DitsRepoFixture.create('project');
    t.after(async () => {
      await server.close();
      fixture.cleanup();
    });
    const repo = server.addRepo('studio', 'project');
    const c1 = fixture.writeCommit({ message: 'Start', files: { 'a.mp4': '1' } });
    fixture.setRef('heads/main', c1);

    const run = runWatch(t, [fixture.dir, '--url', server.url, '--repo', String(repo.id), '--poll-interval', '25', '--log-level', 'info'], { ...process.env, DITS_WEBHOOKS_TOKEN: server.token });
    const output = () => run.stdout() + run.stderr();
    await waitFor(() => output().includes('watching working copy'), `the watcher to start (output: ${output()})`, 15_000);
    fixture.setRef('tags/v1', c1);
    await waitFor(() => server.eventsOf(repo.id).length === 1, 'the tag.created event');
    assert.equal(server.eventsOf(repo.id)[0].body.event, 'tag.created');

    run.child.kill('SIGTERM');
    assert.equal(await withDeadline(run.exited, 'the watcher to exit'), 0);
  });

  test('invalid folder name exits 2', async (t) => {
    const fixture = DitsRepoFixture.create('My Film');
    t.after(() => fixture.cleanup());
    // Validation stops the command before its first request, so the URL is never contacted.
    const run = runWatch(t, [fixture.dir, '--url', 'http://127.0.0.1:9', '--owner', 'me', '--create'], { ...process.env, DITS_WEBHOOKS_TOKEN: 'unused-token' });
    assert.equal(await withDeadline(run.exited, 'the watcher to exit', 15_000), 2);
    const stderr = run.stderr();
    assert.match(stderr, /^Invalid watch options:$/m);
    assert.match(stderr, /^<dir>: expected a folder name that is a valid repository name/m);
    assert.match(stderr, /got "My Film" from ".*My Film"/);
    assert.match(stderr, /rename the folder, or watch it alone with --repo/);
  });

  test('missing token exits 2 before any log line', async (t) => {
    const fixture = DitsRepoFixture.create('film');
    t.after(() => fixture.cleanup());
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DITS_WEBHOOKS_')));
    // An empty config home, so that no config file of the machine supplies a token.
    const run = runWatch(t, [fixture.dir, '--url', 'http://127.0.0.1:9', '--repo', '1'], { ...env, HOME: fixture.dir, XDG_CONFIG_HOME: fixture.dir });
    assert.equal(await withDeadline(run.exited, 'the watcher to exit', 15_000), 2);
    const stderr = run.stderr();
    assert.match(stderr, /^--token \(or DITS_WEBHOOKS_TOKEN\): /m);
    assert.equal(run.stdout(), '', 'no log line names a server that the watcher never uses');
  });
});
