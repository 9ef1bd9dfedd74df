/**
 * Validation and redaction of webhook target URLs. Validation is strict and
 * never repairs input: a URL that needs trimming or guessing is rejected
 * with a message that states what to change, so the URL stored is the URL
 * the user typed. The host is checked against the address policy separately
 * (`checkTargetHost`), after the WHATWG URL parser has normalised it.
 */
import type { FieldError } from '../errors.js';

export interface TargetUrlResult {
  url: URL;
  /**
   * The URL as shown in API responses and logs: user name, password,
   * token-like query values and token-like path segments replaced by `REDACTED`.
   */
  redacted: string;
}

export type TargetUrlParseResult = { ok: true; value: TargetUrlResult } | { ok: false; error: FieldError };

export const MAX_TARGET_URL_LENGTH = 2048;
export const REDACTED = 'REDACTED';

/**
 * Whitespace, control, format (such as zero-width space and bidi overrides)
 * and separator characters, and lone surrogates. WHATWG URL parsing strips
 * some of these silently and percent-encodes others, so the stored URL would
 * differ from what the user sees.
 */
const FORBIDDEN_CHARACTER = /[\p{Cc}\p{Cf}\p{Z}\p{Cs}\s]/u;

const CHARACTER_NAMES: Record<number, string> = {
  0x00: 'a NUL character',
  0x09: 'a tab',
  0x0a: 'a line feed',
  0x0d: 'a carriage return',
  0x20: 'a space',
  0xa0: 'a no-break space',
  0x200b: 'a zero-width space',
  0xfeff: 'a byte order mark',
};

/** A DNS label: letters, digits, hyphens and underscores (used by some service names), 1 to 63 characters. */
const DNS_LABEL = /^[a-z0-9_-]{1,63}$/;
const MAX_DNS_NAME_LENGTH = 253;

/**
 * Validates a webhook URL typed by a user. Accepts only absolute `http://`
 * and `https://` URLs with a host, at most 2048 characters, without
 * whitespace, control characters, backslashes or a fragment. Fragments are
 * rejected because HTTP clients never send them, so a stored fragment would
 * suggest a target that the request does not reach. User name and password
 * are accepted and redacted in `redacted`.
 */
export function parseTargetUrl(input: unknown, field = 'url'): TargetUrlParseResult {
  const problem = findRawProblem(input);
  if (problem !== null) return fail(field, problem);
  const text = input as string;

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(field, 'expected a valid absolute URL, but it could not be parsed; check the host name, the port (1 to 65535) and the brackets around an IPv6 address');
  }

  const parsedProblem = findParsedProblem(url) ?? findRedactedPart(url);
  if (parsedProblem !== null) return fail(field, parsedProblem);
  return { ok: true, value: { url, redacted: redactUrl(url) } };
}

function fail(field: string, message: string): TargetUrlParseResult {
  return { ok: false, error: { field, message } };
}

/** Checks the raw text before parsing, where the parser would otherwise hide the problem. */
function findRawProblem(input: unknown): string | null {
  if (typeof input !== 'string') return `expected a string with an http or https URL, got ${describeType(input)}`;
  if (input === '') return 'expected an http or https URL, got an empty string';
  if (input.length > MAX_TARGET_URL_LENGTH) {
    return `expected at most ${MAX_TARGET_URL_LENGTH} characters, got ${input.length}; shorten the URL`;
  }

  const forbidden = FORBIDDEN_CHARACTER.exec(input);
  if (forbidden !== null) {
    return `expected no whitespace or control characters, got ${describeCharacter(forbidden[0])} at position ${forbidden.index}; remove it (URLs are not trimmed)`;
  }

  // `host:8080/path` parses as scheme `host`, but it is a URL without a scheme.
  const hostAndPort = /^[^:/?#]+:[0-9]+(?:[/?#]|$)/.test(input);
  const scheme = hostAndPort ? undefined : /^([a-z][a-z0-9+.-]*):/i.exec(input)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    return 'expected an absolute URL that starts with http:// or https://, got a value without a scheme';
  }
  if (scheme !== 'http' && scheme !== 'https') return `expected the scheme http or https, got "${scheme}"`;
  if (!/^https?:\/\//i.test(input)) return `expected "${scheme}://" at the start, got "${scheme}:" without the two slashes`;

  const backslash = input.indexOf('\\');
  if (backslash !== -1) {
    return `expected no backslash, got one at position ${backslash}; use / between path segments or write %5C`;
  }
  const hash = input.indexOf('#');
  if (hash !== -1) {
    return `expected no fragment, got "#" at position ${hash}; remove the part from "#" on, because fragments are never sent in HTTP requests`;
  }
  const authority = /^https?:\/\/([^/?]*)/i.exec(input)?.[1] ?? '';
  if (authority === '' || authority.endsWith('@')) return `expected a host after "${scheme}://", got none`;
  return null;
}

/** Checks the parsed URL: scheme, port and host syntax after WHATWG normalisation. */
function findParsedProblem(url: URL): string | null {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `expected the scheme http or https, got "${url.protocol.slice(0, -1)}"`;
  }
  if (url.port === '0') return 'expected a port from 1 to 65535, got 0';

  const hostname = url.hostname;
  if (hostname === '') return `expected a host after "${url.protocol}//", got none`;
  if (hostname.startsWith('[') || /^[0-9.]+$/.test(hostname)) return null;

  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  const labels = name.split('.');
  if (name.length > MAX_DNS_NAME_LENGTH || !labels.every((label) => DNS_LABEL.test(label))) {
    return `expected a host name of dot-separated labels (letters, digits, hyphens, underscores; 1 to 63 characters each; ${MAX_DNS_NAME_LENGTH} in all), got "${hostname}"`;
  }
  return null;
}

/**
 * Finds the placeholder that `redactUrl` writes. A URL copied from an API
 * response and sent back would otherwise replace the stored credentials or
 * token with the word itself.
 */
function findRedactedPart(url: URL): string | null {
  const parts = [
    { name: 'user name', values: [url.username] },
    { name: 'password', values: [url.password] },
    { name: 'path', values: pathValues(url.pathname) },
    { name: 'query', values: [...url.searchParams.values()] },
  ];
  const found = parts.find((part) => part.values.includes(REDACTED));
  if (found === undefined) return null;
  return `expected the real ${found.name}, got the placeholder ${REDACTED} that API responses show in its place; send the real value, or leave url out of the update to keep the stored URL`;
}

/** Returns the segments of a path and the values of the `;name=value` parameters within them, which redaction replaces too. */
function pathValues(pathname: string): string[] {
  const values: string[] = [];
  for (const segment of pathname.split('/')) {
    values.push(segment);
    for (const pair of segment.split(';').slice(1)) values.push(pair.slice(pair.indexOf('=') + 1));
  }
  return values;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function describeCharacter(character: string): string {
  const codePoint = character.codePointAt(0) ?? 0;
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  const name = CHARACTER_NAMES[codePoint] ?? 'a whitespace, control or invisible formatting character';
  return `${name} (${hex})`;
}

/** Stands in as the origin of a relative Location header while it is redacted; `.invalid` never resolves. */
const RELATIVE_BASE = 'http://relative.invalid';

/**
 * Redacts a Location header value like a webhook URL. A receiver that
 * redirects often echoes the request URL, secrets included. A relative value
 * keeps its relative form; one that is not a URL becomes `[invalid URL]`.
 */
export function redactLocation(location: string): string {
  if (URL.canParse(location)) return redactUrl(location);
  if (!URL.canParse(location, RELATIVE_BASE)) return '[invalid URL]';
  const redacted = new URL(redactUrl(new URL(location, RELATIVE_BASE)));
  // A protocol-relative value (`//host/path`) names a host, which stays.
  if (location.startsWith('//')) return redacted.href.slice(redacted.protocol.length);
  return redacted.pathname + redacted.search + redacted.hash;
}

/**
 * Query parameter names whose values are treated as secrets. A name counts
 * when it contains one of the first words anywhere, or one of the last five
 * as a word of its own. So `pass` and `session_id` count, while `passenger`
 * and `bypass` do not.
 */
const SECRET_PARAMETER_NAME =
  /token|secret|key|password|passwd|pwd|signature|sig|auth|credential|code|hmac|jwt|(?:^|[^a-z0-9])(?:pass|session|sessionid|jsessionid|sid)(?:[^a-z0-9]|$)/i;

/**
 * Returns the URL with credentials replaced by `REDACTED`: user name and
 * password, values of query parameters with secret-like names, path
 * segments that look like tokens (as in Slack or Discord webhook URLs) and
 * any fragment. Text that is not a URL becomes `[invalid URL]`, because
 * such text cannot be redacted reliably.
 */
export function redactUrl(url: string | URL): string {
  let copy: URL;
  try {
    copy = new URL(typeof url === 'string' ? url : url.href);
  } catch {
    return '[invalid URL]';
  }

  if (copy.username !== '') copy.username = REDACTED;
  if (copy.password !== '') copy.password = REDACTED;
  copy.pathname = copy.pathname
    .split('/')
    .map((segment) => (looksLikeToken(segment) ? REDACTED : redactPathParameters(segment)))
    .join('/');
  if (copy.search !== '') copy.search = redactQuery(copy.search.slice(1));
  if (copy.hash !== '') copy.hash = REDACTED;
  return copy.href;
}

/** Redacts the values of secret-like parameters after a `;` in a path segment, such as `;jsessionid=...`. */
function redactPathParameters(segment: string): string {
  const semicolon = segment.indexOf(';');
  if (semicolon === -1) return segment;
  const parameters = segment
    .slice(semicolon + 1)
    .split(';')
    .map((pair) => {
      const equals = pair.indexOf('=');
      return equals !== -1 && SECRET_PARAMETER_NAME.test(decodeQueryComponent(pair.slice(0, equals))) ? `${pair.slice(0, equals)}=${REDACTED}` : pair;
    });
  return [segment.slice(0, semicolon), ...parameters].join(';');
}

/** Redacts values in a raw query string, keeping the other parameters byte for byte. */
function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals === -1) return pair;
      const name = decodeQueryComponent(pair.slice(0, equals));
      return SECRET_PARAMETER_NAME.test(name) ? `${pair.slice(0, equals)}=${REDACTED}` : pair;
    })
    .join('&');
}

function decodeQueryComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * Checks whether a path segment looks like a secret token: at least 20 URL-safe
 * characters with letters and digits, and either mixed-case letters (random
 * base62 or base64url) or at least 32 hex digits (UUIDs, hex keys). Words
 * joined by hyphens, such as `release-notes-2024`, stay readable.
 */
function looksLikeToken(segment: string): boolean {
  if (segment.length < 20 || !/^[A-Za-z0-9_-]+$/.test(segment)) return false;
  if (!/[0-9]/.test(segment) || !/[A-Za-z]/.test(segment)) return false;
  const mixedCase = /[a-z]/.test(segment) && /[A-Z]/.test(segment);
  const hexDigits = segment.replace(/-/g, '');
  const longHex = hexDigits.length >= 32 && /^[0-9a-fA-F]+$/.test(hexDigits);
  return mixedCase || longHex;
}
