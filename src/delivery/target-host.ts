/**
 * Checks the host of a webhook URL when the webhook is created or its URL
 * changes, so that users learn at once that a target is blocked. This check
 * is advisory: DNS answers change, so the guarded connector checks again on
 * every connection against the address it actually connects to.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { blockedMessage, checkAddress, isInAllowCidrs, type AddressDecision, type AddressPolicy } from './address-policy.js';
import type { BlockReason } from './ip-ranges.js';

/** Resolves a host name to every address it has; injected so that tests never touch real DNS. */
export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

/** Resolves with the operating system resolver (`/etc/hosts`, then DNS), keeping the answer order. */
export const systemResolver: Resolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

export const DEFAULT_RESOLVE_TIMEOUT_MS = 5_000;

/** Raised when a resolver takes longer than its time limit; the code matches Node's DNS timeout code. */
export class ResolveTimeoutError extends Error {
  readonly code = 'ETIMEOUT';
  readonly hostname: string;

  constructor(hostname: string, timeoutMs: number) {
    super(`DNS lookup of ${hostname} timed out after ${timeoutMs} ms`);
    this.name = 'ResolveTimeoutError';
    this.hostname = hostname;
  }
}

/** Calls the resolver with a time limit in milliseconds and checks that it returned an array. */
export async function resolveWithTimeout(
  resolver: Resolver,
  hostname: string,
  timeoutMs: number,
): Promise<Array<{ address: string; family: 4 | 6 }>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ResolveTimeoutError(hostname, timeoutMs)), timeoutMs);
  });
  try {
    const answers = await Promise.race([Promise.resolve().then(() => resolver(hostname)), timeout]);
    if (!Array.isArray(answers)) throw new TypeError(`resolver returned ${typeof answers} for ${hostname}, expected an array`);
    return answers;
  } finally {
    clearTimeout(timer);
  }
}

/** Host names that always mean the local machine (RFC 6761). */
function isLocalhostName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost') || name === 'localhost.localdomain';
}

/** Names of cloud metadata services, which resolve to metadata addresses inside the cloud. */
const METADATA_HOSTNAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);

/**
 * Suffixes of names that exist only inside private networks: mDNS `.local`,
 * the ICANN private-use `.internal`, the home network zone `.home.arpa`,
 * `.corp` and `.home` (whose delegation ICANN has deferred indefinitely),
 * and names common in intranets.
 */
const INTERNAL_SUFFIXES = ['.local', '.internal', '.localdomain', '.home.arpa', '.lan', '.intranet', '.corp', '.home', '.private'];

/** Returns why a host name alone marks an internal target, or undefined for an ordinary public-looking name. */
export function internalHostnameReason(hostname: string): BlockReason | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (isLocalhostName(name)) return 'loopback';
  if (METADATA_HOSTNAMES.has(name)) return 'metadata';
  // A single-label name is completed by the resolver's search domains, so it names an intranet host.
  if (!name.includes('.')) return 'internal_hostname';
  if (INTERNAL_SUFFIXES.some((suffix) => name.endsWith(suffix))) return 'internal_hostname';
  return undefined;
}

/** Returns the IP address of a URL host that is an IP literal (IPv6 without its brackets), or null for a name. */
export function ipLiteralOf(hostname: string): string | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? null : bare;
}

/**
 * Checks the host of a parsed target URL. An IP literal is checked directly;
 * the WHATWG URL parser has already turned forms such as `0x7f.1`,
 * `2130706433` and `0177.0.0.1` into dotted decimal. A name is resolved and
 * every address it resolves to must be allowed. Unless private targets are
 * allowed, internal names (`localhost`, `*.local`, metadata service names,
 * single-label names) are rejected too, except when every address they
 * resolve to is listed in `allowCidrs`. Metadata service names
 * (`metadata.google.internal`) are rejected even when private targets are
 * allowed.
 *
 * A name that does not resolve, or whose lookup exceeds `timeoutMs`, is
 * accepted unless it is an internal name: the guarded connector checks the
 * addresses again when a delivery connects.
 */
export async function checkTargetHost(
  url: URL,
  policy: AddressPolicy,
  resolver: Resolver,
  options: { timeoutMs?: number } = {},
): Promise<AddressDecision> {
  const literal = ipLiteralOf(url.hostname);
  if (literal !== null) return checkAddress(literal, policy);

  const hostname = url.hostname;
  let addresses: string[] = [];
  try {
    const answers = await resolveWithTimeout(resolver, hostname, options.timeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS);
    addresses = answers.map((answer) => answer.address);
  } catch {
    // The connector checks the addresses again when a delivery connects, so a failed lookup is no reason to reject.
  }

  for (const address of addresses) {
    const decision = checkAddress(address, policy);
    if (!decision.allowed) {
      return { allowed: false, reason: decision.reason, message: blockedMessage(hostname, decision.reason, address) };
    }
  }

  const nameReason = internalHostnameReason(hostname);
  // allowPrivateTargets opens internal names but never metadata service names, just as it never opens metadata addresses.
  if (nameReason === undefined || (policy.allowPrivateTargets && nameReason !== 'metadata')) return { allowed: true };
  const allListed = addresses.length > 0 && addresses.every((address) => isInAllowCidrs(address, policy.allowCidrs));
  if (allListed) return { allowed: true };
  return { allowed: false, reason: nameReason, message: blockedMessage(hostname, nameReason) };
}
