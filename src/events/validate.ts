/**
 * Validation of ingested event fields against the catalog schemas, with
 * client-facing messages that name the field, the expected value and what
 * arrived. Validators are compiled on first use and cached per event, because
 * compiling costs milliseconds and ingestion runs thousands of times a second.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import type { FieldError } from '../errors.js';
import { type EventName, getEventType } from './catalog.js';
import { describeValue } from './describe-value.js';
import { isZeroObjectId } from './normalize.js';

/** Upper bound on reported errors, so that one request with thousands of bad commits gets a bounded response. */
export const MAX_FIELD_ERRORS = 100;

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
// ajv-formats is CommonJS: under NodeNext the default import is the module, whose `default` is the plugin.
formatsPlugin.default(ajv, ['date-time']);

const validators = new Map<EventName, ValidateFunction>();

/** Returns the compiled ingestion validator of `event`, compiling it on first use. */
export function ingestValidator(event: EventName): ValidateFunction {
  let validate = validators.get(event);
  if (validate === undefined) {
    const type = getEventType(event);
    if (type === undefined) throw new Error(`No event type named ${event}`);
    validate = ajv.compile(type.ingestSchema);
    validators.set(event, validate);
  }
  return validate;
}

/**
 * Validates the ingested fields (the request body minus `event`) of `event`.
 * Returns an empty array when they are valid, otherwise at most
 * MAX_FIELD_ERRORS errors with paths such as `commits[3].author.email`.
 * Consistency rules that JSON Schema cannot state (a branch name that matches
 * its ref, a commit count that covers the listed commits) run only once the
 * schema passes.
 */
export function validateEventFields(event: EventName, fields: Record<string, unknown>): FieldError[] {
  const validate = ingestValidator(event);
  if (!validate(fields)) {
    return uniqueFieldErrors((validate.errors ?? []).map(toFieldError)).slice(0, MAX_FIELD_ERRORS);
  }
  const problems: FieldError[] = [];
  findUnstorableText(fields, '', problems);
  if (problems.length > 0) return problems.slice(0, MAX_FIELD_ERRORS);
  return checkConsistency(event, fields);
}

/**
 * Drops repeated errors: a value that breaks several keywords of one schema
 * (a negative fraction where a positive integer belongs) gets one message
 * from the schema's description for each.
 */
export function uniqueFieldErrors(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = `${error.field}\n${error.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Checks that the fields of a push agree with each other: `created` and
 * `deleted` with the zero ids in `before` and `after`, `forced` with
 * push.force, and `total_commits_count` with the commits listed.
 */
function checkPushConsistency(event: EventName, fields: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  const createdByIds = isZeroObjectId(fields.before);
  const deletedByIds = isZeroObjectId(fields.after);
  if (createdByIds && deletedByIds) {
    errors.push({ field: 'after', message: 'expected a commit id, got all zeros while before is all zeros too; a push moves a ref from one commit to another' });
  }
  for (const [key, fromIds, side] of [['created', createdByIds, 'before'], ['deleted', deletedByIds, 'after']] as const) {
    if (typeof fields[key] === 'boolean' && fields[key] !== fromIds) {
      const reason = fromIds ? `${side} is all zeros` : `${side} is not all zeros`;
      errors.push({ field: key, message: `expected ${fromIds}, since ${reason}, got ${String(fields[key])}; omit ${key} to derive it from ${side}` });
    }
  }
  if (event === 'push.force' && fields.forced === false) {
    errors.push({ field: 'forced', message: 'expected true or no value: a push.force rewrote history; send the event as push if it did not' });
  }
  const forced = event === 'push.force' || fields.forced === true;
  if (forced && (createdByIds || deletedByIds)) {
    const side = createdByIds ? 'before' : 'after';
    errors.push({ field: 'forced', message: `expected a push that rewrote history to move a ref, got ${side} all zeros; send a push with forced false to create or delete a ref` });
  }
  const commits = fields.commits as unknown[] | undefined;
  const total = fields.total_commits_count as number | undefined;
  if (commits !== undefined && total !== undefined && total < commits.length) {
    errors.push({
      field: 'total_commits_count',
      message: `expected at least the number of listed commits (${commits.length}), got ${total}. Send the real number of pushed commits or omit the field.`,
    });
  }
  return errors;
}

function checkConsistency(event: EventName, fields: Record<string, unknown>): FieldError[] {
  if (event === 'push' || event === 'push.tag' || event === 'push.force') return checkPushConsistency(event, fields);
  if (event === 'branch.created' || event === 'branch.deleted') return checkRefName(fields, 'branch', 'refs/heads/');
  if (event === 'tag.created' || event === 'tag.deleted') return checkRefName(fields, 'tag', 'refs/tags/');
  return [];
}

function checkRefName(fields: Record<string, unknown>, key: 'branch' | 'tag', prefix: string): FieldError[] {
  const ref = fields.ref as string;
  const name = fields[key] as string;
  if (ref === prefix + name) return [];
  return [
    {
      field: key,
      message: `expected the ${key} name in ref (${JSON.stringify(ref.slice(prefix.length))}), got ${JSON.stringify(name)}. Make ${key} and ref name the same ${key}.`,
    },
  ];
}

/** Converts a JSON pointer such as `/commits/3/author/email` into `commits[3].author.email`. */
export function pointerToFieldPath(pointer: string): string {
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += formatSegment(segment, path === '');
  }
  return path;
}

function formatSegment(segment: string, first: boolean): string {
  if (/^(0|[1-9][0-9]*)$/.test(segment)) return `[${segment}]`;
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) return first ? segment : `.${segment}`;
  return `[${JSON.stringify(segment)}]`;
}

/** Appends a key to a field path: `parent.key`, `parent[0]`, or `parent["odd key"]` for a key that is not an identifier. */
export function joinField(parent: string, key: string): string {
  return parent + formatSegment(key, parent === '');
}

const NO_KEYS: ReadonlySet<string> = new Set();

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Collects strings that cannot be stored and shown as sent: NUL characters,
 * and lone UTF-16 surrogates, which have no UTF-8 form and which strict JSON
 * parsers reject. Keys in `skipRootKeys` are left to a check of their own.
 */
export function findUnstorableText(value: unknown, path: string, problems: FieldError[], skipRootKeys: ReadonlySet<string> = NO_KEYS): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) problems.push({ field: path || 'body', message: 'must not contain NUL characters; remove them' });
    else if (LONE_SURROGATE.test(value)) problems.push({ field: path || 'body', message: 'contains a lone UTF-16 surrogate, which is not valid Unicode; send well-formed text' });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => findUnstorableText(item, `${path}[${i}]`, problems));
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (path === '' && skipRootKeys.has(key)) continue;
      const field = joinField(path, key);
      // Keys are checked as well, since they are stored and delivered like values.
      findUnstorableText(key, field, problems);
      findUnstorableText(item, field, problems);
    }
  }
}

function toFieldError(error: ErrorObject): FieldError {
  const path = pointerToFieldPath(error.instancePath);
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    const expected = describeExpected(propertySchema(error.parentSchema, missing), 'a value');
    return { field: joinField(path, missing), message: `is required but missing. Send ${expected}.` };
  }
  const field = path === '' ? 'body' : path;
  if (error.keyword === 'false schema') {
    return { field, message: 'is set by the server and must not be sent. Remove it from the request body.' };
  }
  const expected = expectedValue(error);
  return { field, message: `expected ${expected}, got ${describeValue(error.data)}` };
}

function expectedValue(error: ErrorObject): string {
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return `one of ${allowed.map((value) => JSON.stringify(value)).join(', ')}`;
  }
  if (error.keyword === 'const') return JSON.stringify((error.params as { allowedValue: unknown }).allowedValue);
  // ajv's own message, such as "must match format \"date-time\"", is the fallback for schemas without a description.
  return describeExpected(error.parentSchema, `a value that ${error.message ?? 'matches the schema'}`);
}

function propertySchema(schema: unknown, key: string): unknown {
  const properties = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties?.[key];
}

function describeExpected(schema: unknown, fallback: string): string {
  const description = (schema as { description?: unknown } | undefined)?.description;
  return typeof description === 'string' ? description : fallback;
}
