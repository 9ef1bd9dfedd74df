import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { progressBar, parseSince } from '../../src/cli/commands/replay.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { createHook, pushEvent } from '../support/fixtures.js';
import { cliEnv, makeHome, prepareCli, runCli } from './cli-harness.js';

let service: TestService;
let command: string[];
let env: NodeJS.ProcessEnv;
let home: string;

before(async () => {
  command = await prepareCli();
  service = await startTestService();
  home = makeHome();
  env = cliEnv(home, { DITS_WEBHOOKS_URL: service.url, DITS_WEBHOOKS_TOKEN: service.adminToken });
});

after(async () => {
  await service.stop();
  rmSync(home, { recursive: true, force: true });
});

test('progress bar renders share', () => {
  assert.equal(progressBar(0, 4, 8), '[--------] 0/4 0 %');
  assert.equal(progressBar(2, 4, 8), '[####----] 2/4 50 %');
  assert.equal(progressBar(4, 4, 8), '[########] 4/4 100 %');
  assert.equal(progressBar(0, 0, 8), '[########] 0/0 100 %');
});

test('since accepts times and durations', () => {
  const now = Date.UTC(2026, 0, 2, 12, 0, 0);
  assert.equal(parseSince('6h', now), '2026-01-02T06:00:00.000Z');
  assert.equal(parseSince('2d', now), '2025-12-31T12:00:00.000Z');
  assert.equal(parseSince('90s', now), '2026-01-02T11:58:30.000Z');
  assert.equal(parseSince('2026-01-01T00:00:00Z', now), '2026-01-01T00:00:00Z');
  assert.throws(() => parseSince('yesterday', now), /--since must be/);
  assert.throws(() => parseSince('garbage', now, '--until'), /--until must be/);
  assert.equal(parseSince('2024-02-29T23:59:59.5+05:30', now), '2024-02-29T23:59:59.5+05:30');
  // Year 0 is a leap year in the proleptic Gregorian calendar that RFC 3339 uses.
  assert.equal(parseSince('0000-02-29T00:00:00Z', now), '0000-02-29T00:00:00Z');
  assert.throws(() => parseSince('1900-02-29T00:00:00Z', now), /--since must be an RFC 3339 time/);
  for (const day of ['2026-02-29T00:00:00Z', '2026-02-30T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:00:00+24:00']) {
    assert.throws(() => parseSince(day, now), /--since must be an RFC 3339 time/, day);
  }
  assert.throws(() => parseSince('2016-12-31T23:59:60Z', now), /leap seconds \(:60\) are not supported, so use :59/);
  assert.throws(() => parseSince('999999d', now), /--since 999999d reaches back before the year 0; give a shorter duration/);
  assert.throws(() => parseSince('2999-01-01T00:00:00Z', now), /--since 2999-01-01T00:00:00Z is in the future/);
  assert.equal(parseSince('2999-01-01T00:00:00Z', now, '--until'), '2999-01-01T00:00:00Z', 'an end in the future is fine');
});

test('replay command resends failed deliveries', async () => {
  const receiver = await Receiver.start();
  receiver.respondStatus(404);
  const { repoId, hookId, base } = await createHook(service, receiver.url, { events: ['push'] });
  for (let i = 0; i < 5; i++) await service.api('POST', `/v1/repos/${repoId}/events`, pushEvent(`r${i}`));
  await waitUntil(async () => (await service.api('GET', `${base}/deliveries?status=failed`)).json.data.length === 5, 10_000, 'five failed');
  receiver.respondStatus(200);

  const result = await runCli(command, ['replay', String(hookId), '--repo', String(repoId), '--since', '1h'], env);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Replay \d+: 5 failed deliveries since/);
  assert.match(result.stdout, /\[#{30}\] 5\/5 100 %/);
  assert.match(result.stdout, /finished: 5 deliveries attempted again\. See the results with dits-webhook deliveries \d+ --repo \d+\./);
  assert.equal(receiver.requests.length, 10);

  const usage = await runCli(command, ['replay', String(hookId), '--repo', String(repoId)], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--since is required/);
  const bad = await runCli(command, ['replay', String(hookId), '--repo', String(repoId), '--since', 'soon'], env);
  assert.equal(bad.code, 2);
  const reversed = await runCli(command, ['replay', String(hookId), '--repo', String(repoId), '--since', '5m', '--until', '10m'], env);
  assert.equal(reversed.code, 2, 'caught before any request');
  assert.match(reversed.stderr, /--until \(.+\) must be at least 1 ms later than --since/);
  const sameMillisecond = await runCli(
    command,
    ['replay', String(hookId), '--repo', String(repoId), '--since', '2026-01-02T00:00:00.0001Z', '--until', '2026-01-02T00:00:00.0002Z'],
    env,
  );
  assert.equal(sameMillisecond.code, 2);
  assert.match(sameMillisecond.stderr, /as times count to the millisecond/);
  await receiver.close();
});
