// Network safety: the only sockets opened here go to listeners on 127.0.0.0/8
// or ::1 that this file starts. Every other address is data for the pure
// functions or the answer of an injected resolver, and the guard must block
// it before any socket exists.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { errors as undiciErrors, request, type Agent } from 'undici';
import {
  BlockedAddressError,
  checkAddress,
  checkTargetHost,
  classifyAddress,
  createGuardedAgent,
  createGuardedConnector,
  parseCidrList,
  type AddressPolicy,
  type Resolver,
} from '../../src/delivery/address-guard.js';

const DEFAULT_POLICY: AddressPolicy = { allowPrivateTargets: false, allowCidrs: [] };
const PRIVATE_POLICY: AddressPolicy = { allowPrivateTargets: true, allowCidrs: [] };

describe('classifyAddress', () => {
  // [address, reason or null when allowed, category]
  const cases: Array<[string, string | null, string]> = [
    // IPv4 special-purpose ranges, at both edges where it matters.
    ['0.0.0.0', 'unspecified', 'unspecified'],
    ['0.255.255.255', 'unspecified', 'unspecified'],
    ['10.0.0.0', 'private', 'private'],
    ['10.255.255.255', 'private', 'private'],
    ['100.63.255.255', null, 'public'],
    ['100.64.0.0', 'cgnat', 'cgnat'],
    ['100.127.255.255', 'cgnat', 'cgnat'],
    ['100.128.0.0', null, 'public'],
    ['127.0.0.1', 'loopback', 'loopback'],
    ['127.255.255.254', 'loopback', 'loopback'],
    ['169.254.0.1', 'link_local', 'link_local'],
    ['172.15.255.255', null, 'public'],
    ['172.16.0.0', 'private', 'private'],
    ['172.31.255.255', 'private', 'private'],
    ['172.32.0.0', null, 'public'],
    ['192.0.0.8', 'reserved', 'ietf_protocol_assignments'],
    ['192.0.2.1', 'documentation', 'documentation'],
    ['192.88.99.1', 'reserved', '6to4_relay_anycast'],
    ['192.168.0.1', 'private', 'private'],
    ['192.169.0.1', null, 'public'],
    ['198.17.255.255', null, 'public'],
    ['198.18.0.1', 'benchmarking', 'benchmarking'],
    ['198.19.255.255', 'benchmarking', 'benchmarking'],
    ['198.51.100.7', 'documentation', 'documentation'],
    ['203.0.113.9', 'documentation', 'documentation'],
    ['224.0.0.1', 'multicast', 'multicast'],
    ['239.255.255.250', 'multicast', 'multicast'],
    ['240.0.0.1', 'reserved', 'reserved'],
    ['255.255.255.254', 'reserved', 'reserved'],
    ['255.255.255.255', 'reserved', 'broadcast'],
    ['93.184.216.34', null, 'public'],
    ['1.1.1.1', null, 'public'],
    // Cloud metadata and credential endpoints.
    ['169.254.169.254', 'metadata', 'metadata'],
    ['169.254.170.2', 'metadata', 'metadata'],
    ['169.254.170.23', 'metadata', 'metadata'],
    ['100.100.100.200', 'metadata', 'metadata'],
    ['192.0.0.192', 'metadata', 'metadata'],
    ['168.63.129.16', 'metadata', 'metadata'],
    ['fd00:ec2::254', 'metadata', 'metadata'],
    ['fd00:ec2:0:0:0:0:0:254', 'metadata', 'metadata'],
    ['fd00:ec2::23', 'metadata', 'metadata'],
    // IPv6 ranges.
    ['::', 'unspecified', 'unspecified'],
    ['0:0:0:0:0:0:0:0', 'unspecified', 'unspecified'],
    ['::1', 'loopback', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback', 'loopback'],
    ['fe80::1', 'link_local', 'link_local'],
    ['febf:ffff::1', 'link_local', 'link_local'],
    ['fec0::1', 'private', 'site_local'],
    ['fc00::1', 'private', 'unique_local'],
    ['fd12:3456:789a::1', 'private', 'unique_local'],
    ['fd00:ec2::1', 'private', 'unique_local'],
    ['ff02::1', 'multicast', 'multicast'],
    ['ff0e::101', 'multicast', 'multicast'],
    ['2001:db8::1', 'documentation', 'documentation'],
    ['2001:DB8:FFFF::1', 'documentation', 'documentation'],
    ['3fff::1', 'documentation', 'documentation'],
    ['2001:2::1', 'benchmarking', 'benchmarking'],
    ['2001::1', 'teredo', 'teredo'],
    ['2001:10::1', 'reserved', 'ietf_protocol_assignments'],
    ['100::1', 'reserved', 'discard_only'],
    ['5f00::1', 'reserved', 'srv6_sids'],
    ['4000::1', 'reserved', 'unallocated'],
    ['::ffff:0:7f00:1', 'reserved', 'unallocated'],
    ['2606:4700:4700::1111', null, 'public'],
    ['2a00:1450:4001::1', null, 'public'],
    // IPv4-mapped: every mapped address is blocked, metadata inside stays metadata.
    ['::ffff:127.0.0.1', 'ipv4_mapped', 'ipv4_mapped'],
    ['::ffff:7f00:1', 'ipv4_mapped', 'ipv4_mapped'],
    ['::FFFF:7F00:0001', 'ipv4_mapped', 'ipv4_mapped'],
    ['0:0:0:0:0:ffff:7f00:1', 'ipv4_mapped', 'ipv4_mapped'],
    ['::ffff:10.0.0.1', 'ipv4_mapped', 'ipv4_mapped'],
    ['::ffff:93.184.216.34', 'ipv4_mapped', 'ipv4_mapped'],
    ['::ffff:169.254.169.254', 'metadata', 'ipv4_mapped'],
    ['::ffff:a9fe:a9fe', 'metadata', 'ipv4_mapped'],
    // IPv4-compatible (deprecated).
    ['::127.0.0.1', 'ipv4_compatible', 'ipv4_compatible'],
    ['::7f00:1', 'ipv4_compatible', 'ipv4_compatible'],
    ['::a9fe:a9fe', 'metadata', 'ipv4_compatible'],
    // NAT64.
    ['64:ff9b::127.0.0.1', 'nat64', 'nat64'],
    ['64:ff9b::7f00:1', 'nat64', 'nat64'],
    ['64:ff9b::93.184.216.34', 'nat64', 'nat64'],
    ['64:ff9b::169.254.169.254', 'metadata', 'nat64'],
    ['64:ff9b:1::7f00:1', 'nat64', 'nat64'],
    ['64:ff9b:1::a9fe:a9fe', 'metadata', 'nat64'],
    // 64:ff9b:1::/48 with a /48 translation prefix: 169.254 in bits 48-63, 169.254 in bits 72-87.
    ['64:ff9b:1:a9fe:a9:fe00::', 'metadata', 'nat64'],
    // 6to4 and Teredo.
    ['2002:7f00:1::1', '6to4', '6to4'],
    ['2002:5db8:d822::1', '6to4', '6to4'],
    ['2002:a9fe:a9fe::1', 'metadata', '6to4'],
    ['2001:0:5db8:d822::1', 'teredo', 'teredo'],
    // Teredo stores the client address inverted: ~169.254.169.254 = 86.1.86.1 = 5601:5601.
    ['2001:0:5db8:d822:0:0:5601:5601', 'metadata', 'teredo'],
    // Not addresses at all.
    ['fe80::1%eth0', 'invalid', 'invalid'],
    ['fe80::1%25eth0', 'invalid', 'invalid'],
    ['::1%lo', 'invalid', 'invalid'],
    ['0177.0.0.1', 'invalid', 'invalid'],
    ['127.1', 'invalid', 'invalid'],
    ['2130706433', 'invalid', 'invalid'],
    ['0x7f000001', 'invalid', 'invalid'],
    ['[::1]', 'invalid', 'invalid'],
    ['localhost', 'invalid', 'invalid'],
    ['', 'invalid', 'invalid'],
    [' 127.0.0.1', 'invalid', 'invalid'],
    ['256.0.0.1', 'invalid', 'invalid'],
  ];

  for (const [address, reason, category] of cases) {
    it(`classifies ${JSON.stringify(address)} as ${reason ?? 'allowed'} (${category})`, () => {
      const result = classifyAddress(address);
      assert.equal(result.blocked, reason !== null);
      assert.equal(result.reason, reason ?? undefined);
      assert.equal(result.category, category);
    });
  }
});

describe('checkAddress', () => {
  const policy = (allowPrivateTargets: boolean, allowCidrs: string[] = []): AddressPolicy => ({ allowPrivateTargets, allowCidrs });
  // [address, policy, reason or null when allowed]
  const cases: Array<[string, AddressPolicy, string | null]> = [
    ['93.184.216.34', policy(false), null],
    ['2606:4700:4700::1111', policy(false), null],
    ['127.0.0.1', policy(false), 'loopback'],
    ['127.0.0.1', policy(true), null],
    ['::1', policy(true), null],
    ['10.1.2.3', policy(false), 'private'],
    ['10.1.2.3', policy(false, ['10.1.0.0/16']), null],
    ['10.2.0.1', policy(false, ['10.1.0.0/16']), 'private'],
    ['fd12::1', policy(false, ['fd12::/16']), null],
    ['fd13::1', policy(false, ['fd12::/16']), 'private'],
    ['100.64.0.1', policy(true), null],
    ['fe80::1', policy(true), null],
    ['::ffff:127.0.0.1', policy(true), null],
    ['::ffff:127.0.0.2', policy(false, ['127.0.0.2/32']), null],
    ['::ffff:127.0.0.3', policy(false, ['127.0.0.2/32']), 'ipv4_mapped'],
    ['64:ff9b::7f00:1', policy(true), null],
    ['fe80::1%eth0', policy(true, ['::/0']), 'invalid'],
    // Metadata: only an exact single-address entry opens it.
    ['169.254.169.254', policy(true), 'metadata'],
    ['169.254.169.254', policy(true, ['169.254.0.0/16']), 'metadata'],
    ['169.254.169.254', policy(false, ['0.0.0.0/0']), 'metadata'],
    ['169.254.169.254', policy(false, ['169.254.169.254/31']), 'metadata'],
    ['169.254.169.254', policy(false, ['169.254.169.254/32']), null],
    ['169.254.169.254', policy(false, ['169.254.169.254']), null],
    ['169.254.170.2', policy(false, ['169.254.169.254']), 'metadata'],
    ['fd00:ec2::254', policy(true, ['fd00:ec2::/32']), 'metadata'],
    ['fd00:ec2::254', policy(false, ['::/0']), 'metadata'],
    ['fd00:ec2::254', policy(false, ['fd00:ec2::254/128']), null],
    ['::ffff:169.254.169.254', policy(true), 'metadata'],
    ['::ffff:169.254.169.254', policy(false, ['169.254.169.254/32']), null],
    ['64:ff9b::a9fe:a9fe', policy(true, ['64:ff9b::/96']), 'metadata'],
    ['64:ff9b::a9fe:a9fe', policy(false, ['169.254.169.254/32']), 'metadata'],
    ['2002:a9fe:a9fe::1', policy(true), 'metadata'],
    ['100.100.100.200', policy(true), 'metadata'],
    ['192.0.0.192', policy(true, ['192.0.0.0/24']), 'metadata'],
    // Invalid allow-list entries never widen the policy.
    ['10.0.0.1', policy(false, ['10.0.0.1/8', 'garbage']), 'private'],
  ];

  for (const [address, addressPolicy, reason] of cases) {
    it(`${reason === null ? 'allows' : 'blocks'} ${address} with ${JSON.stringify(addressPolicy)}`, () => {
      const decision = checkAddress(address, addressPolicy);
      assert.equal(decision.allowed, reason === null);
      if (!decision.allowed) assert.equal(decision.reason, reason);
    });
  }

  it('explains a private block and the fix', () => {
    const decision = checkAddress('10.0.0.1', DEFAULT_POLICY);
    assert.equal(decision.allowed, false);
    if (decision.allowed) return;
    assert.match(decision.message, /^requests to 10\.0\.0\.1 \(private network\) are blocked by the server configuration/);
    assert.match(decision.message, /allowPrivateTargets \(--allow-private-targets, DITS_WEBHOOKS_ALLOW_PRIVATE_TARGETS\)/);
    assert.match(decision.message, /allowCidrs \(--allow-cidr, DITS_WEBHOOKS_ALLOW_CIDRS\)/);
  });

  it('explains that metadata needs an exact entry', () => {
    const decision = checkAddress('169.254.169.254', PRIVATE_POLICY);
    assert.equal(decision.allowed, false);
    if (decision.allowed) return;
    assert.match(decision.message, /169\.254\.169\.254 \(cloud metadata service\)/);
    assert.match(decision.message, /listing it exactly in allowCidrs/);
  });
});

describe('parseCidrList', () => {
  it('parses valid entries into canonical form', () => {
    const { cidrs, errors } = parseCidrList(['10.0.0.0/8', '192.168.1.5', 'FD00::/8', '::1', '0.0.0.0/0', '::/0', '2001:db8:0:0::/64']);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      cidrs.map((cidr) => cidr.text),
      ['10.0.0.0/8', '192.168.1.5/32', 'fd00::/8', '::1/128', '0.0.0.0/0', '::/0', '2001:db8::/64'],
    );
  });

  const invalid: Array<[unknown, RegExp]> = [
    ['10.0.0.1/8', /host bits are set after the prefix; write the network address "10\.0\.0\.0\/8"/],
    ['fd00::1/8', /write the network address "fd00::\/8"/],
    ['1.2.3.4/33', /prefix length from 0 to 32 after the "\/", got "33"/],
    ['::/129', /prefix length from 0 to 128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['example.com/24', /expected an IPv4 or IPv6 address before the "\/", got "example\.com"/],
    ['', /expected an IPv4 or IPv6 address, got ""/],
    [' 10.0.0.0/8', /expected an IPv4 or IPv6 address/],
    ['fe80::%eth0/64', /expected an IPv4 or IPv6 address/],
    ['010.0.0.0/8', /expected an IPv4 or IPv6 address/],
    [8, /expected a CIDR string such as "10\.0\.0\.0\/8", got number/],
    [null, /got object/],
  ];

  for (const [entry, expected] of invalid) {
    it(`rejects ${JSON.stringify(entry)}`, () => {
      const { cidrs, errors } = parseCidrList(['10.0.0.0/8', entry]);
      assert.equal(cidrs.length, 1);
      assert.equal(errors.length, 1);
      assert.equal(errors[0].field, 'allowCidrs[1]');
      assert.match(errors[0].message, expected);
    });
  }

  it('names the field it was given', () => {
    const { errors } = parseCidrList(['bad'], 'delivery.allow_cidrs');
    assert.equal(errors[0].field, 'delivery.allow_cidrs[0]');
  });
});

/** Builds a resolver with fixed answers that records each lookup; unknown names fail with ENOTFOUND. */
function cannedResolver(answers: Record<string, string[] | (() => string[])>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const entry = answers[hostname];
    if (entry === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
    }
    const addresses = typeof entry === 'function' ? entry() : entry;
    return addresses.map((address) => ({ address, family: net.isIPv6(address) ? (6 as const) : (4 as const) }));
  };
  return Object.assign(resolver, { calls });
}

describe('checkTargetHost', () => {
  const resolver = cannedResolver({
    'public.test': ['93.184.216.34', '2606:4700:4700::1111'],
    'mixed.test': ['93.184.216.34', '10.0.0.1'],
    'mixed-v6.test': ['93.184.216.34', '::1'],
    'mapped.test': ['::ffff:7f00:1'],
    'nat64.test': ['64:ff9b::7f00:1'],
    'metadata-alias.test': ['169.254.169.254'],
    'zone.test': ['fe80::1%eth0'],
    'garbage.test': ['not-an-address'],
    'build.corp': ['10.1.2.3'],
    'printer.local': ['192.168.1.20'],
    'public-but-internal.internal': ['93.184.216.34'],
    localhost: ['127.0.0.1', '::1'],
    'metadata.google.internal': ['169.254.169.254'],
    'empty.test': [],
  });
  const slowResolver: Resolver = () => new Promise(() => {});

  // [url, policy, reason or null when allowed]
  const cases: Array<[string, AddressPolicy, string | null]> = [
    ['https://public.test/hook', DEFAULT_POLICY, null],
    ['https://mixed.test/hook', DEFAULT_POLICY, 'private'],
    ['https://mixed.test/hook', PRIVATE_POLICY, null],
    ['https://mixed-v6.test/hook', DEFAULT_POLICY, 'loopback'],
    ['https://mapped.test/', DEFAULT_POLICY, 'ipv4_mapped'],
    ['https://nat64.test/', DEFAULT_POLICY, 'nat64'],
    ['https://metadata-alias.test/', PRIVATE_POLICY, 'metadata'],
    ['https://zone.test/', PRIVATE_POLICY, 'invalid'],
    ['https://garbage.test/', PRIVATE_POLICY, 'invalid'],
    ['http://localhost:8080/', DEFAULT_POLICY, 'loopback'],
    ['http://localhost:8080/', PRIVATE_POLICY, null],
    ['http://api.localhost/', DEFAULT_POLICY, 'loopback'],
    ['http://localhost./', DEFAULT_POLICY, 'loopback'],
    ['http://metadata.google.internal/', DEFAULT_POLICY, 'metadata'],
    ['http://metadata.google.internal/', PRIVATE_POLICY, 'metadata'],
    ['http://instance-data/', DEFAULT_POLICY, 'metadata'],
    ['http://metadata/', DEFAULT_POLICY, 'metadata'],
    ['http://intranet/', DEFAULT_POLICY, 'internal_hostname'],
    ['http://printer.local/', DEFAULT_POLICY, 'private'],
    ['http://unknown.local/', DEFAULT_POLICY, 'internal_hostname'],
    ['http://public-but-internal.internal/', DEFAULT_POLICY, 'internal_hostname'],
    ['http://build.corp/', DEFAULT_POLICY, 'private'],
    ['http://build.corp/', { allowPrivateTargets: false, allowCidrs: ['10.1.0.0/16'] }, null],
    ['http://unresolvable.test/', DEFAULT_POLICY, null],
    ['http://empty.test/', DEFAULT_POLICY, null],
    ['http://127.0.0.1:9/', DEFAULT_POLICY, 'loopback'],
    ['http://[::1]:9/', DEFAULT_POLICY, 'loopback'],
    ['http://[::1]:9/', PRIVATE_POLICY, null],
    ['http://93.184.216.34/', DEFAULT_POLICY, null],
  ];

  for (const [url, policy, reason] of cases) {
    it(`${reason === null ? 'allows' : `blocks (${reason})`} ${url} with allowPrivateTargets ${policy.allowPrivateTargets}`, async () => {
      const decision = await checkTargetHost(new URL(url), policy, resolver);
      assert.equal(decision.allowed, reason === null, JSON.stringify(decision));
      if (!decision.allowed) assert.equal(decision.reason, reason);
    });
  }

  it('names the host and the blocked address', async () => {
    const decision = await checkTargetHost(new URL('https://mixed.test/'), DEFAULT_POLICY, resolver);
    assert.equal(decision.allowed, false);
    if (!decision.allowed) {
      assert.match(decision.message, /^requests to mixed\.test, which resolves to 10\.0\.0\.1 \(private network\), are blocked/);
    }
  });

  it('does not resolve IP literals', async () => {
    const before = resolver.calls.length;
    await checkTargetHost(new URL('http://127.0.0.1/'), DEFAULT_POLICY, resolver);
    await checkTargetHost(new URL('http://[::ffff:7f00:1]/'), DEFAULT_POLICY, resolver);
    assert.equal(resolver.calls.length, before);
  });

  it('accepts a public name when the lookup times out', async () => {
    const decision = await checkTargetHost(new URL('https://slow.test/'), DEFAULT_POLICY, slowResolver, { timeoutMs: 20 });
    assert.deepEqual(decision, { allowed: true });
  });

  it('rejects an internal name when the lookup times out', async () => {
    const decision = await checkTargetHost(new URL('https://slow.internal/'), DEFAULT_POLICY, slowResolver, { timeoutMs: 20 });
    assert.equal(decision.allowed, false);
  });
});

interface LoopbackServer {
  server: http.Server | https.Server;
  port: number;
  /** Incoming TCP connections, counted when the server accepts them. */
  connections: number;
  /** `Host` header of each request. */
  hosts: string[];
  close(): Promise<void>;
}

/** Starts an HTTP server on a loopback address that responds to every request with its own address. */
async function startLoopbackServer(
  host: string,
  port = 0,
  options: { tls?: { key: string; cert: string } } = {},
): Promise<LoopbackServer> {
  const handler: http.RequestListener = (req, res) => {
    state.hosts.push(req.headers.host ?? '');
    req.resume();
    res.end(`hello from ${host}`);
  };
  const server = options.tls === undefined ? http.createServer(handler) : https.createServer(options.tls, handler);
  const state: LoopbackServer = {
    server,
    port: 0,
    connections: 0,
    hosts: [],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Proves that a server saw no connection from earlier code: a control
 * connection made now is accepted after any earlier one, so once the count
 * reaches `expected + 1` every earlier connection has been counted.
 */
async function assertConnectionCount(target: LoopbackServer, host: string, expected: number): Promise<void> {
  const control = net.connect(target.port, host);
  try {
    await waitFor(() => target.connections >= expected + 1, `control connection to ${host}`);
    assert.equal(target.connections, expected + 1, `${host} saw ${target.connections - 1} connections, expected ${expected}`);
  } finally {
    control.destroy();
  }
  target.connections -= 1;
}

/** Runs the connector once and returns the socket or the error it produced. */
function connectOnce(
  connector: ReturnType<typeof createGuardedConnector>,
  options: { hostname: string; port: number; protocol?: string },
): Promise<{ error: Error | null; socket: net.Socket | null }> {
  const protocol = options.protocol ?? 'http:';
  return new Promise((resolve) => {
    connector(
      { hostname: options.hostname, host: `${options.hostname}:${options.port}`, protocol, port: String(options.port) },
      (error, socket) => resolve({ error, socket }),
    );
  });
}

async function bindOrSkip(host: string, port = 0): Promise<LoopbackServer | null> {
  try {
    return await startLoopbackServer(host, port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || code === 'EADDRINUSE') return null;
    throw error;
  }
}

describe('guarded connector with loopback servers', { timeout: 20_000 }, () => {
  let server: LoopbackServer;
  const agents: Agent[] = [];
  const resolver = cannedResolver({ 'loopback.test': ['127.0.0.1'] });

  before(async () => {
    server = await startLoopbackServer('127.0.0.1');
  });
  after(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await server.close();
  });

  function agentFor(policy: AddressPolicy, agentResolver: Resolver = resolver): Agent {
    const agent = createGuardedAgent(policy, agentResolver, { connectTimeoutMs: 2_000 });
    agents.push(agent);
    return agent;
  }

  for (const host of ['127.0.0.1', 'loopback.test']) {
    it(`blocks ${host} by default without connecting`, async () => {
      const url = `http://${host}:${server.port}/hook`;
      const failure = await request(url, { method: 'POST', body: '{}', dispatcher: agentFor(DEFAULT_POLICY) }).then(
        () => null,
        (error: unknown) => error,
      );

      assert.ok(failure instanceof BlockedAddressError, `expected BlockedAddressError, got ${String(failure)}`);
      assert.equal(failure.code, 'ERR_BLOCKED_ADDRESS');
      assert.equal(failure.reason, 'loopback');
      assert.equal(failure.address, '127.0.0.1');
      assert.equal(failure.hostname, host);
      assert.match(failure.message, /\(loopback\),? are blocked by the server configuration/);
      await assertConnectionCount(server, '127.0.0.1', 0);
    });
  }

  it('connects when private targets are allowed', async () => {
    const url = `http://loopback.test:${server.port}/hook`;
    const response = await request(url, { method: 'POST', body: '{}', dispatcher: agentFor(PRIVATE_POLICY) });
    assert.equal(response.statusCode, 200);
    assert.equal(await response.body.text(), 'hello from 127.0.0.1');
    assert.equal(server.hosts.at(-1), `loopback.test:${server.port}`);
  });

  it('connects to a loopback address listed in allowCidrs', async () => {
    const policy = { allowPrivateTargets: false, allowCidrs: ['127.0.0.1/32'] };
    const response = await request(`http://127.0.0.1:${server.port}/`, { dispatcher: agentFor(policy) });
    assert.equal(response.statusCode, 200);
    await response.body.dump();
  });

  it('blocks a host whose answers mix allowed and blocked addresses', async () => {
    const mixed = cannedResolver({ 'mixed.test': ['127.0.0.1', '169.254.169.254'] });
    const connections = server.connections;
    const { error, socket } = await connectOnce(createGuardedConnector(PRIVATE_POLICY, mixed), { hostname: 'mixed.test', port: server.port });
    assert.equal(socket, null);
    assert.ok(error instanceof BlockedAddressError);
    assert.equal(error.reason, 'metadata');
    assert.equal(error.address, '169.254.169.254');
    await assertConnectionCount(server, '127.0.0.1', connections);
  });

  it('passes DNS failures through with their code', async () => {
    const { error } = await connectOnce(createGuardedConnector(PRIVATE_POLICY, resolver), { hostname: 'missing.test', port: server.port });
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOTFOUND');
  });

  it('fails an empty DNS answer as not found', async () => {
    const empty = cannedResolver({ 'empty.test': [] });
    const { error } = await connectOnce(createGuardedConnector(PRIVATE_POLICY, empty), { hostname: 'empty.test', port: server.port });
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOTFOUND');
  });

  it('times out a resolver that never answers', async () => {
    const never: Resolver = () => new Promise(() => {});
    const connector = createGuardedConnector(PRIVATE_POLICY, never, { connectTimeoutMs: 50 });
    const { error } = await connectOnce(connector, { hostname: 'slow.test', port: server.port });
    assert.ok(error instanceof undiciErrors.ConnectTimeoutError, `expected ConnectTimeoutError, got ${String(error)}`);
  });

  it('tries the next address when one refuses', async () => {
    // Nothing listens on 127.0.0.3 at this port, so the first address refuses.
    const fallback = cannedResolver({ 'fallback.test': ['127.0.0.3', '127.0.0.1'] });
    const { error, socket } = await connectOnce(createGuardedConnector(PRIVATE_POLICY, fallback), { hostname: 'fallback.test', port: server.port });
    assert.equal(error, null);
    assert.equal(socket?.remoteAddress, '127.0.0.1');
    socket?.destroy();
  });
});

describe('guarded connector against DNS rebinding', { timeout: 20_000 }, () => {
  // The resolver alternates between an allowed address (127.0.0.2, listed in
  // allowCidrs) and a blocked one (127.0.0.1). Both servers listen on the
  // same port, so a connector that resolved the name again after its check
  // would reach the 127.0.0.1 server.
  const policy: AddressPolicy = { allowPrivateTargets: false, allowCidrs: ['127.0.0.2/32'] };
  let allowedServer: LoopbackServer | null = null;
  let blockedServer: LoopbackServer | null = null;

  before(async () => {
    for (let attempt = 0; attempt < 5 && blockedServer === null; attempt++) {
      await allowedServer?.close();
      allowedServer = await bindOrSkip('127.0.0.2');
      if (allowedServer === null) return;
      blockedServer = await bindOrSkip('127.0.0.1', allowedServer.port);
    }
  });
  after(async () => {
    await allowedServer?.close();
    await blockedServer?.close();
  });

  function alternatingResolver(): Resolver & { calls: string[] } {
    let next = 0;
    const answers = ['127.0.0.2', '127.0.0.1'];
    return cannedResolver({ 'rebind.test': () => [answers[next++ % answers.length]] });
  }

  it('connects only to the address it checked', async (t) => {
    if (allowedServer === null || blockedServer === null) {
      t.skip('cannot bind 127.0.0.2 and 127.0.0.1 on one port on this system');
      return;
    }
    const resolver = alternatingResolver();
    const connector = createGuardedConnector(policy, resolver);

    const first = await connectOnce(connector, { hostname: 'rebind.test', port: allowedServer.port });
    assert.equal(first.error, null);
    assert.equal(first.socket?.remoteAddress, '127.0.0.2');
    first.socket?.destroy();

    const second = await connectOnce(connector, { hostname: 'rebind.test', port: allowedServer.port });
    assert.equal(second.socket, null);
    assert.ok(second.error instanceof BlockedAddressError);
    assert.equal(second.error.address, '127.0.0.1');
    assert.equal(second.error.reason, 'loopback');

    assert.deepEqual(resolver.calls, ['rebind.test', 'rebind.test']);
    await assertConnectionCount(allowedServer, '127.0.0.2', 1);
    await assertConnectionCount(blockedServer, '127.0.0.1', 0);
  });

  it('never reaches the rebound address through an agent', async (t) => {
    if (allowedServer === null || blockedServer === null) {
      t.skip('cannot bind 127.0.0.2 and 127.0.0.1 on one port on this system');
      return;
    }
    const before = { allowed: allowedServer.connections, blocked: blockedServer.connections };
    const agent = createGuardedAgent(policy, alternatingResolver());
    try {
      const url = `http://rebind.test:${allowedServer.port}/hook`;
      // `reset` closes the connection after the response, so the next request opens a new one.
      const response = await request(url, { method: 'POST', body: '{}', dispatcher: agent, reset: true });
      assert.equal(await response.body.text(), 'hello from 127.0.0.2');
      assert.equal(allowedServer.hosts.at(-1), `rebind.test:${allowedServer.port}`);

      const failure = await request(url, { method: 'POST', body: '{}', dispatcher: agent, reset: true }).then(
        () => null,
        (error: unknown) => error,
      );
      assert.ok(failure instanceof BlockedAddressError, `expected BlockedAddressError, got ${String(failure)}`);
    } finally {
      await agent.close();
    }
    await assertConnectionCount(allowedServer, '127.0.0.2', before.allowed + 1);
    await assertConnectionCount(blockedServer, '127.0.0.1', before.blocked);
  });
});

describe('guarded connector over IPv6 loopback', { timeout: 20_000 }, () => {
  let server: LoopbackServer | null = null;
  before(async () => {
    server = await bindOrSkip('::1');
  });
  after(async () => {
    await server?.close();
  });

  it('blocks [::1] by default and connects when allowed', async (t) => {
    if (server === null) {
      t.skip('IPv6 loopback is not available on this system');
      return;
    }
    const url = `http://[::1]:${server.port}/`;
    const blockedAgent = createGuardedAgent(DEFAULT_POLICY, cannedResolver({}));
    const allowedAgent = createGuardedAgent(PRIVATE_POLICY, cannedResolver({}));
    try {
      const failure = await request(url, { dispatcher: blockedAgent }).then(() => null, (error: unknown) => error);
      assert.ok(failure instanceof BlockedAddressError);
      assert.equal(failure.address, '::1');
      await assertConnectionCount(server, '::1', 0);

      const response = await request(url, { dispatcher: allowedAgent });
      assert.equal(await response.body.text(), 'hello from ::1');
    } finally {
      await Promise.all([blockedAgent.close(), allowedAgent.close()]);
    }
  });
});

const execFileAsync = promisify(execFile);

/** Creates a self-signed certificate for `pinned.test` with openssl, or returns null when openssl is missing. */
async function createCertificate(directory: string): Promise<{ key: string; cert: string } | null> {
  const keyPath = join(directory, 'key.pem');
  const certPath = join(directory, 'cert.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  args.push('-subj', '/CN=pinned.test', '-addext', 'subjectAltName=DNS:pinned.test', '-keyout', keyPath, '-out', certPath);
  try {
    await execFileAsync('openssl', args, { timeout: 10_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8') };
}

describe('guarded connector with TLS', { timeout: 30_000 }, () => {
  let directory = '';
  let credentials: { key: string; cert: string } | null = null;
  let server: LoopbackServer | null = null;
  const servernames: Array<string | false | null> = [];
  const resolver = cannedResolver({ 'pinned.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] });

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'address-guard-tls-'));
    credentials = await createCertificate(directory);
    if (credentials === null) return;
    server = await startLoopbackServer('127.0.0.1', 0, { tls: credentials });
    server.server.on('secureConnection', (socket: TLSSocket) => {
      servernames.push(socket.servername);
    });
  });
  after(async () => {
    await server?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps the host name for SNI, certificate check and Host header', async (t) => {
    if (server === null || credentials === null) {
      t.skip('openssl is not installed');
      return;
    }
    const agent = createGuardedAgent(PRIVATE_POLICY, resolver, { ca: credentials.cert });
    try {
      const response = await request(`https://pinned.test:${server.port}/hook`, { method: 'POST', body: '{}', dispatcher: agent });
      assert.equal(response.statusCode, 200);
      assert.equal(await response.body.text(), 'hello from 127.0.0.1');
      assert.equal(servernames.at(-1), 'pinned.test');
      assert.equal(server.hosts.at(-1), `pinned.test:${server.port}`);

      // The same address under another name fails the certificate check, so
      // the certificate is checked against the name, not the pinned address.
      const failure = await request(`https://other.test:${server.port}/`, { dispatcher: agent }).then(
        () => null,
        (error: unknown) => error,
      );
      assert.equal((failure as NodeJS.ErrnoException | null)?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      await agent.close();
    }
  });

  it('rejects an unknown certificate unless insecure', async (t) => {
    if (server === null) {
      t.skip('openssl is not installed');
      return;
    }
    const strict = createGuardedAgent(PRIVATE_POLICY, resolver);
    const insecure = createGuardedAgent(PRIVATE_POLICY, resolver, { insecure: true });
    try {
      const failure = await request(`https://pinned.test:${server.port}/`, { dispatcher: strict }).then(
        () => null,
        (error: unknown) => error,
      );
      assert.equal((failure as NodeJS.ErrnoException | null)?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');

      const response = await request(`https://pinned.test:${server.port}/`, { dispatcher: insecure });
      assert.equal(response.statusCode, 200);
      await response.body.dump();
    } finally {
      await Promise.all([strict.close(), insecure.close()]);
    }
  });

  it('blocks a TLS target before the handshake', async (t) => {
    if (server === null) {
      t.skip('openssl is not installed');
      return;
    }
    const connections = server.connections;
    const agent = createGuardedAgent(DEFAULT_POLICY, resolver, { insecure: true });
    try {
      const failure = await request(`https://pinned.test:${server.port}/`, { dispatcher: agent }).then(
        () => null,
        (error: unknown) => error,
      );
      assert.ok(failure instanceof BlockedAddressError);
    } finally {
      await agent.close();
    }
    await assertConnectionCount(server, '127.0.0.1', connections);
  });
});
