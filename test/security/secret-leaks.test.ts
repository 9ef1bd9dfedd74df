// Webhook secrets and API tokens never leave the service, except the single
// creation response of a generated secret or a new token. The test drives
// every lifecycle step (create, deliver, fail, rotate, redeliver, replay,
// revoke). Then it reads every output the service has: each GET route, the
// event stream, metrics, the captured logs, the requests the receivers got
// and the CLI. It searches them for each secret in plain, hex and base64.
//
// Network safety: deliveries go only to Receivers on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { pushEvent } from '../support/fixtures.js';
import { Receiver } from '../support/receiver.js';
import { startTestService, waitUntil, type TestService } from '../support/service.js';
import { captureLogs, fillRoute, findSecret, secretForms, type CapturedLogs, type SecretForm } from './support.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ENCRYPTION_KEY = 'a1'.repeat(32);

/** A secret or token, the forms to search for, and how many outputs may contain it. */
interface Watched {
  name: string;
  forms: SecretForm[];
  /** Outputs allowed to contain it: the creation response of a generated secret or a token. */
  allowedIn: number;
}

/** One output of the service: an HTTP response, the log, a request a receiver got, or CLI output. */
interface Output {
  source: string;
  text: string;
}

test('leak search finds every encoding', () => {
  const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
  const forms = secretForms(secret);
  const key = Buffer.from(secret.slice(6), 'base64');
  const hiding = [
    `{"s":"${secret}"}`,
    Buffer.from(`prefix ${secret} suffix`).toString('base64'),
    Buffer.from(`xy${secret}`).toString('base64url'),
    Buffer.from(`x${secret}`).toString('hex').toUpperCase(),
    Buffer.concat([Buffer.from('ab'), key]).toString('base64'),
    key.toString('hex'),
  ];
  for (const text of hiding) assert.notEqual(findSecret(text, forms), null, `not found in ${text}`);
  assert.equal(findSecret('nothing to see', forms), null);
});

function leakScenario(variant: { name: string; encryptionKey: string; runCli: boolean }): void {
  describe(`secrets never leak (${variant.name})`, () => {
    let svc: TestService;
    let logs: CapturedLogs;
    let okReceiver: Receiver;
    let failReceiver: Receiver;
    let now = Date.UTC(2026, 6, 1, 9, 0, 0);
    const outputs: Output[] = [];
    const watched: Watched[] = [];
    const ids: Record<string, string | number> = {};

    const watch = (name: string, secret: string, allowedIn = 0) => watched.push({ name, forms: secretForms(secret), allowedIn });

    async function call(method: string, path: string, body?: unknown, options: { token?: string; headers?: Record<string, string> } = {}) {
      const res = await svc.api(method, path, body, options);
      outputs.push({ source: `${method} ${path} -> ${res.status}`, text: JSON.stringify(res.headers) + '\n' + res.text });
      return res;
    }

    async function deliveriesOf(base: string): Promise<any[]> {
      return (await call('GET', `${base}/deliveries`)).json.data;
    }

    before(async () => {
      okReceiver = await Receiver.start();
      failReceiver = await Receiver.start();
      // The first attempts of both pushes fail with a retryable 500, every later request with a final 400.
      failReceiver.respondWith((_req, res) => {
        res.writeHead(failReceiver.requests.length <= 2 ? 500 : 400);
        res.end('no');
      });
      logs = captureLogs('debug');
      svc = await startTestService({
        logger: logs.logger,
        clock: () => now,
        overrides: { encryptionKey: variant.encryptionKey, retrySchedule: [60, 60], retryJitter: 0, pollIntervalMs: 50 },
      });
      watch('admin token', svc.adminToken);
      watch('admin token hash', createHash('sha256').update(svc.adminToken).digest('hex'));
      if (variant.encryptionKey) {
        watch('encryption key', variant.encryptionKey);
        watch('encryption key bytes', Buffer.from(variant.encryptionKey, 'hex').toString('base64'));
      }
    });

    after(async () => {
      await svc.stop();
      await okReceiver.close();
      await failReceiver.close();
    });

    test('lifecycle runs', async () => {
      const repo = await call('POST', '/v1/repos', { owner: 'leaky', name: 'project' });
      assert.equal(repo.status, 201, repo.text);
      ids.repoId = repo.json.id;
      ids.owner = 'leaky';
      const repoBase = `/v1/repos/${ids.repoId}/webhooks`;

      const plainA = 'plain-secret-Zq9xW2vL7-alpha';
      watch('secret of webhook A', plainA);
      const hookA = await call('POST', repoBase, { url: okReceiver.url, events: ['*'], secret: plainA });
      assert.equal(hookA.status, 201, hookA.text);
      assert.equal(hookA.json.secret, undefined, 'a given secret is never returned');
      ids.hookId = hookA.json.id;

      const hookB = await call('POST', repoBase, { url: failReceiver.url, events: ['push'], active: false });
      assert.equal(hookB.status, 201, hookB.text);
      assert.match(hookB.json.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      watch('generated secret of webhook B', hookB.json.secret, 1);
      ids.failingHookId = hookB.json.id;
      await call('PATCH', `${repoBase}/${hookB.json.id}`, { active: true });

      const ownerSecret = 'whsec_' + Buffer.from('owner-level-secret-key-bytes-0123').toString('base64');
      watch('secret of owner webhook C', ownerSecret);
      const hookC = await call('POST', '/v1/owners/leaky/webhooks', { url: okReceiver.url, events: ['push', 'ping'], secret: ownerSecret });
      assert.equal(hookC.status, 201, hookC.text);
      ids.ownerHookId = hookC.json.id;

      for (const message of ['first push', 'second push']) {
        const ingested = await call('POST', `/v1/repos/${ids.repoId}/events`, pushEvent(message));
        assert.equal(ingested.status, 202, ingested.text);
        ids.lastEventId = ingested.json.id;
      }
      const failingBase = `${repoBase}/${ids.failingHookId}`;
      await waitUntil(async () => (await deliveriesOf(failingBase)).every((d) => d.status === 'retrying'), 10_000, 'B retrying');

      const rotatedA = 'rotated-secret-Kp4mN8-bravo';
      watch('rotated secret of webhook A', rotatedA);
      assert.equal((await call('PATCH', `${repoBase}/${ids.hookId}`, { secret: rotatedA })).status, 200);
      const rotatedB = 'whsec_' + Buffer.from('rotated-key-of-webhook-b-0000001').toString('base64');
      watch('rotated secret of webhook B', rotatedB);
      assert.equal((await call('PATCH', failingBase, { secret: rotatedB })).status, 200);

      now += 61_000;
      svc.worker?.notify();
      await waitUntil(async () => (await deliveriesOf(failingBase)).every((d) => d.status === 'failed'), 10_000, 'B failed');

      const delivered = (await deliveriesOf(`${repoBase}/${ids.hookId}`)).find((d) => d.event === 'push');
      ids.deliveryId = delivered.id;
      const redelivered = await call('POST', `${repoBase}/${ids.hookId}/deliveries/${delivered.id}/redeliver`);
      assert.equal(redelivered.status, 202, redelivered.text);
      const replay = await call('POST', `${failingBase}/replays`, { since: new Date(now - 86_400_000).toISOString(), status: 'failed' });
      assert.equal(replay.status, 202, replay.text);
      ids.replayId = replay.json.id;
      assert.equal((await call('POST', `/v1/owners/leaky/webhooks/${ids.ownerHookId}/pings`)).status, 202);
      await waitUntil(() => okReceiver.requests.length >= 8 && failReceiver.requests.length >= 6, 10_000, 'redelivery, replay and ping');
    });

    test('tokens and rejected input run', async () => {
      const created: Record<string, string> = {};
      for (const scope of ['read', 'write', 'events:write']) {
        const res = await call('POST', '/v1/tokens', { name: `leak-${scope}`, scopes: [scope] });
        assert.equal(res.status, 201, res.text);
        created[scope] = res.json.token;
        watch(`${scope} token`, res.json.token, 1);
        watch(`${scope} token hash`, createHash('sha256').update(res.json.token).digest('hex'));
        if (scope === 'write') ids.tokenId = res.json.id;
      }
      assert.equal((await call('GET', '/v1/repos', undefined, { token: created.read })).status, 200);
      assert.equal((await call('POST', '/v1/repos', { owner: 'leaky', name: 'denied' }, { token: created.read })).status, 403);
      assert.equal((await call('DELETE', `/v1/tokens/${ids.tokenId}`)).status, 204);
      assert.equal((await call('GET', '/v1/repos', undefined, { token: created.write })).status, 401);
      const unknown = 'dwt_' + 'unknownTokenValue123456789'.repeat(2);
      watch('unknown presented token', unknown);
      assert.equal((await call('GET', '/v1/repos', undefined, { token: unknown })).status, 401);

      const rejectedSecrets = ['rejected-secret-\u0001-control', 'x'.repeat(10) + 'rejected-long-secret'.repeat(15)];
      for (const secret of rejectedSecrets) {
        watch('rejected secret', secret);
        const res = await call('POST', `/v1/repos/${ids.repoId}/webhooks`, { url: okReceiver.url, events: ['push'], secret });
        assert.equal(res.status, 400, res.text);
      }
      const validButRejected = 'valid-secret-in-bad-request-42';
      watch('secret of a rejected request', validButRejected);
      const res = await call('POST', `/v1/repos/${ids.repoId}/webhooks`, { url: okReceiver.url, events: ['pushh'], secret: validButRejected });
      assert.equal(res.status, 400, res.text);
    });

    test('every GET route is read', async () => {
      const firstDelivery = async (base: string) => (await deliveriesOf(base))[0].id as string;
      const common = { repoId: ids.repoId, owner: ids.owner, name: 'push', file: 'app.js', tokenId: ids.tokenId, replayId: ids.replayId };
      // Each webhook route is read once per webhook, with a delivery of that webhook.
      const perHook = {
        repo: [ids.hookId, ids.failingHookId].map((hookId) => ({ hookId })),
        owner: [{ hookId: ids.ownerHookId }],
      };
      const routes = svc.server!.routeList.filter((route) => route.method === 'GET');
      assert.ok(routes.length > 20, `expected the full route list, got ${routes.length}`);
      let ok = 0;
      for (const route of routes) {
        const hooks = !route.url.includes(':hookId') ? [{}] : route.url.startsWith('/v1/owners') ? perHook.owner : perHook.repo;
        for (const hook of hooks) {
          const values: Record<string, string | number> = { ...common, ...hook };
          if ('hookId' in hook) {
            const base = fillRoute(route.url.replace(/\/webhooks\/:hookId.*$/, '/webhooks/:hookId'), values);
            values.deliveryId = await firstDelivery(base);
          }
          const path = fillRoute(route.url, values);
          const res = await call('GET', path);
          assert.ok(res.status < 500, `GET ${path} answered ${res.status}`);
          if (res.status === 200) ok++;
        }
      }
      assert.ok(ok >= routes.length, `expected most reads to succeed, ${ok} of ${routes.length} answered 200`);
      for (const query of ['?status=failed', '?event=push', '?limit=1']) await call('GET', `/v1/repos/${ids.repoId}/webhooks/${ids.failingHookId}/deliveries${query}`);
    });

    test('event stream is read', async () => {
      const res = await request(`${svc.url}/v1/repos/${ids.repoId}/events`, {
        headers: { authorization: `Bearer ${svc.adminToken}`, accept: 'text/event-stream', 'last-event-id': '0' },
      });
      assert.equal(res.statusCode, 200);
      let text = '';
      const deadline = Date.now() + 5000;
      for await (const chunk of res.body) {
        text += chunk.toString();
        if (text.includes(String(ids.lastEventId)) || Date.now() > deadline) break;
      }
      res.body.destroy();
      assert.ok(text.includes(String(ids.lastEventId)), 'the stream sent the last event');
      outputs.push({ source: 'event stream', text });
    });

    if (variant.runCli) {
      test('CLI output is read', async () => {
        const env = { ...process.env, DITS_WEBHOOKS_URL: svc.url, DITS_WEBHOOKS_TOKEN: svc.adminToken };
        for (const args of [['list', '--repo', String(ids.repoId)], ['--json', 'list', '--repo', String(ids.repoId)], ['deliveries', '--repo', String(ids.repoId), String(ids.failingHookId)]]) {
          const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args], { env, timeout: 20_000 });
          assert.ok(stdout.length > 0, `dits-webhook ${args.join(' ')} printed nothing`);
          outputs.push({ source: `dits-webhook ${args.join(' ')}`, text: stdout + stderr });
        }
      });
    }

    test('no output contains a secret', () => {
      for (const res of [...okReceiver.requests, ...failReceiver.requests]) {
        outputs.push({ source: `request to receiver (${res.headers['x-dits-event']})`, text: JSON.stringify(res.headers) + res.body.toString('utf8') });
      }
      outputs.push({ source: 'logs', text: logs.text() });
      assert.ok(logs.lines().filter((line) => line.msg === 'delivery attempt').length >= 8, 'the attempts were logged');

      const problems: string[] = [];
      for (const item of watched) {
        const containing = outputs.filter((output) => findSecret(output.text, item.forms) !== null);
        if (containing.length !== item.allowedIn) {
          const where = containing.map((output) => `${output.source} (${findSecret(output.text, item.forms)})`).join('; ');
          problems.push(`${item.name}: expected in ${item.allowedIn} outputs, found in ${containing.length}: ${where}`);
        }
      }
      assert.deepEqual(problems, []);
    });

    if (variant.encryptionKey) {
      test('sealed values never leave the store', async () => {
        const stored = await svc.store.listWebhookSecrets();
        const sealed = stored.flatMap((row) => [row.secret, row.previousSecret]).filter((value): value is string => value !== null);
        assert.ok(sealed.length >= 5);
        for (const value of sealed) {
          assert.match(value, /^enc:v1:/);
          const found = outputs.find((output) => output.text.includes(value.slice(7, 40)));
          assert.equal(found, undefined, `sealed secret appears in ${found?.source}`);
        }
      });
    }
  });
}

leakScenario({ name: 'plain store', encryptionKey: '', runCli: true });
leakScenario({ name: 'encrypted store', encryptionKey: ENCRYPTION_KEY, runCli: false });
