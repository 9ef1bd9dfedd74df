/**
 * Webhook filters: glob lists over branch names, tag names and changed file
 * paths. A filter applies only to the events whose kind of data it names:
 * branch and tag filters to pushes and branch or tag events, path filters to
 * pushes. A lock or comment event always passes, whatever fields it carries. Globs run on
 * the linear-time matcher in glob.ts, because tenants type them: `*` stays
 * within one path segment, `**` crosses `/`, and `*` also matches names that
 * start with a dot.
 */
import { compileGlobs as compileGlobList, GlobSyntaxError, MatchBudgetExceeded, type GlobMatcher, type MatchBudget } from './glob.js';
import type { FieldError } from '../errors.js';
import { describeValue } from './describe-value.js';

export interface WebhookFilters {
  /** Branch names without `refs/heads/`, such as `main` or `release/*`. */
  branches?: string[];
  /** Tag names without `refs/tags/`, such as `v*`. */
  tags?: string[];
  /** Globs over repository-relative paths that a push added, modified or removed. */
  paths?: { include?: string[]; exclude?: string[] };
}

export type WebhookFilterPredicate = (event: string, payload: Record<string, unknown>) => boolean;

export const MAX_FILTER_GLOBS = 100;
export const MAX_FILTER_GLOB_LENGTH = 256;
/** Upper bound on the glob tokens of one webhook's filters after brace expansion; matching cost grows with it. */
export const MAX_FILTER_TOKENS = 2000;
/**
 * Matching steps one event may spend on one webhook's filters. Past it the
 * event is delivered as if it matched, the same choice as for commits cut
 * from a large push: a missed delivery is worse than an extra one.
 */
export const MAX_MATCH_STEPS = 500_000;


const FILTER_KEYS = ['branches', 'tags', 'paths'] as const;
const PATH_KEYS = ['include', 'exclude'] as const;

type GlobKind = 'branch' | 'tag' | 'path';

/**
 * Validates the optional `filters` input of a webhook. Null, undefined and an
 * object without keys mean "no filters" and give `filters: null`. On any
 * error `filters` is null and `errors` names each field, such as
 * `filters.branches[1]` or `filters.paths.exclude[0]`.
 */
export function validateWebhookFilters(input: unknown): { filters: WebhookFilters | null; errors: FieldError[] } {
  if (input === null || input === undefined) return { filters: null, errors: [] };
  if (!isPlainObject(input)) {
    const message = `expected an object with optional keys branches, tags and paths, got ${describeValue(input)}`;
    return { filters: null, errors: [{ field: 'filters', message }] };
  }

  const errors: FieldError[] = [];
  errors.push(...unknownKeyErrors(input, FILTER_KEYS, 'filters'));
  const filters: WebhookFilters = {};
  if (input.branches !== undefined) filters.branches = validateGlobList(input.branches, 'filters.branches', 'branch', errors);
  if (input.tags !== undefined) filters.tags = validateGlobList(input.tags, 'filters.tags', 'tag', errors);
  if (input.paths !== undefined) filters.paths = validatePaths(input.paths, errors);

  if (errors.length > 0) return { filters: null, errors };
  const tokens = filterTokenCount(filters);
  if (tokens > MAX_FILTER_TOKENS) {
    const message = `expected filters of at most ${MAX_FILTER_TOKENS} glob tokens after brace expansion, got ${tokens}; use fewer or shorter globs, or fewer brace alternatives`;
    return { filters: null, errors: [{ field: 'filters', message }] };
  }
  return { filters: Object.keys(filters).length > 0 ? filters : null, errors: [] };
}

function validatePaths(input: unknown, errors: FieldError[]): { include?: string[]; exclude?: string[] } {
  if (!isPlainObject(input)) {
    errors.push({ field: 'filters.paths', message: `expected an object with include and/or exclude glob lists, got ${describeValue(input)}` });
    return {};
  }
  errors.push(...unknownKeyErrors(input, PATH_KEYS, 'filters.paths'));
  const paths: { include?: string[]; exclude?: string[] } = {};
  if (input.include !== undefined) paths.include = validateGlobList(input.include, 'filters.paths.include', 'path', errors);
  if (input.exclude !== undefined) paths.exclude = validateGlobList(input.exclude, 'filters.paths.exclude', 'path', errors);
  if (input.include === undefined && input.exclude === undefined) {
    errors.push({ field: 'filters.paths', message: 'expected include, exclude or both, got an object with neither. Remove paths to match every file.' });
  }
  return paths;
}

function unknownKeyErrors(input: Record<string, unknown>, allowed: readonly string[], parent: string): FieldError[] {
  return Object.keys(input)
    .filter((key) => !allowed.includes(key))
    .map((key) => ({ field: `${parent}.${key}`, message: `is not a known filter. Valid keys of ${parent} are ${allowed.join(', ')}.` }));
}

/** Validates one glob list, appends its errors and returns a copy of the list. */
function validateGlobList(input: unknown, field: string, kind: GlobKind, errors: FieldError[]): string[] {
  if (!Array.isArray(input)) {
    errors.push({ field, message: `expected an array of ${kind} globs such as ${globExample(kind)}, got ${describeValue(input)}` });
    return [];
  }
  if (input.length === 0) {
    errors.push({ field, message: `expected at least one glob, got an empty array. Omit the key to match every ${kind}.` });
    return [];
  }
  if (input.length > MAX_FILTER_GLOBS) {
    errors.push({ field, message: `expected at most ${MAX_FILTER_GLOBS} globs, got ${input.length}. Combine them with wildcards or braces.` });
    return [];
  }
  input.forEach((glob: unknown, index) => {
    const message = validateGlob(glob, kind);
    if (message !== null) errors.push({ field: `${field}[${index}]`, message });
  });
  return [...(input as string[])];
}

/** Returns null when `glob` is a usable filter glob of the given kind, else the reason and the fix. */
export function validateGlob(glob: unknown, kind: GlobKind): string | null {
  if (typeof glob !== 'string') return `expected a glob string such as ${globExample(kind)}, got ${describeValue(glob)}`;
  if (glob === '') return `expected a non-empty glob such as ${globExample(kind)}, got an empty string`;
  if (glob.length > MAX_FILTER_GLOB_LENGTH) {
    return `expected a glob of at most ${MAX_FILTER_GLOB_LENGTH} characters, got ${glob.length}`;
  }
  if (/[\u0000-\u001f\u007f]/.test(glob)) return `expected a glob without control characters, got ${JSON.stringify(glob)}`;
  if (glob.startsWith('!')) {
    const fix = kind === 'path' ? 'List the files to skip in filters.paths.exclude instead' : `List the ${kind === 'branch' ? 'branches' : 'tags'} to include instead`;
    return `negated globs such as ${JSON.stringify(glob)} are not supported. ${fix}.`;
  }
  // `{}` expands to an empty alternative only, so a glob made of it can match no branch, tag or file name.
  if (/(^|[^\\[])\{\}/.test(glob)) return `${JSON.stringify(glob)} has an empty brace group {}, which matches nothing; remove it or list alternatives inside, such as {a,b}`;
  if (kind !== 'path' && glob.startsWith('refs/')) {
    const refPrefix = kind === 'branch' ? 'refs/heads/' : 'refs/tags/';
    return `expected a ${kind} name without the ${refPrefix} prefix, such as ${globExample(kind)}, got ${JSON.stringify(glob)}`;
  }
  try {
    compileGlobList([glob]);
  } catch (err) {
    if (!(err instanceof GlobSyntaxError)) throw err;
    if (/braces expand/.test(err.message)) return `${JSON.stringify(glob.slice(0, 60))}: ${err.message}; list the alternatives as separate globs`;
    return `${JSON.stringify(glob)} is not a valid glob. Close every [ and {, keep ranges such as [a-z] in order, and do not end with a backslash.`;
  }
  return null;
}

function globExample(kind: GlobKind): string {
  if (kind === 'branch') return '"main" or "release/*"';
  if (kind === 'tag') return '"v*"';
  return '"assets/**" or "**/*.psd"';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Compiles validated filters into a predicate over an event and its delivered
 * payload. Every filter that applies must pass. The globs are compiled here
 * once, so callers on the delivery fan-out path should keep the predicate.
 */
export function compileWebhookFilters(filters: WebhookFilters | null): WebhookFilterPredicate {
  const branch = compileGlobs(filters?.branches);
  const tag = compileGlobs(filters?.tags);
  const include = compileGlobs(filters?.paths?.include);
  const exclude = compileGlobs(filters?.paths?.exclude);
  if (branch === null && tag === null && include === null && exclude === null) return () => true;

  return (event, payload) => {
    const kind = refEventKind(event);
    if (kind === null) return true;
    try {
      return passes(kind, payload, branch, tag, include, exclude, { steps: MAX_MATCH_STEPS });
    } catch (err) {
      if (err instanceof MatchBudgetExceeded) return true;
      throw err;
    }
  };
}

/** The events that describe a ref: pushes, and branch and tag events. */
type RefEventKind = 'push' | 'branch' | 'tag';

/**
 * Tells which kind of ref event an event name stands for, or null. Filters
 * apply to these alone: senders may add fields of their own to other events,
 * and a `branch` field on a comment must not hold the comment back.
 */
function refEventKind(event: string): RefEventKind | null {
  if (event === 'push' || event.startsWith('push.')) return 'push';
  if (event.startsWith('branch.')) return 'branch';
  if (event.startsWith('tag.')) return 'tag';
  return null;
}

function passes(
  kind: RefEventKind,
  payload: Record<string, unknown>,
  branch: Matcher | null,
  tag: Matcher | null,
  include: Matcher | null,
  exclude: Matcher | null,
  budget: MatchBudget,
): boolean {
  // A push to a ref that is neither a branch nor a tag, such as refs/notes/commits, matches no branch or tag filter.
  if (kind === 'push' && (branch !== null || tag !== null) && isOtherRef(payload.ref)) return false;
  if (branch !== null && kind !== 'tag') {
    const name = refName(payload, 'refs/heads/', kind === 'branch' ? 'branch' : null);
    if (name !== null && !branch(name, budget)) return false;
  }
  if (tag !== null && kind !== 'branch') {
    const name = refName(payload, 'refs/tags/', kind === 'tag' ? 'tag' : null);
    if (name !== null && !tag(name, budget)) return false;
  }
  if (kind === 'push' && (include !== null || exclude !== null)) return changedPathsPass(payload, include, exclude, budget);
  return true;
}

/** Tells whether `ref` is a full ref name outside refs/heads/ and refs/tags/. */
function isOtherRef(ref: unknown): boolean {
  return typeof ref === 'string' && ref.startsWith('refs/') && !ref.startsWith('refs/heads/') && !ref.startsWith('refs/tags/');
}

/** Decides whether one event passes the filters. It compiles them on every call, so hot paths should use compileWebhookFilters. */
export function matchWebhookFilters(filters: WebhookFilters | null, event: string, payload: Record<string, unknown>): boolean {
  return compileWebhookFilters(filters)(event, payload);
}

type Matcher = GlobMatcher;

function compileGlobs(globs: string[] | undefined): Matcher | null {
  return globs === undefined || globs.length === 0 ? null : compileGlobList(globs);
}

/**
 * Returns the branch or tag name an event carries: from `ref` when it starts
 * with `prefix`, else from the `branch` or `tag` field of a branch or tag
 * event (`field`; pushes have none). Returns null when the event carries none.
 */
function refName(payload: Record<string, unknown>, prefix: string, field: 'branch' | 'tag' | null): string | null {
  const ref = payload.ref;
  if (typeof ref === 'string' && ref.startsWith(prefix)) return ref.slice(prefix.length);
  const name = field === null ? undefined : payload[field];
  return typeof name === 'string' ? name : null;
}

/**
 * Applies the path filter to the files that the event's commits added,
 * modified or removed. A file counts when no exclude glob matches it and an
 * include glob (if any) does. An event that lists no files carries no path
 * data and passes.
 */
function changedPathsPass(payload: Record<string, unknown>, include: Matcher | null, exclude: Matcher | null, budget: MatchBudget): boolean {
  const commits = payload.commits;
  if (!Array.isArray(commits)) return true;

  let listsFiles = false;
  for (const commit of commits) {
    if (commit === null || typeof commit !== 'object') continue;
    for (const key of ['added', 'modified', 'removed'] as const) {
      const files = (commit as Record<string, unknown>)[key];
      if (!Array.isArray(files)) continue;
      for (const file of files) {
        if (typeof file !== 'string') continue;
        listsFiles = true;
        if (exclude !== null && exclude(file, budget)) continue;
        if (include === null || include(file, budget)) return true;
      }
    }
  }
  if (!listsFiles) return true;

  // Commits beyond the payload limit were dropped, and their files are unknown. Delivering is safer than missing a match.
  const total = payload.total_commits_count;
  return typeof total === 'number' && total > commits.length;
}

/** Counts the glob tokens of all filter lists after brace expansion. */
function filterTokenCount(filters: WebhookFilters): number {
  const lists = [filters.branches, filters.tags, filters.paths?.include, filters.paths?.exclude];
  return lists.reduce((sum, list) => sum + (list && list.length > 0 ? compileGlobList(list).tokenCount : 0), 0);
}
