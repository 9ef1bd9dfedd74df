import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startService } from '../../src/app.js';

const root = mkdtempSync(join(tmpdir(), 'dits-start-errors-'));
const silent = pino({ level: 'silent' });

after(() => rmSync(root, { recursive: true, force: true }));

test('port in use stops start early', async () => {
  const portHolder: Server = createServer();
  await new Promise<void>((resolve) => portHolder.listen(0, '127.0.0.1', resolve));
  const port = (portHolder.address() as { port: number }).port;
  const announced: string[] = [];
  try {
    await assert.rejects(
      startService({ overrides: { port, host: '127.0.0.1', dataDir: join(root, 'port') }, env: {}, logger: silent, announce: (line) => announced.push(line) }),
      new RegExp(`cannot listen: port ${port} on 127\\.0\\.0\\.1 is already in use; stop the process that holds it, or set another port with --port or DITS_WEBHOOKS_PORT`),
    );
  } finally {
    await new Promise((resolve) => portHolder.close(resolve));
  }
  assert.deepEqual(announced, [], 'no admin token was created');
  // The database was closed, so a second start on the same folder works and creates the first token now.
  const service = await startService({ overrides: { port: 0, host: '127.0.0.1', dataDir: join(root, 'port') }, env: {}, logger: silent, announce: (line) => announced.push(line) });
  await service.close();
  assert.equal(announced.length, 1);
  assert.match(announced[0], /Created the first admin token/);
});

test('host not on this machine', async () => {
  // Binding to a documentation address fails in the kernel; nothing is sent anywhere.
  await assert.rejects(
    startService({ overrides: { port: 0, host: '192.0.2.1', dataDir: join(root, 'host') }, env: {}, logger: silent, announce: () => {} }),
    /^Error: cannot listen: host 192\.0\.2\.1 is not an address of this machine; set another host with --host or DITS_WEBHOOKS_HOST$/,
  );
});

test('data folder that is a file', async () => {
  const file = join(root, 'not-a-folder');
  writeFileSync(file, 'x');
  await assert.rejects(
    startService({ overrides: { port: 0, dataDir: file }, env: {}, logger: silent, announce: () => {} }),
    new RegExp(`^Error: dataDir ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} cannot hold the database \\(.+\\); set a writable folder with --data-dir or DITS_WEBHOOKS_DATA_DIR$`),
  );
});

test('data folder through a broken link', async () => {
  // mkdir cannot create a folder at a link whose target is missing (ENOENT), nor through a link to itself (ELOOP).
  const dangling = join(root, 'dangling');
  symlinkSync(join(root, 'nowhere', 'data'), dangling);
  const looping = join(root, 'looping');
  symlinkSync('looping', looping);
  for (const dataDir of [dangling, join(looping, 'data')]) {
    await assert.rejects(
      startService({ overrides: { port: 0, dataDir }, env: {}, logger: silent, announce: () => {} }),
      new RegExp(`^Error: dataDir ${dataDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} cannot hold the database \\((ENOENT|ELOOP): .+\\); set a writable folder with --data-dir or DITS_WEBHOOKS_DATA_DIR$`),
    );
  }
});

test('data folder on a kernel file system', async () => {
  // Node 20's own recursive mkdirSync spins on this path without returning, so the service checks the path first.
  await assert.rejects(
    startService({ overrides: { port: 0, dataDir: '/proc/dits-webhooks-data' }, env: {}, logger: silent, announce: () => {} }),
    /^Error: dataDir \/proc\/dits-webhooks-data cannot hold the database \(\/proc\/dits-webhooks-data is on the kernel file system \/proc, which cannot hold files\); set a writable folder with --data-dir or DITS_WEBHOOKS_DATA_DIR$/,
  );
  const link = join(root, 'proc-link');
  symlinkSync('/proc/self', link);
  await assert.rejects(
    startService({ overrides: { port: 0, dataDir: join(link, 'data') }, env: {}, logger: silent, announce: () => {} }),
    /is on the kernel file system \/proc, which cannot hold files\); set a writable folder with --data-dir/,
    'a symbolic link into /proc counts as /proc',
  );
});

test('database URL with nothing listening', async () => {
  // A port that was free a moment ago: the connection is refused on loopback, nothing leaves the machine.
  const probe: Server = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  await assert.rejects(
    startService({ overrides: { port: 0, host: '127.0.0.1', databaseUrl: `postgres://nobody@127.0.0.1:${port}/none` }, env: {}, logger: silent, announce: () => {} }),
    /^Error: cannot reach the PostgreSQL database of databaseUrl \(connect ECONNREFUSED 127\.0\.0\.1:\d+\); check the URL in --database or DITS_WEBHOOKS_DATABASE_URL, and that the server runs and accepts this user$/,
  );
});

test('misspelt variable logs closest name', async () => {
  const lines: { msg?: string; variable?: string }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const env = { DITS_WEBHOOKS_MIN_FREE_DISK: '1000', DITS_WEBHOOKS_TOKEN: 'read by the CLI', DITS_WEBHOOKS_PORT: '0' };
  const service = await startService({ overrides: { host: '127.0.0.1', dataDir: join(root, 'misspelt') }, env, logger, announce: () => {} });
  await service.close();
  const warnings = lines.filter((line) => line.variable !== undefined);
  assert.deepEqual(warnings.map((line) => line.variable), ['DITS_WEBHOOKS_MIN_FREE_DISK'], 'known variables, the CLI ones too, give no warning');
  assert.match(warnings[0].msg ?? '', /did you mean DITS_WEBHOOKS_MIN_FREE_DISK_BYTES\?/);
});
