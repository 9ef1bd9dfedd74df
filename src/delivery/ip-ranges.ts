/**
 * IP address and CIDR parsing, and the table of special-purpose ranges that
 * the address guard blocks. Addresses are held as bigints (32 bits for IPv4,
 * 128 bits for IPv6) so that one containment test serves both families.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  value: bigint;
}

export interface ParsedCidr {
  family: IpFamily;
  /** Network address with every host bit cleared. */
  base: bigint;
  /** Prefix length in bits: 0 to 32 for IPv4, 0 to 128 for IPv6. */
  prefix: number;
  /** Canonical text, such as `10.0.0.0/8` or `fd00::/8`. */
  text: string;
}

export type BlockReason =
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'multicast'
  | 'reserved'
  | 'unspecified'
  | 'metadata'
  | 'ipv4_mapped'
  | 'ipv4_compatible'
  | 'nat64'
  | '6to4'
  | 'teredo'
  | 'documentation'
  | 'benchmarking'
  | 'internal_hostname'
  | 'invalid';

export interface AddressClass {
  blocked: boolean;
  reason?: BlockReason;
  /** Name of the range the address falls in, such as `public`, `unique_local` or `ipv4_mapped`. */
  category: string;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/**
 * Parses an IPv4 dotted quad or an IPv6 address. Returns null for anything
 * else, including IPv6 zone ids (`fe80::1%eth0`), because a zone id selects
 * an interface and no webhook target needs one, and IPv4 with leading zeros,
 * whose meaning (octal or decimal) differs between parsers.
 */
export function parseIp(text: string): ParsedIp | null {
  if (text.includes('%')) return null;
  if (isIPv4(text)) return { family: 4, value: parseIpv4(text) };
  if (isIPv6(text)) return { family: 6, value: parseIpv6(text) };
  return null;
}

function parseIpv4(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** Expects text that `net.isIPv6` accepted and that has no zone id. */
function parseIpv6(text: string): bigint {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = splitGroups(head);
  const tailGroups = tail === undefined ? [] : splitGroups(tail);
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<number>(missing).fill(0), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

/** Splits colon-separated hex groups; a trailing dotted IPv4 part counts as two groups. */
function splitGroups(part: string): number[] {
  if (part === '') return [];
  const groups: number[] = [];
  for (const piece of part.split(':')) {
    if (piece.includes('.')) {
      const v4 = Number(parseIpv4(piece));
      groups.push(v4 >>> 16, v4 & 0xffff);
    } else {
      groups.push(parseInt(piece, 16));
    }
  }
  return groups;
}

export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - i * 16)) & 0xffffn));
  return compressIpv6(groups);
}

/** Writes IPv6 groups in RFC 5952 form (lowercase, the first longest run of two or more zero groups as `::`), IPv4 parts in hex. */
function compressIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; i++) {
    let length = 0;
    while (i + length < 8 && groups[i + length] === 0) length++;
    if (length > bestLength) {
      bestStart = i;
      bestLength = length;
    }
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

/**
 * Parses `address/prefix` or a bare address (a single-host range). Returns a
 * message instead when the text is not a CIDR or when host bits are set
 * (`10.0.0.1/8`), because such an entry usually hides a typing mistake.
 */
export function parseCidr(text: string): ParsedCidr | { error: string } {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(addressText);
  if (ip === null) {
    const where = slash === -1 ? '' : ' before the "/"';
    return { error: `expected an IPv4 or IPv6 address${where}, got "${addressText}"` };
  }
  const bits = BITS[ip.family];
  const prefixText = slash === -1 ? String(bits) : text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
    return { error: `expected a prefix length from 0 to ${bits} after the "/", got "${prefixText}"` };
  }
  const prefix = Number(prefixText);
  const base = ip.value & prefixMask(ip.family, prefix);
  const canonical = `${formatIp({ family: ip.family, value: base })}/${prefix}`;
  if (base !== ip.value) {
    return { error: `host bits are set after the prefix; write the network address "${canonical}"` };
  }
  return { family: ip.family, base, prefix, text: canonical };
}

function prefixMask(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  const all = (1n << bits) - 1n;
  return all ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  return cidr.family === ip.family && (ip.value & prefixMask(ip.family, cidr.prefix)) === cidr.base;
}

/** Checks whether the CIDR covers exactly one address and that address is `ip`. */
export function cidrIsExactly(cidr: ParsedCidr, ip: ParsedIp): boolean {
  return cidr.family === ip.family && cidr.prefix === BITS[ip.family] && cidr.base === ip.value;
}

function mustParseCidr(text: string): ParsedCidr {
  const parsed = parseCidr(text);
  if ('error' in parsed) throw new Error(`invalid built-in CIDR ${text}: ${parsed.error}`);
  return parsed;
}

interface RangeRule {
  cidr: ParsedCidr;
  reason: BlockReason;
  category: string;
}

function rule(cidr: string, reason: BlockReason, category: string = reason): RangeRule {
  return { cidr: mustParseCidr(cidr), reason, category };
}

/**
 * Cloud metadata and credential endpoints. They stay blocked even when
 * private targets are allowed, because a request there can hand the
 * server's cloud credentials to the author of the webhook URL.
 */
const METADATA_RULES: RangeRule[] = [
  // AWS, GCP, Azure, OpenStack, DigitalOcean and Oracle Cloud instance metadata.
  rule('169.254.169.254/32', 'metadata'),
  // AWS ECS task metadata and task role credentials.
  rule('169.254.170.2/32', 'metadata'),
  // AWS EKS Pod Identity agent, IPv4 and IPv6.
  rule('169.254.170.23/32', 'metadata'),
  rule('fd00:ec2::23/128', 'metadata'),
  // AWS instance metadata over IPv6.
  rule('fd00:ec2::254/128', 'metadata'),
  // Alibaba Cloud instance metadata.
  rule('100.100.100.200/32', 'metadata'),
  // Oracle Cloud legacy metadata address.
  rule('192.0.0.192/32', 'metadata'),
  // Azure WireServer: a public-looking address, reachable only from Azure VMs, that serves platform configuration.
  rule('168.63.129.16/32', 'metadata'),
];

/** IPv4 special-purpose ranges (IANA registry, RFC 6890 and successors); the first match wins. */
const IPV4_RULES: RangeRule[] = [
  rule('0.0.0.0/8', 'unspecified'),
  rule('10.0.0.0/8', 'private'),
  rule('100.64.0.0/10', 'cgnat'),
  rule('127.0.0.0/8', 'loopback'),
  rule('169.254.0.0/16', 'link_local'),
  rule('172.16.0.0/12', 'private'),
  rule('192.0.0.0/24', 'reserved', 'ietf_protocol_assignments'),
  rule('192.0.2.0/24', 'documentation'),
  rule('192.88.99.0/24', 'reserved', '6to4_relay_anycast'),
  rule('192.168.0.0/16', 'private'),
  rule('198.18.0.0/15', 'benchmarking'),
  rule('198.51.100.0/24', 'documentation'),
  rule('203.0.113.0/24', 'documentation'),
  rule('224.0.0.0/4', 'multicast'),
  rule('255.255.255.255/32', 'reserved', 'broadcast'),
  rule('240.0.0.0/4', 'reserved'),
];

/** IPv6 special-purpose ranges; the first match wins, so narrower ranges come before wider ones. */
const IPV6_RULES: RangeRule[] = [
  rule('::/128', 'unspecified'),
  rule('::1/128', 'loopback'),
  rule('::ffff:0:0/96', 'ipv4_mapped'),
  rule('::/96', 'ipv4_compatible'),
  rule('64:ff9b::/96', 'nat64'),
  rule('64:ff9b:1::/48', 'nat64'),
  rule('100::/64', 'reserved', 'discard_only'),
  rule('2001::/32', 'teredo'),
  rule('2001:2::/48', 'benchmarking'),
  rule('2001:db8::/32', 'documentation'),
  rule('2001::/23', 'reserved', 'ietf_protocol_assignments'),
  rule('2002::/16', '6to4'),
  rule('3fff::/20', 'documentation'),
  rule('5f00::/16', 'reserved', 'srv6_sids'),
  rule('fc00::/7', 'private', 'unique_local'),
  rule('fe80::/10', 'link_local'),
  rule('fec0::/10', 'private', 'site_local'),
  rule('ff00::/8', 'multicast'),
];

const NAT64_WELL_KNOWN_PREFIX = mustParseCidr('64:ff9b::/96');

/** IANA allocates global unicast IPv6 addresses only from 2000::/3; everything else not listed above is reserved. */
const IPV6_GLOBAL_UNICAST = mustParseCidr('2000::/3');

function firstMatch(rules: RangeRule[], ip: ParsedIp): RangeRule | undefined {
  return rules.find((r) => cidrContains(r.cidr, ip));
}

/**
 * IPv4 addresses carried inside an IPv6 address by a translation or
 * tunnelling scheme; a request to the IPv6 form may reach the IPv4 host.
 * Covers IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96), 6to4 and
 * Teredo (server and client, the client address stored inverted).
 */
export function embeddedIpv4(ip: ParsedIp): ParsedIp[] {
  if (ip.family !== 6) return [];
  const low32 = ip.value & 0xffffffffn;
  const category = firstMatch(IPV6_RULES, ip)?.category;
  switch (category) {
    case 'ipv4_mapped':
    case 'ipv4_compatible':
      return [{ family: 4, value: low32 }];
    case 'nat64':
      // The well-known prefix is a /96. Under the local-use 64:ff9b:1::/48 an
      // operator picks the prefix length, so every layout that fits is returned.
      if (cidrContains(NAT64_WELL_KNOWN_PREFIX, ip)) return [{ family: 4, value: low32 }];
      return [48, 56, 64, 96].map((prefix): ParsedIp => ({ family: 4, value: extractNat64Ipv4(ip.value, prefix) }));
    case '6to4':
      return [{ family: 4, value: (ip.value >> 80n) & 0xffffffffn }];
    case 'teredo':
      return [
        { family: 4, value: (ip.value >> 64n) & 0xffffffffn },
        { family: 4, value: low32 ^ 0xffffffffn },
      ];
    default:
      return [];
  }
}

/**
 * Reads the IPv4 address that an IPv4-embedded IPv6 address carries after a
 * prefix of `prefixLength` bits. Bits 64 to 71 are the reserved "u" octet
 * and carry no address bits.
 */
function extractNat64Ipv4(value: bigint, prefixLength: number): bigint {
  let result = 0n;
  let bit = prefixLength;
  for (let taken = 0; taken < 32; bit++) {
    if (bit >= 64 && bit < 72) continue;
    result = (result << 1n) | ((value >> BigInt(127 - bit)) & 1n);
    taken++;
  }
  return result;
}

export function isMetadataAddress(ip: ParsedIp): boolean {
  return firstMatch(METADATA_RULES, ip) !== undefined;
}

/**
 * Classifies an address by the special-purpose range it falls in. An IPv6
 * address that embeds a metadata IPv4 address is classified as metadata, so
 * that allowing private targets never opens the metadata service through a
 * translated form such as `::ffff:169.254.169.254`.
 */
export function classifyIp(ip: ParsedIp): AddressClass {
  if (isMetadataAddress(ip)) return { blocked: true, reason: 'metadata', category: 'metadata' };

  const match = firstMatch(ip.family === 4 ? IPV4_RULES : IPV6_RULES, ip);
  if (match !== undefined) {
    const reason = embeddedIpv4(ip).some(isMetadataAddress) ? 'metadata' : match.reason;
    return { blocked: true, reason, category: match.category };
  }
  if (ip.family === 6 && !cidrContains(IPV6_GLOBAL_UNICAST, ip)) {
    return { blocked: true, reason: 'reserved', category: 'unallocated' };
  }
  return { blocked: false, category: 'public' };
}
