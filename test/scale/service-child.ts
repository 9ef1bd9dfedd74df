/**
 * A service process for the scale tests and benchmarks: starts the service
 * with the role given as the first argument and configuration from the
 * `DITS_WEBHOOKS_*` environment, then prints one JSON line with its URL,
 * worker id and first admin token. SIGTERM closes it gracefully.
 */
import { startService } from '../../src/app.js';

const role = process.argv[2] ?? 'all';
const service = await startService({ overrides: { role, port: 0 }, env: process.env, announce: () => undefined });
process.stdout.write(
  JSON.stringify({ ready: true, pid: process.pid, url: service.url, workerId: service.worker?.workerId ?? null, adminToken: service.adminToken }) + '\n',
);
process.once('SIGTERM', () => {
  service.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`shutdown failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
