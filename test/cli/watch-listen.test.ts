/**
 * The walkthrough of docs/watch.md as a test, with every step a child process
 * as a user would run it: `serve --allow-private-targets`, `listen`,
 * `token create`, `create` (an owner-level webhook), `watch --owner me
 * --create`, then a Dits commit in a working copy, a watcher restart and a
 * look at the delivery log. Dits cannot be installed here, so the test writes
 * the commit object and the branch ref the way `dits commit` does.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { verifyHubSignature } from '../../src/signing/verify.js';
import { exited, spawnService, type ChildService } from '../support/child-service.js';
import { waitUntil } from '../support/service.js';
import { DitsRepoFixture } from '../watch/dits-fixture.js';
import { cliEnv, makeHome, prepareCli, RunningCli, runCli, type CliResult } from './cli-harness.js';

const SECRET = 'my-listener-secret-123';
const OWNER = 'me';
/** One delivery line of `listen --secret`: time, event, delivery id, both signature checks passed. */
const deliveryLine = (event: string) => new RegExp(`^\\S+  ${event.replace('.', '\\.')}  ([0-9a-f-]{36})  hub ok, standard ok$`);

let command: string[];
let home: string;
let dataDir: string;
let service: ChildService;
let fixture: DitsRepoFixture;
const running: RunningCli[] = [];

function start(args: string[], env: NodeJS.ProcessEnv): RunningCli {
  const child = RunningCli.start(command, args, env);
  running.push(child);
  return child;
}

function succeeded(result: CliResult): string {
  assert.equal(result.code, 0, `exit status 0 expected; stderr: ${result.stderr}`);
  return result.stdout;
}

function linesMatching(listener: RunningCli, pattern: RegExp): string[] {
  return listener.stdoutLines.filter((line) => pattern.test(line));
}

before(async () => {
  command = await prepareCli();
  home = makeHome();
  dataDir = mkdtempSync(join(tmpdir(), 'dits-watch-listen-'));
  fixture = DitsRepoFixture.create('my-film');
  service = await spawnService(['--allow-private-targets', '--data-dir', dataDir], { HOME: home });
});

after(async () => {
  for (const child of running) await child.stop();
  service?.process.kill('SIGTERM');
  if (service) await exited(service.process);
  fixture?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

test('push from a Dits working copy reaches listen', async () => {
  assert.ok(service.adminToken, `the first start prints an admin token; output:\n${service.output()}`);
  const adminEnv = cliEnv(home, { DITS_WEBHOOKS_URL: service.url, DITS_WEBHOOKS_TOKEN: service.adminToken });

  const listener = start(['listen', '--port', '0', '--secret', SECRET], adminEnv);
  const listenUrl = /^Listening on (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(await listener.waitForLine(/./))?.[1];
  assert.ok(listenUrl, `the first line of listen names its URL: ${listener.stdoutLines[0]}`);

  const tokenOutput = succeeded(await runCli(command, ['token', 'create', '--name', 'watcher', '--scopes', 'write'], adminEnv));
  const watcherToken = /^Token: (dwt_\S+)$/m.exec(tokenOutput)?.[1];
  assert.ok(watcherToken, `token create prints the token: ${tokenOutput}`);

  const created = succeeded(await runCli(command, ['create', '--owner', OWNER, '--url', listenUrl, '--events', '*', '--secret', SECRET], adminEnv));
  const hookId = /^Created webhook (\d+) for owner me\.$/m.exec(created)?.[1];
  assert.ok(hookId, `create names the webhook: ${created}`);
  await listener.waitForLine(deliveryLine('ping'));

  // The first start records a baseline: the commit already on main is not reported.
  const c1 = fixture.writeCommit({ message: 'Initial footage', files: { 'shots/001.mov': 'S1' } });
  fixture.setRef('heads/main', c1);
  const watcherEnv = cliEnv(home, { DITS_WEBHOOKS_URL: service.url, DITS_WEBHOOKS_TOKEN: watcherToken });
  let watcher = start(['watch', fixture.dir, '--owner', OWNER, '--create'], watcherEnv);
  await watcher.waitForLine(/"msg":"watching working copy"/);
  assert.equal(linesMatching(watcher, /recorded the current state as the baseline/).length, 1);
  assert.ok(existsSync(join(fixture.ditsDir, 'webhooks-watch.json')), 'the state file is in the .dits folder');

  // What `dits commit -m "Add sound"` writes: the commit object, then the branch ref.
  const c2 = fixture.writeCommit({ parent: c1, message: 'Add sound', files: { 'shots/001.mov': 'S1', 'sound/mix.wav': 'M1' } });
  fixture.setRef('heads/main', c2);
  const pushLine = await listener.waitForLine(deliveryLine('push'));
  await listener.waitForLine(deliveryLine('repo.created'));
  const pushDelivery = deliveryLine('push').exec(pushLine)![1];

  const pushDetail = JSON.parse(succeeded(await runCli(command, ['--json', 'delivery', 'show', hookId, pushDelivery, '--owner', OWNER], adminEnv)));
  const body = Buffer.from(pushDetail.request.body as string, 'utf8');
  assert.ok(verifyHubSignature(SECRET, body, pushDetail.request.headers['x-hub-signature-256']), 'the stored push verifies with the listener secret');
  const push = JSON.parse(pushDetail.request.body);
  assert.equal(push.repository.full_name, 'me/my-film');
  assert.equal(push.before, c1);
  assert.equal(push.after, c2);
  assert.deepEqual(
    push.commits.map((commit: { id: string; message: string; added: string[] }) => [commit.id, commit.message, commit.added]),
    [[c2, 'Add sound', ['sound/mix.wav']]],
  );

  // A commit made while the watcher is stopped arrives after the restart, and nothing is sent twice.
  assert.equal(await watcher.stop(), 0);
  const c3 = fixture.writeCommit({ parent: c2, message: 'Trim intro', files: { 'shots/001.mov': 'S2', 'sound/mix.wav': 'M1' } });
  fixture.setRef('heads/main', c3);
  // Settings flags before the command name work for watch as for every command; the environment names no server here.
  watcher = start(['--url', service.url, '--token', watcherToken, 'watch', fixture.dir, '--owner', OWNER, '--create'], cliEnv(home));
  await watcher.waitForLine(new RegExp(`"url":"${service.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}","msg":"sending events to this server"`));
  await waitUntil(() => linesMatching(listener, deliveryLine('push')).length === 2, 10_000, 'the second push in the listener');

  const log = await waitUntil(async () => {
    const page = JSON.parse(succeeded(await runCli(command, ['--json', 'deliveries', hookId, '--owner', OWNER, '--all'], adminEnv)));
    const deliveries = page.data as Array<{ event: string; status: string }>;
    return deliveries.every((delivery) => delivery.status === 'delivered') ? deliveries : null;
  }, 15_000, 'every delivery to be delivered');
  assert.deepEqual(log.map((delivery) => delivery.event).sort(), ['ping', 'push', 'push', 'repo.created']);
  const table = succeeded(await runCli(command, ['deliveries', hookId, '--owner', OWNER, '--all'], adminEnv));
  assert.equal(table.split('\n').filter((line) => / delivered /.test(line)).length, 4, table);
  assert.equal(listener.stdoutLines.filter((line) => / hub ok, standard ok$/.test(line)).length, 4, listener.stdoutLines.join('\n'));
  assert.equal(listener.stdoutLines.filter((line) => /INVALID|not checked|answered/.test(line)).length, 0);
  assert.equal(linesMatching(watcher, /recorded the current state as the baseline/).length, 0, 'a restart keeps the stored state');
});
