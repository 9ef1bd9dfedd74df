import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { ApiError, invalidRequest, type FieldError } from '../errors.js';
import { describeValue } from '../events/describe-value.js';
import { findUnstorableText, joinField, pointerToFieldPath, uniqueFieldErrors } from '../events/validate.js';

const URL_FIELD: ReadonlySet<string> = new Set(['url']);

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
// ajv-formats is CommonJS: under NodeNext the default import is the module, whose `default` is the plugin.
formatsPlugin.default(ajv, ['date-time']);
const compiled = new WeakMap<object, ValidateFunction>();

function describeExpected(schema: unknown): string | null {
  const description = (schema as { description?: unknown } | undefined)?.description;
  return typeof description === 'string' ? description : null;
}

/**
 * Returns the field path of a JSON pointer. Body fields are named bare
 * (`events[0]`), and query parameters carry their location (`query.limit`).
 */
function fieldPath(pointer: string, root: string): string {
  const path = pointerToFieldPath(pointer);
  if (root === 'body') return path;
  return path.startsWith('[') || path === '' ? `${root}${path}` : `${root}.${path}`;
}

/** Turns one ajv error into a message that names the field, what was expected and what arrived. */
export function schemaErrorToFieldError(error: ErrorObject, root = 'body'): FieldError {
  const path = fieldPath(error.instancePath, root);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    const missing = String(params.missingProperty);
    const properties = (error.parentSchema as { properties?: Record<string, unknown> }).properties ?? {};
    const expected = describeExpected(properties[missing]) ?? 'a value';
    return { field: joinField(path, missing), message: `is required; send ${expected}` };
  }
  if (error.keyword === 'additionalProperties') {
    const extra = String(params.additionalProperty);
    const known = Object.keys((error.parentSchema as { properties?: Record<string, unknown> }).properties ?? {});
    return { field: joinField(path, extra), message: `is not a known field; remove it (known fields: ${known.join(', ')})` };
  }
  const field = path || root;
  let expected = describeExpected(error.parentSchema) ?? `a value that ${error.message}`;
  if (error.keyword === 'enum') expected = `one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (error.keyword === 'uniqueItems') {
    return { field, message: `expected ${expected}, got items ${params.j} and ${params.i} equal; remove the repeat` };
  }
  return { field, message: `expected ${expected}, got ${describeValue(error.data)}` };
}

/** Validates `value` against a JSON Schema and throws `invalid_request` listing every problem. */
export function validateInput<T>(schema: object, value: unknown, root = 'body'): T {
  if (root === 'body' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new ApiError('invalid_request', `Request body must be a JSON object, got ${describeValue(value)}.`, [
      { field: 'body', message: `expected a JSON object, got ${describeValue(value)}` },
    ]);
  }
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (!validate(value)) throw invalidRequest(uniqueFieldErrors((validate.errors ?? []).map((e) => schemaErrorToFieldError(e, root))).slice(0, 50));
  const problems: FieldError[] = [];
  // A webhook url gets its own invalid_target_url error from parseTargetUrl, which rejects every control character.
  findUnstorableText(value, root === 'body' ? '' : root, problems, URL_FIELD);
  if (problems.length > 0) throw invalidRequest(problems);
  return value as T;
}

/** Parses a positive integer path parameter, naming it in the error. */
export function parseIdParam(value: string, name: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(value)) {
    throw new ApiError('invalid_request', `Path parameter ${name} must be a positive integer, got ${JSON.stringify(value.slice(0, 40))}.`, [
      { field: name, message: `expected a positive integer, got ${describeValue(value)}` },
    ]);
  }
  return Number(value);
}
