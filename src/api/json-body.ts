import { ApiError } from '../errors.js';

/** Deepest nesting of objects and arrays accepted in a request body. */
export const MAX_JSON_DEPTH = 64;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** A key that occurs twice in one object, and the offset of its second occurrence. */
interface RepeatedKey {
  key: string;
  offset: number;
}

/**
 * Walks the raw JSON text, checking nesting depth and every number literal,
 * and finds the first key repeated within one object. Integers beyond
 * 2^53 - 1 and numbers outside the double range are rejected, because
 * JSON.parse would silently change them. A repeated key is returned rather
 * than thrown, so that a body that is not JSON at all gets the parser's message.
 */
function scanJsonText(text: string, checkNumber: (literal: string, offset: number) => void = checkNumberLiteral): RepeatedKey | null {
  // One entry per open object (the keys seen so far) or array (null).
  const open: (Set<string> | null)[] = [];
  let repeated: RepeatedKey | null = null;
  let inString = false;
  let stringIsKey = false;
  let keyExpected = false;
  let stringStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) {
        inString = false;
        if (stringIsKey && repeated === null) repeated = recordKey(text, stringStart, i, open[open.length - 1]);
      }
      continue;
    }
    if (c === 34) {
      inString = true;
      stringStart = i;
      stringIsKey = keyExpected;
      keyExpected = false;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (open.length >= MAX_JSON_DEPTH) {
        throw new ApiError('invalid_json', `Request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels; flatten the payload.`);
      }
      open.push(c === 123 ? new Set() : null);
      keyExpected = c === 123;
    } else if (c === 125 || c === 93) {
      open.pop();
      keyExpected = false;
    } else if (c === 44 /* , */) {
      keyExpected = open.length > 0 && open[open.length - 1] !== null;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      let end = i + 1;
      while (end < text.length && /[0-9eE+\-.]/.test(text[end])) end++;
      checkNumber(text.slice(i, end), i);
      i = end - 1;
    }
  }
  return repeated;
}

/** Drops the byte order mark that some editors put at the start of a UTF-8 file; JSON.parse refuses it. */
export function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Returns the first key repeated within one object of the JSON text, or
 * null. JSON.parse keeps the last value of a repeated key without a word, so
 * files that people edit by hand are checked with this too. Text that the
 * body checks reject for other reasons (nesting, numbers) counts as having
 * no repeated key here.
 */
export function repeatedJsonKey(text: string): string | null {
  try {
    return scanJsonText(text)?.key ?? null;
  } catch {
    return null;
  }
}

/** Adds the key whose quotes stand at `start` and `end` to its object's keys; returns it when it was there already. */
function recordKey(text: string, start: number, end: number, keys: Set<string> | null | undefined): RepeatedKey | null {
  if (!keys) return null;
  let key = text.slice(start + 1, end);
  if (key.includes('\\')) {
    try {
      key = JSON.parse(text.slice(start, end + 1)) as string;
    } catch {
      // A malformed escape: JSON.parse reports it for the whole body.
      return null;
    }
  }
  if (keys.has(key)) return { key, offset: start };
  keys.add(key);
  return null;
}

/** A JSON number literal: sign, integer digits, fraction digits and exponent. */
const NUMBER_PARTS = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

function checkNumberLiteral(literal: string, offset: number): void {
  const problem = numberProblem(literal);
  if (problem !== null) throw new ApiError('invalid_number', `Number ${shownLiteral(literal)} at byte offset ${offset} ${problem}; send it as a string.`);
}

/** Returns a number literal for a message: whole up to 40 characters, longer ones cut with their length given. */
function shownLiteral(literal: string): string {
  return literal.length <= 40 ? literal : `${literal.slice(0, 40)}… (${literal.length} characters)`;
}

/** Significant digits that a double keeps for every decimal in its normal range. */
const DOUBLE_DIGITS = 15;

/** 2^53, from which on a double can no longer represent every integer. */
const INTEGER_PRECISION_LIMIT = 2 ** 53;

/**
 * Returns why the delivered JSON would carry another number than `literal`,
 * or null. A body is parsed with JSON.parse and written again with
 * JSON.stringify, so `6.02e23` arrives as `6.02e+23`, the same number, while
 * `9007199254740993.0` would arrive as `9007199254740992`. Below 2^53 a
 * double keeps every integer. Only digits of a fraction beyond its precision
 * can change there, as with any floating-point number, so such numbers pass,
 * except a non-zero number that would become 0. Plain integer literals
 * beyond 2^53 - 1 are refused even when a double can store them, since
 * JavaScript receivers cannot count on such integers.
 */
function numberProblem(literal: string): string | null {
  const parts = NUMBER_PARTS.exec(literal);
  // Not a JSON number at all: JSON.parse reports the syntax error.
  if (parts === null) return null;
  const [, integer, fraction, exponent] = parts;
  if (fraction === undefined && exponent === undefined) {
    const digits = integer.replace(/^0+(?=\d)/, '');
    // 2^53 - 1 has 16 digits, so only a 16-digit integer needs a comparison; BigInt of millions of digits takes seconds.
    const beyond = digits.length > 16 || (digits.length === 16 && BigInt(digits) > MAX_SAFE);
    return beyond ? 'is an integer beyond 2^53 - 1, which JSON cannot carry exactly' : null;
  }
  const value = Number(literal);
  if (!Number.isFinite(value)) return 'is outside the range of a double';
  if (value !== 0 && Math.abs(value) < INTEGER_PRECISION_LIMIT) return null;
  const written = decimalOf(integer, fraction ?? '', Number(exponent ?? 0));
  // A non-zero decimal of at most 15 significant digits reads back from a double unchanged.
  if (written.digits.length <= DOUBLE_DIGITS && value !== 0) return null;
  // String() writes the shortest decimal that reads back as the same double, as JSON.stringify does.
  const shortest = String(Math.abs(value));
  const exponentAt = shortest.indexOf('e');
  const mantissa = exponentAt < 0 ? shortest : shortest.slice(0, exponentAt);
  const dot = mantissa.indexOf('.');
  const storedExponent = exponentAt < 0 ? 0 : Number(shortest.slice(exponentAt + 1));
  const stored = decimalOf(dot < 0 ? mantissa : mantissa.slice(0, dot), dot < 0 ? '' : mantissa.slice(dot + 1), storedExponent);
  if (stored.digits === written.digits && stored.exponent === written.exponent) return null;
  if (value === 0) return 'is too close to 0 for a double, which would make it 0';
  return `would become ${JSON.stringify(value)} in a double, which cannot hold it exactly`;
}

/** A decimal without sign as significant digits (no leading or trailing zeros) times 10^exponent; zero has no digits. */
interface Decimal {
  digits: string;
  exponent: number;
}

/** Normalises the parts of a number literal into a Decimal, so that equal numbers compare equal. */
function decimalOf(integer: string, fraction: string, exponent: number): Decimal {
  const all = integer + fraction;
  let start = 0;
  while (start < all.length && all.charCodeAt(start) === 0x30) start++;
  let end = all.length;
  while (end > start && all.charCodeAt(end - 1) === 0x30) end--;
  const digits = all.slice(start, end);
  return { digits, exponent: digits === '' ? 0 : exponent - fraction.length + (all.length - end) };
}

/**
 * Describes the first number in the JSON text that JSON.parse would change,
 * as `the number N at byte offset O is ...`, or returns null. Files that
 * people edit by hand are checked with this, so that an error shows the
 * number as written rather than rounded.
 */
export function inexactJsonNumber(text: string): string | null {
  let found: string | null = null;
  const note = (literal: string, offset: number) => {
    const problem = numberProblem(literal);
    if (found === null && problem !== null) found = `the number ${shownLiteral(literal)} at byte offset ${offset} ${problem}`;
  };
  try {
    scanJsonText(text, note);
  } catch {
    // Nesting too deep: JSON.parse or the other checks report the text.
  }
  return found;
}

function hasProtoKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return true;
    if (hasProtoKey((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/** Decodes and parses a JSON request body strictly: valid UTF-8, bounded depth, exact numbers, each key once per object, no `__proto__` keys. */
export function parseJsonBody(raw: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ApiError('invalid_json', 'Request body is not valid UTF-8; encode the JSON as UTF-8.');
  }
  if (text.trim() === '') throw new ApiError('invalid_json', 'Request body is empty; send a JSON object.');
  const repeated = scanJsonText(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError('invalid_json', `Request body is not valid JSON: ${(err as Error).message}.`);
  }
  if (repeated !== null) {
    throw new ApiError(
      'invalid_json',
      `Request body repeats the key ${JSON.stringify(repeated.key.slice(0, 100))} in one object (second at offset ${repeated.offset}); send each key once.`,
    );
  }
  // A key can spell `__proto__` with \u escapes, so bodies with escapes are checked too.
  if ((text.includes('__proto__') || text.includes('\\u')) && hasProtoKey(value)) {
    throw new ApiError('invalid_json', 'Request body uses the key "__proto__", which is not allowed; rename the key.');
  }
  return value;
}
