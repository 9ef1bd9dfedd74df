/**
 * Turns the flags of `create` and `update` into webhook request bodies.
 * Lists come as comma-separated values, repeatable flags or both; commas
 * inside braces stay, so a glob such as `*.{mov,mp4}` is one entry.
 */
import { UsageError } from './errors.js';

export interface WebhookFilters {
  branches?: string[];
  tags?: string[];
  paths?: { include?: string[]; exclude?: string[] };
}

export interface WebhookFlags {
  url?: string;
  /** Raw flag values, each possibly comma-separated. */
  events?: string[];
  /** A new secret, or true on `update --secret` without a value (generate one). */
  secret?: string | true;
  active?: boolean;
  inactive?: boolean;
  branches?: string[];
  tags?: string[];
  pathsInclude?: string[];
  pathsExclude?: string[];
  insecureSsl?: boolean;
}

/** Event subscription of `create` when `--events` is absent, as on GitHub. */
export const DEFAULT_EVENTS = ['push'];

/** Commander argument parser that collects every occurrence of a repeatable flag. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Splits raw flag values at commas outside braces, trims entries and drops empty ones. */
export function splitList(values: string[]): string[] {
  const entries: string[] = [];
  for (const value of values) {
    let depth = 0;
    let current = '';
    for (const char of value) {
      if (char === '{') depth++;
      if (char === '}' && depth > 0) depth--;
      if (char === ',' && depth === 0) {
        entries.push(current);
        current = '';
      } else {
        current += char;
      }
    }
    entries.push(current);
  }
  return entries.map((entry) => entry.trim()).filter((entry) => entry !== '');
}

function hasFilterFlag(flags: WebhookFlags): boolean {
  return [flags.branches, flags.tags, flags.pathsInclude, flags.pathsExclude].some((value) => value !== undefined);
}

/**
 * Applies the filter flags to the current filters. A flag replaces its list;
 * a flag whose value is empty removes that filter. Returns undefined when no
 * filter flag was given and null when no filter remains.
 */
export function mergeFilters(current: WebhookFilters | null, flags: WebhookFlags): WebhookFilters | null | undefined {
  if (!hasFilterFlag(flags)) return undefined;
  const next: WebhookFilters = { ...(current ?? {}) };
  const paths = { ...(current?.paths ?? {}) };
  const apply = <K extends string>(target: Partial<Record<K, string[]>>, key: K, raw: string[] | undefined) => {
    if (raw === undefined) return;
    const list = splitList(raw);
    if (list.length === 0) delete target[key];
    else target[key] = list;
  };
  apply(next, 'branches', flags.branches);
  apply(next, 'tags', flags.tags);
  apply(paths, 'include', flags.pathsInclude);
  apply(paths, 'exclude', flags.pathsExclude);
  if (Object.keys(paths).length > 0) next.paths = paths;
  else delete next.paths;
  return Object.keys(next).length > 0 ? next : null;
}

function eventList(raw: string[]): string[] {
  const events = splitList(raw);
  if (events.length === 0) throw new UsageError('--events needs at least one event name or pattern, such as push,lock.* (see GET /v1/event-types)');
  return events;
}

/**
 * Rejects a filter flag with no entries on `create`, where `--branches ''`
 * (often an unset shell variable) would otherwise create a webhook without
 * that filter. On `update` an empty value removes the filter on purpose.
 */
function rejectEmptyFilterFlags(flags: WebhookFlags): void {
  const filterFlags: [string, string[] | undefined, string][] = [
    ['--branches', flags.branches, 'main,release/*'],
    ['--tags', flags.tags, 'v*'],
    ['--paths-include', flags.pathsInclude, 'assets/**'],
    ['--paths-exclude', flags.pathsExclude, 'tmp/**'],
  ];
  for (const [flag, raw, example] of filterFlags) {
    if (raw !== undefined && splitList(raw).length === 0) {
      throw new UsageError(`${flag} is empty; pass at least one glob, such as ${example}, or leave ${flag} out for no such filter`);
    }
  }
}

/** Builds the body of `POST .../webhooks` from the `create` flags. */
export function createBody(flags: WebhookFlags): Record<string, unknown> {
  if (flags.active === true && flags.inactive === true) throw new UsageError('pass --active or --inactive, not both');
  rejectEmptyFilterFlags(flags);
  const body: Record<string, unknown> = {
    url: flags.url,
    events: flags.events === undefined ? DEFAULT_EVENTS : eventList(flags.events),
    active: flags.inactive !== true,
  };
  if (typeof flags.secret === 'string') body.secret = flags.secret;
  const filters = mergeFilters(null, flags);
  if (filters) body.filters = filters;
  if (flags.insecureSsl !== undefined) body.insecure_ssl = flags.insecureSsl;
  return body;
}

/** Builds the body of `PATCH .../webhooks/{id}` from the `update` flags; `secret` is the new secret, if any. */
export function patchBody(flags: WebhookFlags, currentFilters: WebhookFilters | null, secret: string | undefined): Record<string, unknown> {
  if (flags.active === true && flags.inactive === true) throw new UsageError('pass --active or --inactive, not both');
  const body: Record<string, unknown> = {};
  if (flags.url !== undefined) body.url = flags.url;
  if (flags.events !== undefined) body.events = eventList(flags.events);
  if (flags.active === true) body.active = true;
  if (flags.inactive === true) body.active = false;
  if (secret !== undefined) body.secret = secret;
  const filters = mergeFilters(currentFilters, flags);
  if (filters !== undefined) body.filters = filters;
  if (flags.insecureSsl !== undefined) body.insecure_ssl = flags.insecureSsl;
  if (Object.keys(body).length === 0) {
    throw new UsageError('nothing to update; pass at least one of --url, --events, --active, --inactive, --secret, --branches, --tags, --paths-include, --paths-exclude, --insecure-ssl');
  }
  return body;
}

/** Describes filters in one line, such as `branches main,release/*; paths include assets/**`. */
export function describeFilters(filters: WebhookFilters | null): string {
  if (!filters) return 'none';
  const parts: string[] = [];
  if (filters.branches) parts.push(`branches ${filters.branches.join(',')}`);
  if (filters.tags) parts.push(`tags ${filters.tags.join(',')}`);
  if (filters.paths?.include) parts.push(`paths include ${filters.paths.include.join(',')}`);
  if (filters.paths?.exclude) parts.push(`paths exclude ${filters.paths.exclude.join(',')}`);
  return parts.length > 0 ? parts.join('; ') : 'none';
}
