/**
 * `listen`: a local webhook receiver for development. It prints one line per
 * delivery, checks both signature schemes when given the secret, and can
 * forward each delivery unchanged to a local handler.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { forwardRequest, parseForwardTarget, type ForwardOutcome } from '../forward.js';
import { print, sanitize } from '../output.js';
import { runAction } from '../run-action.js';
import { settingsFlagsOf } from '../settings.js';
import { checkHubSignature, checkStandardSignature, describeChecks, type SignatureCheck } from '../signature-check.js';
import { parseSecret } from './verify.js';
import { redactUrl } from '../../delivery/target-url.js';

interface ListenFlags {
  port: string;
  host: string;
  secret?: string;
  forward?: string;
  path?: string;
  allowRemoteForward?: boolean;
}

interface ListenOptions {
  secret: string | null;
  forward: URL | null;
  path: string | null;
  json: boolean;
}

/** Upper bound of an accepted body: the service's 10 MiB event limit plus the delivery envelope, with room to spare. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Same window as the receiver helpers' default: a Standard Webhooks timestamp may be 5 minutes off. */
const TIMESTAMP_TOLERANCE_SECONDS = 300;

/** Parses `--port`: 0 to 65535, where 0 picks a free port. */
export function parsePort(value: string): number {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65535) throw new UsageError(`--port must be a TCP port from 0 to 65535 (0 picks a free one), got ${JSON.stringify(value)}`);
  return Number(value);
}

function parsePath(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!value.startsWith('/') || /[\s?#]/.test(value)) throw new UsageError(`--path must start with / and contain no spaces, ? or #, such as /webhook, got ${JSON.stringify(value)}`);
  return value;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads the body up to MAX_BODY_BYTES; returns null when it is larger, or when Content-Length announces more. */
async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function respondText(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...extra });
  res.end(message + '\n');
}

function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return body.toString('utf8');
  }
}

interface Received {
  req: IncomingMessage;
  body: Buffer;
  checks: { hub: SignatureCheck; standard: SignatureCheck } | null;
  status: number;
  forward: ForwardOutcome | null;
}

function describeForward(forward: ForwardOutcome | null): string {
  if (!forward) return '';
  return 'status' in forward ? ` -> forwarded ${forward.status}` : ` -> forward failed: ${forward.error}`;
}

function printReceived(entry: Received, options: ListenOptions): void {
  const { req } = entry;
  const time = new Date().toISOString();
  if (options.json) {
    const signatures = entry.checks ? { hub: entry.checks.hub, standard: entry.checks.standard } : null;
    print(JSON.stringify({ time, method: req.method, path: req.url, headers: req.headers, body: parseJsonBody(entry.body), signatures, status: entry.status, forward: entry.forward }));
    return;
  }
  const event = sanitize(header(req, 'x-dits-event') ?? '(no X-Dits-Event)');
  const delivery = sanitize(header(req, 'x-dits-delivery') ?? '(no X-Dits-Delivery)');
  const checks = entry.checks ? describeChecks(entry.checks.hub, entry.checks.standard) : 'signatures not checked (no --secret)';
  const answered = entry.status === 200 ? '' : ` -> answered ${entry.status}`;
  print(`${time}  ${event}  ${delivery}  ${checks}${answered}${describeForward(entry.forward)}`);
}

async function handle(req: IncomingMessage, res: ServerResponse, options: ListenOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (options.path !== null && path !== options.path) {
    process.stderr.write(`ignored ${sanitize(req.method ?? '')} ${sanitize(path)}: this receiver listens on ${options.path}\n`);
    return respondText(res, 404, `not found: this receiver listens on ${options.path}`);
  }
  if (req.method !== 'POST') {
    process.stderr.write(`ignored ${sanitize(req.method ?? '')} ${sanitize(path)}: webhook deliveries use POST; responded 405\n`);
    return respondText(res, 405, 'webhook deliveries use POST', { allow: 'POST' });
  }
  const body = await readBody(req);
  if (body === null) {
    const delivery = sanitize(header(req, 'x-dits-delivery') ?? '(no X-Dits-Delivery)');
    process.stderr.write(`rejected POST ${sanitize(path)} ${delivery}: body larger than ${MAX_BODY_BYTES} bytes; responded 413\n`);
    return respondText(res, 413, `body larger than ${MAX_BODY_BYTES} bytes`, { connection: 'close' });
  }

  let checks: Received['checks'] = null;
  let status = 200;
  if (options.secret !== null) {
    const hub = checkHubSignature(options.secret, body, header(req, 'x-hub-signature-256'));
    const standard = checkStandardSignature(options.secret, body, req.headers, TIMESTAMP_TOLERANCE_SECONDS);
    checks = { hub, standard };
    if (hub.result !== 'ok' && standard.result !== 'ok') status = 401;
  }
  respondText(res, status, status === 200 ? 'ok' : 'invalid signature');
  // A delivery that failed both checks is not passed on, so the local handler receives only what a verifying receiver accepts.
  const forward = options.forward && status === 200 ? await forwardRequest(options.forward, body, req.headers) : null;
  printReceived({ req, body, checks, status, forward }, options);
}

function startServer(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new CliError(`port ${port} on ${host} is already in use; pass another --port, or --port 0 for a free one`));
      else if (error.code === 'EADDRNOTAVAIL') reject(new CliError(`cannot listen on ${host}: no such local address; pass an address of this machine with --host, such as 127.0.0.1`));
      else reject(new CliError(`cannot listen on ${host}:${port}: ${error.message}; pass another --host or --port`));
    });
    server.listen(port, host, () => resolve());
  });
}

function listeningUrl(server: Server, path: string | null): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}${path ?? '/'}`;
}

async function listen(flags: ListenFlags, command: Command): Promise<void> {
  const port = parsePort(flags.port);
  const options: ListenOptions = {
    secret: flags.secret === undefined ? null : parseSecret(flags.secret),
    forward: flags.forward === undefined ? null : parseForwardTarget(flags.forward, flags.allowRemoteForward === true),
    path: parsePath(flags.path),
    json: settingsFlagsOf(command).json === true,
  };
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error: unknown) => {
      process.stderr.write(`error: handling ${sanitize(req.url ?? '')} failed: ${(error as Error).message}\n`);
      if (!res.headersSent) respondText(res, 500, 'receiver error');
      else res.destroy();
    });
  });
  await startServer(server, port, flags.host);

  const url = listeningUrl(server, options.path);
  if (options.json) print(JSON.stringify({ listening: url, forward: options.forward?.href ?? null, checks_signatures: options.secret !== null }));
  else {
    print(`Listening on ${url}`);
    print(options.secret ? 'Checking both signature schemes with the given secret.' : 'Not checking signatures; pass --secret to check them.');
    if (options.forward) print(`Forwarding each delivery to ${redactUrl(options.forward)}`);
  }

  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export function registerListenCommands(program: Command): void {
  program
    .command('listen')
    .description('Run a local webhook receiver that prints each delivery, checks signatures and can forward deliveries')
    .option('--port <port>', 'TCP port; 0 picks a free one (the first output line shows the URL)', '9000')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--secret <secret>', 'webhook secret: check both signature schemes and answer 401 when both fail')
    .option('--forward <url>', 'send each delivery, same body bytes and X-Dits-* and signature headers, to this loopback URL')
    .option('--allow-remote-forward', 'allow a --forward URL that is not a loopback address')
    .option('--path <path>', 'accept deliveries only on this path, such as /webhook (default: any path)')
    .option('--json', 'print each request as one JSON line: headers, parsed body, signature checks, forward result')
    .action(runAction(listen));
}
