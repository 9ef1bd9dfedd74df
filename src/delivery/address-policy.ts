/**
 * The address policy: which IP addresses the delivery worker may connect to.
 *
 * Rules, in order:
 * 1. Text that is not a plain IPv4 or IPv6 address (zone ids included) is
 *    always rejected.
 * 2. Public addresses are allowed.
 * 3. A cloud metadata address, or an IPv6 address that embeds one, is allowed
 *    only when `allowCidrs` lists that exact address as a single-host entry
 *    (`169.254.169.254` or `169.254.169.254/32`). Wider entries such as
 *    `169.254.0.0/16` or `0.0.0.0/0` never open it, and neither does
 *    `allowPrivateTargets`.
 * 4. Any other blocked address is allowed when `allowPrivateTargets` is set or
 *    when an `allowCidrs` entry contains it.
 *
 * Every IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is blocked by default,
 * even when the IPv4 address inside is public: a public host is reached by its
 * IPv4 form, and a mapped DNS record is a common way to slip past filters. For the
 * allow-list, a mapped address also matches IPv4 entries that contain the
 * IPv4 address inside, because a dual-stack socket reaches the same host.
 */
import type { FieldError } from '../errors.js';
import {
  cidrContains,
  cidrIsExactly,
  classifyIp,
  embeddedIpv4,
  parseCidr,
  parseIp,
  type AddressClass,
  type BlockReason,
  type ParsedCidr,
  type ParsedIp,
} from './ip-ranges.js';

export interface AddressPolicy {
  /** Opens loopback, private, link-local, CGNAT, ULA and the other blocked ranges, except cloud metadata. */
  allowPrivateTargets: boolean;
  /**
   * IPv4 and IPv6 CIDRs (or bare addresses) that are allowed although their
   * range is blocked. A metadata address is opened only by an entry for
   * exactly that one address.
   */
  allowCidrs: string[];
}

export type AddressDecision = { allowed: true } | { allowed: false; reason: BlockReason; message: string };

/** Wording for messages: what kind of address the reason stands for. */
const REASON_LABELS: Record<BlockReason, string> = {
  loopback: 'loopback',
  private: 'private network',
  link_local: 'link-local',
  cgnat: 'carrier-grade NAT',
  multicast: 'multicast',
  reserved: 'reserved',
  unspecified: 'unspecified address',
  metadata: 'cloud metadata service',
  ipv4_mapped: 'IPv4-mapped IPv6',
  ipv4_compatible: 'IPv4-compatible IPv6',
  nat64: 'NAT64',
  '6to4': '6to4 tunnel',
  teredo: 'Teredo tunnel',
  documentation: 'documentation range',
  benchmarking: 'benchmarking range',
  internal_hostname: 'internal host name',
  invalid: 'not an IP address',
};

export function describeReason(reason: BlockReason): string {
  return REASON_LABELS[reason];
}

/** Classifies an address by range, independent of any policy. Invalid text is blocked with reason `invalid`. */
export function classifyAddress(ip: string): AddressClass {
  const parsed = parseIp(ip);
  if (parsed === null) return { blocked: true, reason: 'invalid', category: 'invalid' };
  return classifyIp(parsed);
}

/** Decides whether the policy allows connecting to `ip`; see the file header for the rules. */
export function checkAddress(ip: string, policy: AddressPolicy): AddressDecision {
  const parsed = parseIp(ip);
  if (parsed === null) {
    return {
      allowed: false,
      reason: 'invalid',
      message: `"${ip}" is not a valid IPv4 or IPv6 address (IPv6 zone ids such as %eth0 are not accepted)`,
    };
  }

  const classification = classifyIp(parsed);
  if (!classification.blocked || classification.reason === undefined) return { allowed: true };

  const allowCidrs = parseCidrList(policy.allowCidrs).cidrs;
  const candidates = allowListCandidates(parsed, classification);
  if (classification.reason === 'metadata') {
    return anyCidrMatches(allowCidrs, candidates, cidrIsExactly) ? { allowed: true } : blocked(ip, 'metadata');
  }

  if (policy.allowPrivateTargets || anyCidrMatches(allowCidrs, candidates, cidrContains)) return { allowed: true };
  return blocked(ip, classification.reason);
}

function anyCidrMatches(
  cidrs: ParsedCidr[],
  candidates: ParsedIp[],
  matches: (cidr: ParsedCidr, ip: ParsedIp) => boolean,
): boolean {
  return cidrs.some((cidr) => candidates.some((candidate) => matches(cidr, candidate)));
}

/**
 * Checks whether an `allowCidrs` entry contains `ip`, where an IPv4-mapped
 * address also matches through the IPv4 address inside. Invalid entries are
 * ignored because configuration validation reports them at start.
 */
export function isInAllowCidrs(ip: string, allowCidrs: readonly string[]): boolean {
  const parsed = parseIp(ip);
  if (parsed === null) return false;
  const candidates = allowListCandidates(parsed, classifyIp(parsed));
  return anyCidrMatches(parseCidrList(allowCidrs).cidrs, candidates, cidrContains);
}

/** Lists the forms of `ip` that allow-list entries are matched against: itself, plus the IPv4 address inside an IPv4-mapped address. */
function allowListCandidates(ip: ParsedIp, classification: AddressClass): ParsedIp[] {
  return classification.category === 'ipv4_mapped' ? [ip, ...embeddedIpv4(ip)] : [ip];
}

function blocked(ip: string, reason: BlockReason): AddressDecision {
  return { allowed: false, reason, message: blockedMessage(ip, reason) };
}

/**
 * Builds the message shown to API clients and written to delivery attempts.
 * `target` is an address or host name; `address` is the resolved address
 * that caused the block when `target` is a name.
 */
export function blockedMessage(target: string, reason: BlockReason, address?: string): string {
  const label = describeReason(reason);
  const subject =
    address === undefined
      ? `requests to ${target} (${label}) are blocked by the server configuration`
      : `requests to ${target}, which resolves to ${address} (${label}), are blocked by the server configuration`;
  if (reason === 'metadata') {
    return `${subject}; an administrator can allow this address only by listing it exactly in allowCidrs (--allow-cidr, DITS_WEBHOOKS_ALLOW_CIDRS)`;
  }
  return `${subject}; an administrator can allow them with allowPrivateTargets (--allow-private-targets, DITS_WEBHOOKS_ALLOW_PRIVATE_TARGETS) or by adding the address to allowCidrs (--allow-cidr, DITS_WEBHOOKS_ALLOW_CIDRS)`;
}

/**
 * Validates a configured CIDR list, such as `allowCidrs`. Each entry is an
 * IPv4 or IPv6 CIDR or a bare address; entries with host bits set are
 * rejected. `field` names the setting in error messages.
 */
export function parseCidrList(list: readonly unknown[], field = 'allowCidrs'): { cidrs: ParsedCidr[]; errors: FieldError[] } {
  const cidrs: ParsedCidr[] = [];
  const errors: FieldError[] = [];
  list.forEach((entry, index) => {
    const entryField = `${field}[${index}]`;
    if (typeof entry !== 'string') {
      errors.push({ field: entryField, message: `expected a CIDR string such as "10.0.0.0/8", got ${typeof entry}` });
      return;
    }
    const parsed = parseCidr(entry);
    if ('error' in parsed) {
      errors.push({ field: entryField, message: `invalid CIDR "${entry}": ${parsed.error}` });
      return;
    }
    cidrs.push(parsed);
  });
  return { cidrs, errors };
}

export type { AddressClass, BlockReason, ParsedCidr };
