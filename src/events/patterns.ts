/**
 * Event patterns: the entries of a webhook's `events` list. An entry is an
 * exact event name, `*` (every event), a prefix pattern such as `lock.*`
 * (every name that starts with `lock.`) or a suffix pattern such as
 * `*.deleted` (every name that ends with `.deleted`). A wildcard must be a
 * whole dot-separated segment, and an entry must match at least one catalog
 * name, so a typo is rejected when the webhook is saved instead of silently
 * matching nothing.
 *
 * `ping` is an ordinary catalog name here: `*` and the entry `ping` match it.
 * That choice does not decide whether a webhook gets pings. Like GitHub, the
 * server sends a ping to a webhook when it is created active or when a ping is
 * requested, whatever its `events` list, and never matches ping against patterns.
 */
import type { FieldError } from '../errors.js';
import { EVENT_NAMES, type EventName } from './catalog.js';
import { describeValue } from './describe-value.js';

/** Maximum entries in one `events` list. The catalog has 23 names, so a longer list can only repeat or add noise. */
export const MAX_EVENT_PATTERNS = 100;

/** Maximum length of one entry. The longest catalog name has 23 characters. */
export const MAX_EVENT_PATTERN_LENGTH = 100;

const VALID_FORMS =
  'Use an event name such as "lock.acquired", "*" for every event, a prefix pattern such as "lock.*" or a suffix pattern such as "*.deleted"';

const VALID_NAMES = `Valid event names: ${EVENT_NAMES.join(', ')}`;

type ParsedPattern = { matches: (name: string) => boolean } | { syntaxError: string };

function parsePattern(pattern: string): ParsedPattern {
  if (pattern === '*') return { matches: () => true };
  if (!pattern.includes('*')) return { matches: (name) => name === pattern };

  const segments = pattern.split('.');
  if (segments.some((segment) => segment === '')) return { syntaxError: 'it has an empty segment (two dots in a row, or a leading or trailing dot)' };
  if (segments.some((segment) => segment !== '*' && segment.includes('*'))) {
    return { syntaxError: 'a wildcard must be a whole dot-separated segment' };
  }

  const wildcards = segments.filter((segment) => segment === '*').length;
  const last = segments.length - 1;
  if (wildcards === 1 && segments[last] === '*') {
    const prefix = pattern.slice(0, -1);
    return { matches: (name) => name.startsWith(prefix) };
  }
  if (wildcards === 1 && segments[0] === '*') {
    const suffix = pattern.slice(1);
    return { matches: (name) => name.endsWith(suffix) };
  }
  return { syntaxError: 'only one wildcard is allowed, and only as the first or last segment' };
}

/** Returns the catalog names that `pattern` matches in catalog order, or an empty array when the pattern is invalid. */
export function matchingEventNames(pattern: string): EventName[] {
  const parsed = parsePattern(pattern);
  if ('syntaxError' in parsed) return [];
  return EVENT_NAMES.filter((name) => parsed.matches(name));
}

/** Returns null when `pattern` is a valid entry, else a message that names the entry and lists the valid forms. */
export function validateEventPattern(pattern: string): string | null {
  const shown = JSON.stringify(pattern.length > MAX_EVENT_PATTERN_LENGTH ? `${pattern.slice(0, 40)}...` : pattern);
  if (pattern.length === 0) return `expected an event name or pattern, got an empty string. ${VALID_FORMS}. ${VALID_NAMES}.`;
  if (pattern.length > MAX_EVENT_PATTERN_LENGTH) {
    return `${shown} is longer than ${MAX_EVENT_PATTERN_LENGTH} characters, so it matches no event type. ${VALID_FORMS}. ${VALID_NAMES}.`;
  }

  const parsed = parsePattern(pattern);
  if ('syntaxError' in parsed) return `${shown} is not a valid event pattern because ${parsed.syntaxError}. ${VALID_FORMS}.`;
  if (EVENT_NAMES.some((name) => parsed.matches(name))) return null;

  const lowercase = pattern.toLowerCase();
  if (lowercase !== pattern && validateEventPattern(lowercase) === null) {
    return `${shown} matches no event type because event names are lowercase. Use ${JSON.stringify(lowercase)}.`;
  }
  return `${shown} matches no event type. ${VALID_FORMS}. ${VALID_NAMES}.`;
}

/**
 * Validates a webhook's `events` input: a non-empty array of at most
 * MAX_EVENT_PATTERNS unique strings, each a valid entry. Returns one error per
 * problem with fields such as `events[2]`, or an empty array when the input is valid.
 */
export function validateEventPatterns(input: unknown): FieldError[] {
  if (!Array.isArray(input)) {
    return [{ field: 'events', message: `expected an array of event names or patterns such as ["push", "lock.*"], got ${describeValue(input)}` }];
  }
  if (input.length === 0) {
    return [{ field: 'events', message: `expected at least one event name or pattern, got an empty array. Use ["*"] to receive every event.` }];
  }
  if (input.length > MAX_EVENT_PATTERNS) {
    return [{ field: 'events', message: `expected at most ${MAX_EVENT_PATTERNS} entries, got ${input.length}. Use patterns such as "lock.*" or "*".` }];
  }

  const errors: FieldError[] = [];
  const firstIndex = new Map<string, number>();
  input.forEach((entry: unknown, index) => {
    const field = `events[${index}]`;
    if (typeof entry !== 'string') {
      errors.push({ field, message: `expected an event name or pattern as a string, got ${describeValue(entry)}` });
      return;
    }
    const message = validateEventPattern(entry);
    if (message !== null) {
      errors.push({ field, message });
      return;
    }
    const previous = firstIndex.get(entry);
    if (previous !== undefined) {
      errors.push({ field, message: `${JSON.stringify(entry)} repeats events[${previous}]. List each entry once.` });
      return;
    }
    firstIndex.set(entry, index);
  });
  return errors;
}

/**
 * Compiles a validated `events` list into a predicate over event names. The
 * matched names are computed once, so the predicate is one Set lookup, and an
 * event that several entries match counts once. Invalid entries match nothing.
 */
export function compileEventPatterns(patterns: readonly string[]): (event: string) => boolean {
  const matched = new Set<string>();
  for (const pattern of patterns) {
    for (const name of matchingEventNames(pattern)) matched.add(name);
  }
  return (event) => matched.has(event);
}
