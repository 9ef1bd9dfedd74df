/**
 * The undici connector that enforces the address policy on every outbound
 * connection. It resolves the host once, checks every address, and hands the
 * checked address itself to the socket, so a second DNS answer can never
 * redirect the connection (DNS rebinding). TLS still uses the host name for
 * SNI and certificate checks, and undici still sends it in the Host header.
 */
import { isIP } from 'node:net';
import { Agent, buildConnector, errors as undiciErrors } from 'undici';
import { blockedMessage, checkAddress, type AddressPolicy } from './address-policy.js';
import type { BlockReason } from './ip-ranges.js';
import { resolveWithTimeout, ResolveTimeoutError, type Resolver } from './target-host.js';

/** Error for a connection that the address policy blocked before any socket was opened. */
export class BlockedAddressError extends Error {
  readonly code = 'ERR_BLOCKED_ADDRESS';
  readonly reason: BlockReason;
  /** The blocked IP address. */
  readonly address: string;
  /** The host name from the URL, or the address itself for an IP literal. */
  readonly hostname: string;

  constructor(hostname: string, address: string, reason: BlockReason) {
    const target = hostname === address ? address : hostname;
    super(blockedMessage(target, reason, hostname === address ? undefined : address));
    this.name = 'BlockedAddressError';
    this.reason = reason;
    this.address = address;
    this.hostname = hostname;
  }
}

export interface GuardedConnectorOptions {
  /** Whether to verify the server certificate; default true. Set false only for webhooks with `insecure_ssl`. */
  rejectUnauthorized?: boolean;
  /** Time limit in milliseconds for DNS resolution and, separately, for each TCP and TLS connection attempt; default 10 000. */
  connectTimeoutMs?: number;
  /** Extra trusted CA certificates in PEM, for self-hosted targets with a private CA. */
  ca?: string | Buffer | Array<string | Buffer>;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Maximum addresses tried for one connection, so that a long DNS answer cannot stretch one attempt. */
const MAX_ADDRESSES_TRIED = 4;

/** Socket errors after which the next resolved address is tried, because they concern one address rather than the host. */
const NEXT_ADDRESS_CODES = new Set(['ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT']);

type ConnectOptions = buildConnector.Options;
type ConnectCallback = buildConnector.Callback;

/**
 * Builds an undici `connect` function that resolves with `resolver`, checks
 * every resolved address against `policy`, and connects only to a checked
 * address. If any address is blocked, the callback receives a
 * `BlockedAddressError` and no socket is opened, because a host that mixes
 * public and internal answers is a rebinding attempt or a misconfiguration.
 */
export function createGuardedConnector(
  policy: AddressPolicy,
  resolver: Resolver,
  options: GuardedConnectorOptions = {},
): buildConnector.connector {
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const connectSocket = buildConnector({
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    timeout: timeoutMs,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  });

  return (connectOptions, callback) => {
    resolveCheckedAddresses(connectOptions.hostname, policy, resolver, timeoutMs).then(
      (addresses) => connectToFirstReachable(connectSocket, connectOptions, addresses, callback),
      (error: Error) => callback(error, null),
    );
  };
}

/** Resolves the host (an IP literal resolves to itself) and returns the addresses, or rejects when any is blocked. */
async function resolveCheckedAddresses(
  hostname: string,
  policy: AddressPolicy,
  resolver: Resolver,
  timeoutMs: number,
): Promise<string[]> {
  const addresses = isIP(hostname) !== 0 ? [hostname] : await resolveAddresses(hostname, resolver, timeoutMs);
  if (addresses.length === 0) {
    throw Object.assign(new Error(`DNS lookup of ${hostname} returned no addresses`), { code: 'ENOTFOUND', hostname });
  }
  for (const address of addresses) {
    const decision = checkAddress(address, policy);
    if (!decision.allowed) throw new BlockedAddressError(hostname, address, decision.reason);
  }
  return addresses;
}

async function resolveAddresses(hostname: string, resolver: Resolver, timeoutMs: number): Promise<string[]> {
  try {
    const answers = await resolveWithTimeout(resolver, hostname, timeoutMs);
    return answers.map((answer) => answer.address);
  } catch (error) {
    // Callers of undici already handle ConnectTimeoutError as a connect timeout.
    if (error instanceof ResolveTimeoutError) {
      throw new undiciErrors.ConnectTimeoutError(error.message);
    }
    throw error;
  }
}

/**
 * Connects to the checked addresses in order, moving on only after errors
 * that concern one address (refused, unreachable). The socket is given the
 * address, never the name, so Node performs no DNS lookup of its own.
 */
function connectToFirstReachable(
  connectSocket: buildConnector.connector,
  connectOptions: ConnectOptions,
  addresses: string[],
  callback: ConnectCallback,
): void {
  const hostname = connectOptions.hostname;
  // An IP literal host gets no SNI, as TLS forbids addresses there; undici derives that from `host`.
  const servername = connectOptions.servername || (isIP(hostname) === 0 ? hostname : undefined);
  const candidates = addresses.slice(0, MAX_ADDRESSES_TRIED);

  const attempt = (index: number): void => {
    const pinned: ConnectOptions = { ...connectOptions, hostname: candidates[index], servername };
    try {
      connectSocket(pinned, (error, socket) => {
        if (error !== null && index + 1 < candidates.length && NEXT_ADDRESS_CODES.has(errorCode(error))) {
          attempt(index + 1);
          return;
        }
        if (error !== null) callback(error, null);
        else callback(null, socket);
      });
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)), null);
    }
  };
  attempt(0);
}

function errorCode(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : '';
}

export interface GuardedAgentOptions extends GuardedConnectorOptions {
  /** Whether to skip certificate verification, for webhooks with `insecure_ssl`; overrides `rejectUnauthorized`. */
  insecure?: boolean;
  /** Idle time in milliseconds before a kept-alive connection is closed; default 30 000. */
  keepAliveTimeoutMs?: number;
  /** Further undici Agent options, such as `connections` (the per-origin connection limit). */
  agentOptions?: Omit<Agent.Options, 'connect' | 'keepAliveTimeout'>;
}

export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 30_000;

/**
 * Builds an undici Agent whose every connection goes through the guarded
 * connector. Kept-alive connections are reused only for the same origin,
 * and each was checked when it was opened.
 */
export function createGuardedAgent(policy: AddressPolicy, resolver: Resolver, options: GuardedAgentOptions = {}): Agent {
  const { insecure, keepAliveTimeoutMs, agentOptions, ...connectorOptions } = options;
  const rejectUnauthorized = insecure === true ? false : (connectorOptions.rejectUnauthorized ?? true);
  return new Agent({
    ...agentOptions,
    keepAliveTimeout: keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    connect: createGuardedConnector(policy, resolver, { ...connectorOptions, rejectUnauthorized }),
  });
}
