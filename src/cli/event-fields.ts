/**
 * Builds the body of an ingested event from `emit` flags: a JSON file, then
 * `--sender`, then `--field key=value` entries with dotted keys for nested
 * objects. Later sources overwrite earlier ones key by key.
 */
import { inexactJsonNumber } from '../api/json-body.js';
import { UsageError } from './errors.js';

/** Keys that would reach Object.prototype when assigned, so they are rejected. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses a `--field` value: JSON when it parses, otherwise the text itself.
 * A value with a number that JSON.parse would change, such as an integer
 * beyond 2^53 - 1, stays text, because the server refuses such numbers and
 * would see only the changed one.
 */
export function parseFieldValue(raw: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return raw;
  }
  return inexactJsonNumber(raw) === null ? value : raw;
}

/** Splits `key=value` at the first `=`; the key is a dotted path such as `lock.owner.login`. */
export function parseFieldFlag(flag: string): { path: string[]; value: unknown } {
  const at = flag.indexOf('=');
  if (at <= 0) throw new UsageError(`--field must look like key=value, such as lock.path=edit.prproj, got ${JSON.stringify(flag)}`);
  const key = flag.slice(0, at);
  const path = key.split('.');
  for (const segment of path) {
    if (segment === '') throw new UsageError(`--field key ${JSON.stringify(key)} has an empty segment; write dotted keys such as lock.owner.login`);
    if (FORBIDDEN_KEYS.has(segment)) throw new UsageError(`--field key ${JSON.stringify(key)} uses the reserved name ${segment}; choose another key`);
  }
  return { path, value: parseFieldValue(flag.slice(at + 1)) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets `value` at `path` inside `target`, creating objects on the way; a non-object in the way is a UsageError. */
export function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i];
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (!isPlainObject(next)) {
      throw new UsageError(`--field ${path.join('.')} needs ${path.slice(0, i + 1).join('.')} to be an object, but it is already ${JSON.stringify(next)}`);
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

export interface EventSources {
  event: string;
  /** Parsed content of `--file`, or undefined. */
  file?: unknown;
  /** Raw `--field` values in command-line order. */
  fields: string[];
  sender?: string;
  /** Sender login used when no source sets one. */
  defaultSender?: string;
}

/** Builds the ingestion body `{event, ...fields}`; throws UsageError for a bad file or field. */
export function buildEventBody(sources: EventSources): Record<string, unknown> {
  if (sources.file !== undefined && !isPlainObject(sources.file)) {
    throw new UsageError('--file must contain a JSON object of event fields, such as {"ref": "refs/heads/main", "before": "...", "after": "..."}');
  }
  const fields: Record<string, unknown> = { ...((sources.file as Record<string, unknown> | undefined) ?? {}) };
  if (fields.event !== undefined && fields.event !== sources.event) {
    throw new UsageError(`--file names event ${JSON.stringify(fields.event)} but the command emits ${sources.event}; make them agree or drop "event" from the file`);
  }
  delete fields.event;
  if (sources.sender !== undefined) fields.sender = { login: sources.sender };
  for (const flag of sources.fields) {
    const { path, value } = parseFieldFlag(flag);
    if (path[0] === 'event') {
      throw new UsageError(`--field ${path.join('.')} would change the event type, which is the first argument of emit (here ${sources.event}); drop that --field`);
    }
    if (path[0] === 'sender' && sources.sender !== undefined) {
      throw new UsageError(`--sender and --field ${path.join('.')} both set the sender; pass only one of them`);
    }
    setPath(fields, path, value);
  }
  if (fields.sender === undefined && sources.defaultSender) fields.sender = { login: sources.defaultSender };
  return { event: sources.event, ...fields };
}
