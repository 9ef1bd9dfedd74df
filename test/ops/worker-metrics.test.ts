import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { startService, type Service } from '../../src/app.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dits-worker-metrics-'));
let worker: Service | null = null;

after(async () => {
  await worker?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('worker-only process serves metrics', async () => {
  worker = await startService({
    overrides: { role: 'worker', port: 0, dataDir, logLevel: 'silent' },
    env: {},
    logger: pino({ level: 'silent' }),
    announce: () => {},
  });
  assert.equal(worker.url, null, 'no API in a worker-only process');
  assert.match(worker.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  const metrics = await request(`${worker.metricsUrl}/metrics`);
  assert.equal(metrics.statusCode, 200);
  assert.match(await metrics.body.text(), /dits_webhook_queue_size 0/);
  const ready = await request(`${worker.metricsUrl}/readyz`);
  assert.deepEqual(await ready.body.json(), { status: 'ready', store: 'sqlite' });
  const api = await request(`${worker.metricsUrl}/v1/repos`);
  assert.equal(api.statusCode, 404);
  assert.equal(((await api.body.json()) as { error: { code: string } }).error.code, 'route_not_found');
});
