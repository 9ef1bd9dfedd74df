/**
 * Runs the Node (express) and Python (Flask) webhook handlers from the user
 * documentation as child processes and checks that the service's deliveries
 * pass their signature checks. The Node handler re-serialises the parsed body
 * with JSON.stringify before computing the HMAC, so it accepts a delivery only
 * when the service sent exactly the bytes that JSON.stringify produces.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestService, waitUntil, type TestService } from '../support/service.js';

const HANDLER_DIR = fileURLToPath(new URL('../fixtures/brief-handlers/', import.meta.url));
/** Flask comes from the Debian package python3-flask, which installs into the system interpreter only. */
const SYSTEM_PYTHON = '/usr/bin/python3';
const BRIEF_SECRET = 'your_webhook_secret';
const OTHER_SECRET = 'another_webhook_secret_value';
const BRIEF_EVENTS = ['push', 'repo.created'];
const WAIT_MS = 8_000;

const SENDER = { id: 456, login: 'octocat', type: 'user' };

/** A push with non-ASCII text, escapes, nested objects and numbers of several JSON forms. */
const PUSH_FIELDS = {
  sender: SENDER,
  ref: 'refs/heads/main',
  before: '3f7a1c0e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a',
  after: 'c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8',
  commits: [
    {
      id: '1111111111111111111111111111111111111111111111111111111111111111',
      message: 'Añadir metraje 🎬',
      timestamp: '2026-01-02T03:04:05.704512Z',
      author: { name: 'Zoë Ångström', email: 'zoe@example.com' },
      committer: { name: 'Zoë Ångström', email: 'zoe@example.com' },
      added: ['footage/escena_01 — toma 3.mov', 'música/tema.wav'],
      modified: [],
      removed: [],
    },
    {
      id: '2222222222222222222222222222222222222222222222222222222222222222',
      message: 'Fix "colour" grade\n\n\tpath C:\\renders\\final, 日本語\u2028line separator, bell \u0007',
      author: { name: 'Octocat', email: null },
      modified: ['edit.prproj'],
    },
    {
      id: 'c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8',
      message: 'Update render settings',
      author: { name: 'Octocat', email: 'octocat@example.com' },
      stats: { frames: 86400, fps: 23.976, offset: -12.5, ratio: 1e-7, big: 1e21, max_safe: 9007199254740991 },
    },
  ],
  render: { profile: { codec: 'ProRes 422 HQ', resolution: [3840, 2160], hdr: true, lut: null, tags: [] } },
};

const LOCK_PATH = 'footage/escena_01 — toma 3 🎬.mov';
const LOCK_FIELDS = {
  sender: SENDER,
  lock: { id: 'lock-7', path: LOCK_PATH, owner: SENDER, locked_at: '2026-01-02T03:04:05Z', expires_at: '2026-01-02T11:04:05Z', reason: 'Editing' },
};

interface HandlerSpec {
  name: string;
  command: string;
  script: string;
  /** Returns why the runtime cannot run the handler, with an install hint, or null when it can. */
  runtimeProblem(): string | null;
  /** Parses the handler's response body into the value compared below. */
  parseBody(text: string): unknown;
  okBody: unknown;
  unauthorizedBody: unknown;
  pushLines: string[];
  lockLines: string[];
  repoCreatedLines(name: string): string[];
}

function systemFlaskProblem(): string | null {
  const result = spawnSync(SYSTEM_PYTHON, ['-c', 'import flask'], { encoding: 'utf8', timeout: 10_000 });
  if (result.status === 0) return null;
  const reason = (result.stderr || result.error?.message || `exit status ${result.status}`).trim();
  return `${SYSTEM_PYTHON} cannot import flask (${reason}); install it with: apt-get update && apt-get install -y python3-flask`;
}

const HANDLERS: HandlerSpec[] = [
  {
    name: 'Node express handler',
    command: process.execPath,
    script: HANDLER_DIR + 'node-handler.cjs',
    runtimeProblem: () => null,
    parseBody: (text) => text,
    okBody: 'OK',
    unauthorizedBody: 'Invalid signature',
    pushLines: ['New push to user/my-project'],
    // The Node handler's switch has no lock.acquired case, so it logs nothing and responds with 200.
    lockLines: [],
    repoCreatedLines: (name) => [`New repository: ${name}`],
  },
  {
    name: 'Python Flask handler',
    command: SYSTEM_PYTHON,
    script: HANDLER_DIR + 'python_handler.py',
    runtimeProblem: systemFlaskProblem,
    parseBody: (text) => JSON.parse(text),
    okBody: { status: 'ok' },
    unauthorizedBody: { error: 'Invalid signature' },
    pushLines: ['Push to user/my-project: 3 commits'],
    lockLines: [`File locked: ${LOCK_PATH} by octocat`],
    // The Python handler has no repo.created branch, so it prints nothing and responds with 200.
    repoCreatedLines: () => [],
  },
];

/** Matches the lines that the handlers print for events, which leaves out Flask's own banner lines. */
const EVENT_LINE = /^(New push to |New repository: |Push to |File locked: )/;

/** A handler child process with its captured output. */
interface RunningHandler {
  url: string;
  stdout: string;
  stderr: string;
  child: ChildProcess;
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startHandler(spec: HandlerSpec): Promise<RunningHandler> {
  const port = await freeLoopbackPort();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PORT: String(port),
    WEBHOOK_SECRET: BRIEF_SECRET,
    // Python buffers a piped stdout in blocks. Unbuffered output lets the test see each line as soon as it is printed.
    PYTHONUNBUFFERED: '1',
    PYTHONIOENCODING: 'utf-8',
  };
  const child = spawn(spec.command, [spec.script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const running: RunningHandler = { url: `http://127.0.0.1:${port}/webhook`, stdout: '', stderr: '', child };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (running.stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (running.stderr += chunk));
  await waitUntil(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${spec.name} exited (${child.exitCode ?? child.signalCode}) before listening; stderr: ${running.stderr}`);
      }
      return canConnect(port);
    },
    WAIT_MS,
    `${spec.name} to listen on port ${port}`,
  );
  return running;
}

async function stopHandler(running: RunningHandler | undefined): Promise<void> {
  if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => running.child.once('exit', () => resolve()));
  running.child.kill('SIGTERM');
  const timer = setTimeout(() => running.child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

function eventLines(output: string): string[] {
  return output.split('\n').filter((line) => EVENT_LINE.test(line));
}

interface Attempt {
  status_code: number | null;
  response: { body: string } | null;
}

/** Waits until the first delivery that `match` accepts has left `pending`, then returns its detail. */
async function settledDelivery(service: TestService, hookPath: string, match: (delivery: any) => boolean, what: string): Promise<any> {
  const summary = await waitUntil(
    async () => {
      const res = await service.api('GET', `${hookPath}/deliveries`);
      assert.equal(res.status, 200, res.text);
      const found = (res.json.data as any[]).find(match);
      return found && found.status !== 'pending' ? found : null;
    },
    WAIT_MS,
    what,
  );
  const detail = await service.api('GET', `${hookPath}/deliveries/${summary.id}`);
  assert.equal(detail.status, 200, detail.text);
  return detail.json;
}

function assertDelivery(spec: HandlerSpec, delivery: any, status: 'delivered' | 'failed', statusCode: number, body: unknown): void {
  const attempts = delivery.attempts as Attempt[];
  assert.equal(delivery.status, status, `${delivery.event} delivery: ${JSON.stringify(delivery.attempts)}`);
  assert.equal(delivery.last_status_code, statusCode);
  assert.equal(attempts.length, 1);
  assert.equal(attempts[0].status_code, statusCode);
  assert.deepEqual(spec.parseBody(attempts[0].response?.body ?? ''), body);
}

async function createRepo(service: TestService, owner: string, name: string): Promise<number> {
  const res = await service.api('POST', '/v1/repos', { owner, name });
  assert.equal(res.status, 201, res.text);
  return res.json.id as number;
}

async function createHook(service: TestService, collection: string, body: Record<string, unknown>): Promise<string> {
  const res = await service.api('POST', collection, body);
  assert.equal(res.status, 201, res.text);
  return `${collection}/${res.json.id}`;
}

async function ingest(service: TestService, repoId: number, event: string, fields: Record<string, unknown>): Promise<string> {
  const res = await service.api('POST', `/v1/repos/${repoId}/events`, { event, ...fields });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.deliveries, 1);
  return res.json.id as string;
}

for (const spec of HANDLERS) {
  describe(spec.name, () => {
    let service: TestService;
    let handler: RunningHandler | undefined;
    let runtimeProblem: string | null = null;

    // A missing runtime fails every test with the install hint rather than skipping, so CI cannot pass without it.
    before(async () => {
      runtimeProblem = spec.runtimeProblem();
      service = await startTestService();
      if (runtimeProblem === null) handler = await startHandler(spec);
    });

    after(async () => {
      await stopHandler(handler);
      await service?.stop();
    });

    const running = (): RunningHandler => handler ?? assert.fail(runtimeProblem ?? `${spec.name} did not start`);
    /** Output printed since `mark`, an earlier length of the handler's stdout. */
    const printedSince = (mark: number) => eventLines(running().stdout.slice(mark));

    test('runtime is installed', () => {
      assert.equal(runtimeProblem, null);
    });

    test('ping and push verify', async () => {
      const repoId = await createRepo(service, 'user', 'my-project');
      const mark = running().stdout.length;
      const hookPath = await createHook(service, `/v1/repos/${repoId}/webhooks`, {
        url: running().url,
        events: BRIEF_EVENTS,
        secret: BRIEF_SECRET,
        active: true,
      });

      const ping = await settledDelivery(service, hookPath, (d) => d.event === 'ping', 'ping delivery');
      assertDelivery(spec, ping, 'delivered', 200, spec.okBody);
      assert.deepEqual(printedSince(mark), [], 'the handler prints nothing for a ping');

      const eventId = await ingest(service, repoId, 'push', PUSH_FIELDS);
      const push = await settledDelivery(service, hookPath, (d) => d.event_id === eventId, 'push delivery');
      assertDelivery(spec, push, 'delivered', 200, spec.okBody);
      // The Node handler signs JSON.stringify(req.body), which matches only when the body is already in that form.
      assert.equal(JSON.stringify(JSON.parse(push.request.body)), push.request.body);
      assert.equal(JSON.parse(push.request.body).commits[0].message, 'Añadir metraje 🎬');
      await waitUntil(() => printedSince(mark).length >= spec.pushLines.length, WAIT_MS, 'push output');
      assert.deepEqual(printedSince(mark), spec.pushLines);
    });

    test('lock.acquired verifies', async () => {
      const repoId = await createRepo(service, 'user', 'my-assets');
      const hookPath = await createHook(service, `/v1/repos/${repoId}/webhooks`, {
        url: running().url,
        events: [...BRIEF_EVENTS, 'lock.acquired'],
        secret: BRIEF_SECRET,
        active: true,
      });
      const ping = await settledDelivery(service, hookPath, (d) => d.event === 'ping', 'ping delivery');
      assertDelivery(spec, ping, 'delivered', 200, spec.okBody);

      const mark = running().stdout.length;
      const eventId = await ingest(service, repoId, 'lock.acquired', LOCK_FIELDS);
      const lock = await settledDelivery(service, hookPath, (d) => d.event_id === eventId, 'lock.acquired delivery');
      assertDelivery(spec, lock, 'delivered', 200, spec.okBody);
      await waitUntil(() => printedSince(mark).length >= spec.lockLines.length, WAIT_MS, 'lock output');
      assert.deepEqual(printedSince(mark), spec.lockLines);
    });

    test('repo.created verifies', async () => {
      // An owner-level webhook receives repo.created of the repositories created after it.
      const hookPath = await createHook(service, '/v1/owners/studio/webhooks', {
        url: running().url,
        events: BRIEF_EVENTS,
        secret: BRIEF_SECRET,
        active: true,
      });
      const ping = await settledDelivery(service, hookPath, (d) => d.event === 'ping', 'ping delivery');
      assertDelivery(spec, ping, 'delivered', 200, spec.okBody);

      const mark = running().stdout.length;
      await createRepo(service, 'studio', 'trailer');
      const created = await settledDelivery(service, hookPath, (d) => d.event === 'repo.created', 'repo.created delivery');
      assertDelivery(spec, created, 'delivered', 200, spec.okBody);
      const expected = spec.repoCreatedLines('trailer');
      await waitUntil(() => printedSince(mark).length >= expected.length, WAIT_MS, 'repo.created output');
      assert.deepEqual(printedSince(mark), expected);
    });

    test('other secret gets 401', async () => {
      const repoId = await createRepo(service, 'user', 'other-secret');
      const mark = running().stdout.length;
      const hookPath = await createHook(service, `/v1/repos/${repoId}/webhooks`, {
        url: running().url,
        events: BRIEF_EVENTS,
        secret: OTHER_SECRET,
        active: true,
      });

      const ping = await settledDelivery(service, hookPath, (d) => d.event === 'ping', 'ping delivery');
      assertDelivery(spec, ping, 'failed', 401, spec.unauthorizedBody);

      const eventId = await ingest(service, repoId, 'push', PUSH_FIELDS);
      const push = await settledDelivery(service, hookPath, (d) => d.event_id === eventId, 'push delivery');
      assertDelivery(spec, push, 'failed', 401, spec.unauthorizedBody);
      assert.deepEqual(printedSince(mark), [], 'a rejected delivery prints nothing');
    });
  });
}
