/**
 * The event catalog: the fixed list of event names, what each means, and the
 * JSON Schemas of what a client ingests and what a receiver gets.
 */
import { buildIngestSchema, buildPayloadSchema } from './schemas.js';
import { EXAMPLE_EVENT_FIELDS } from './examples.js';

/** Every event name, in catalog order. Names are part of the public contract and never change. */
export const EVENT_NAMES = [
  'push',
  'push.tag',
  'push.force',
  'repo.created',
  'repo.deleted',
  'repo.renamed',
  'repo.visibility_changed',
  'repo.archived',
  'branch.created',
  'branch.deleted',
  'tag.created',
  'tag.deleted',
  'lock.acquired',
  'lock.released',
  'lock.expired',
  'lock.broken',
  'member.added',
  'member.removed',
  'member.role_changed',
  'comment.created',
  'comment.updated',
  'comment.deleted',
  'ping',
] as const;

export type EventName = (typeof EVENT_NAMES)[number];

export interface EventType {
  name: EventName;
  description: string;
  /**
   * Whether clients may send this event to `POST /v1/repos/{id}/events`.
   * The server alone sends `ping`, to one webhook when it is created active
   * or when a ping is requested, and the `repo.*` events, when a repository
   * changes through `/v1/repos`: an ingested `repo.deleted` would announce a
   * deletion that did not happen.
   */
  ingestible: boolean;
  /** JSON Schema (draft-07) of the ingestion body minus `event`, including `sender`. */
  ingestSchema: object;
  /** JSON Schema (draft-07) of the whole delivered body: event, delivery_id, timestamp, repository, sender, then the event fields. */
  payloadSchema: object;
}

const DESCRIPTIONS: Readonly<Record<EventName, string>> = {
  push: 'Commits were pushed to a branch, or a branch was created or deleted by a push.',
  'push.tag': 'A tag ref was pushed, created or deleted by a push.',
  'push.force': 'A push rewrote history: the old head is not an ancestor of the new one.',
  'repo.created': 'A repository was created.',
  'repo.deleted': 'A repository was deleted.',
  'repo.renamed': 'A repository was renamed; changes.name.from holds the old name.',
  'repo.visibility_changed': 'A repository became private or public; changes.private.from holds the old value.',
  'repo.archived': 'A repository was archived (archived is true) or unarchived (archived is false).',
  'branch.created': 'A branch was created.',
  'branch.deleted': 'A branch was deleted.',
  'tag.created': 'A tag was created.',
  'tag.deleted': 'A tag was deleted.',
  'lock.acquired': 'A file lock was taken.',
  'lock.released': 'A file lock was released by its owner.',
  'lock.expired': 'A file lock passed its expires_at time.',
  'lock.broken': 'A file lock was broken by someone other than its owner; broken_by names who.',
  'member.added': 'An account was given access to a repository.',
  'member.removed': 'An account lost access to a repository.',
  'member.role_changed': "A member's role changed; changes.role.from holds the old role.",
  'comment.created': 'A comment was added to a commit or file.',
  'comment.updated': 'A comment was edited; changes.body.from holds the old body.',
  'comment.deleted': 'A comment was deleted.',
  ping: 'A test delivery that the server sends when a webhook is created active or when a ping is requested.',
};

const EVENT_NAME_SET: ReadonlySet<string> = new Set(EVENT_NAMES);

export function isEventName(name: string): name is EventName {
  return EVENT_NAME_SET.has(name);
}

/** Reports whether clients may ingest the event, as `EventType.ingestible` describes. */
function isIngestible(name: EventName): boolean {
  return name !== 'ping' && !name.startsWith('repo.');
}

/** The event names that clients may ingest, in catalog order. */
export const INGESTIBLE_EVENT_NAMES: readonly EventName[] = EVENT_NAMES.filter(isIngestible);

/** Freezes a schema tree so that no caller can change the contract that validators were compiled from. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function buildEventType(name: EventName): EventType {
  const description = DESCRIPTIONS[name];
  return deepFreeze({
    name,
    description,
    ingestible: isIngestible(name),
    ingestSchema: buildIngestSchema(name, description),
    payloadSchema: buildPayloadSchema(name, description),
  });
}

const EVENT_TYPES: ReadonlyMap<string, EventType> = new Map(EVENT_NAMES.map((name) => [name, buildEventType(name)]));

/** Returns the catalog in catalog order. The entries and their schemas are frozen. */
export function listEventTypes(): EventType[] {
  return EVENT_NAMES.map((name) => EVENT_TYPES.get(name) as EventType);
}

export function getEventType(name: string): EventType | undefined {
  return EVENT_TYPES.get(name);
}

/**
 * Returns a fresh copy of a valid ingestion body for `name`, minus `event`:
 * sender plus the event fields. Tests and documentation build on it, and the
 * caller may change the copy freely.
 */
export function exampleEventFields(name: EventName): Record<string, unknown> {
  return structuredClone(EXAMPLE_EVENT_FIELDS[name]);
}
