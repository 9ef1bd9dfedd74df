/**
 * JSON Schema building blocks shared by the event schemas. Every schema here is
 * draft-07, the dialect that the default Ajv 8 class compiles. Objects leave
 * `additionalProperties` open so that senders and receivers can add fields
 * without breaking older peers, but every declared property is type-checked.
 */

/** A JSON Schema object. Booleans are schemas too, but the catalog only uses them for forbidden keys. */
export type JsonSchema = { [keyword: string]: unknown };

export const JSON_SCHEMA_DIALECT = 'http://json-schema.org/draft-07/schema#';

/** Builds an object schema that type-checks `properties` and leaves other keys open. */
export function objectSchema(properties: Record<string, JsonSchema | boolean>, required: string[] = [], description?: string): JsonSchema {
  const schema: JsonSchema = { type: 'object' };
  if (description !== undefined) schema.description = description;
  schema.properties = properties;
  if (required.length > 0) schema.required = required;
  return schema;
}

/** Positive integer ids stay within 2^53 - 1 so that every JSON parser reads them exactly. */
export const positiveIntegerSchema: JsonSchema = {
  type: 'integer',
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'a positive integer no larger than 2^53 - 1',
};

export const countSchema: JsonSchema = {
  type: 'integer',
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'a non-negative integer no larger than 2^53 - 1',
};

/** Ids that some sources issue as numbers and others as strings (lock ids, comment ids, webhook ids). */
export const integerOrStringIdSchema: JsonSchema = {
  type: ['integer', 'string'],
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  minLength: 1,
  maxLength: 256,
  description: 'a positive integer or a string of 1 to 256 characters',
};

export const nonEmptyStringSchema: JsonSchema = { type: 'string', minLength: 1, description: 'a non-empty string' };

export const dateTimeSchema: JsonSchema = {
  type: 'string',
  format: 'date-time',
  description: 'an RFC 3339 date-time with a time zone, such as 2026-01-02T03:04:05Z',
};

export const nullableDateTimeSchema: JsonSchema = {
  type: ['string', 'null'],
  format: 'date-time',
  description: 'an RFC 3339 date-time with a time zone, such as 2026-01-02T03:04:05Z, or null',
};

/**
 * Commit and object ids. Dits writes 64 lowercase hex characters (BLAKE3), Git
 * writes 40 or 64. A string of zeros of any length means "no commit", as in the
 * `before` of a push that creates a ref and the `after` of a push that deletes it.
 */
export const objectIdSchema: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  description: 'a commit id of 1 to 128 characters (64 lowercase hex characters in Dits, 40 in Git), all zeros for no commit',
};

/**
 * Control characters, the twelve bidirectional controls (marks, embeddings,
 * overrides, isolates) and the line and paragraph separators, as a regular
 * expression character class body. The controls change how the text around
 * them reads.
 */
const REJECTED_CHARACTERS = String.raw`\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069`;

/**
 * The name after `refs/`, `refs/heads/` or `refs/tags/`: a path of ref files
 * under `.dits/refs`, so no empty, `.` or `..` part, and none of the
 * REJECTED_CHARACTERS. Dits sets no stricter rule, and names with spaces or
 * accents occur, so every other character is accepted.
 */
const REF_NAME = String.raw`(?!(?:[^/]*/)*\.{1,2}(?:/|$))(?!.*//)(?!.*/$)[^${REJECTED_CHARACTERS}]+`;
const REF_RULES = 'without control characters, bidirectional controls, empty, "." or ".." parts, or a "/" at the end';
const WHOLE_REF_NAME = new RegExp(`^${REF_NAME}$`, 'u');

/**
 * The path of a locked file as Dits recorded it: the path its user typed,
 * usually relative to the repository, but also `./a.mov` or an absolute
 * path inside the working copy. Only the REJECTED_CHARACTERS are rejected.
 */
export const lockPathSchema: JsonSchema = {
  type: 'string',
  minLength: 1,
  pattern: `^[^${REJECTED_CHARACTERS}]+$`,
  description: 'the path of the locked file as Dits recorded it, such as scenes/intro.prproj, without control characters or bidirectional controls',
};

/** Tells whether `name`, the part after `refs/heads/` or `refs/tags/`, is a ref name that ingestion accepts. */
export function isValidRefName(name: string): boolean {
  return WHOLE_REF_NAME.test(name);
}

/** A branch name without `refs/heads/`, such as a repository's default branch, under the rules of every ref name. */
export const branchNameSchema: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  // A name that starts with refs/ is almost always a full ref given by mistake, so it is rejected.
  pattern: `^(?!refs/)${REF_NAME}$`,
  description: `a short branch name such as main or release/1.0, without refs/heads/, ${REF_RULES}`,
};

export const refSchema: JsonSchema = {
  type: 'string',
  pattern: `^refs/${REF_NAME}$`,
  description: `a full ref name such as refs/heads/main or refs/tags/v1.0, ${REF_RULES}`,
};

export const branchRefSchema: JsonSchema = {
  type: 'string',
  pattern: `^refs/heads/${REF_NAME}$`,
  description: `a branch ref such as refs/heads/main, ${REF_RULES}`,
};

export const tagRefSchema: JsonSchema = {
  type: 'string',
  pattern: `^refs/tags/${REF_NAME}$`,
  description: `a tag ref such as refs/tags/v1.0, ${REF_RULES}`,
};

export const ACCOUNT_TYPES = ['user', 'bot', 'organization'] as const;

/** A Dits account: the sender of an event, a lock owner, a member. */
export const accountSchema: JsonSchema = objectSchema(
  {
    id: positiveIntegerSchema,
    login: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      pattern: '^[^\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]+$',
      description: 'a login of 1 to 100 characters without control characters, bidirectional controls or line separators',
    },
    type: { type: 'string', enum: [...ACCOUNT_TYPES], description: 'one of user, bot, organization' },
  },
  ['login'],
  'an account object with a login of 1 to 100 characters',
);

export const senderSchema: JsonSchema = { ...accountSchema, description: 'an account object with a login of 1 to 100 characters, for the account that caused the event' };

/** Author or committer of a commit. Git allows an empty or absent email, so null is accepted. */
const gitIdentitySchema: JsonSchema = objectSchema(
  {
    name: { type: 'string', description: 'a string' },
    email: { type: ['string', 'null'], description: 'a string or null' },
    date: dateTimeSchema,
    username: { type: 'string', description: 'a string' },
  },
  ['name', 'email'],
  'an object with name and email',
);

const pathListSchema: JsonSchema = {
  type: 'array',
  items: nonEmptyStringSchema,
  description: 'an array of repository-relative file paths',
};

const commitProperties: Record<string, JsonSchema> = {
  id: objectIdSchema,
  message: { type: 'string', description: 'a string' },
  timestamp: dateTimeSchema,
  author: gitIdentitySchema,
  committer: gitIdentitySchema,
  added: pathListSchema,
  modified: pathListSchema,
  removed: pathListSchema,
};

/** A commit as a client sends it: the file lists may be absent and default to empty arrays. */
export const ingestCommitSchema: JsonSchema = objectSchema(commitProperties, ['id', 'message', 'author'], 'a commit object with id, message and author');

/** A commit as delivered: the file lists are always present. */
export const deliveredCommitSchema: JsonSchema = objectSchema(
  commitProperties,
  ['id', 'message', 'author', 'added', 'modified', 'removed'],
  'a commit object with id, message, author, added, modified and removed',
);

/**
 * `head_commit` needs only `id` and `message`, so the abbreviated form
 * `{"id": "...", "message": "..."}` used in published payload examples stays valid.
 */
export const headCommitSchema: JsonSchema = {
  type: ['object', 'null'],
  description: 'a commit object with at least id and message (the newest commit of the push), or null when the push has no commits',
  properties: commitProperties,
  required: ['id', 'message'],
};

/** The repository block that the server adds to every delivered payload. */
export const repositorySchema: JsonSchema = objectSchema(
  {
    id: positiveIntegerSchema,
    name: nonEmptyStringSchema,
    full_name: { type: 'string', minLength: 3, description: 'a string of the form owner/name' },
    private: { type: 'boolean', description: 'a boolean' },
    owner: { type: ['string', 'object'], description: 'the owner login, or an account object' },
    description: { type: ['string', 'null'], description: 'a string or null' },
    default_branch: nonEmptyStringSchema,
    archived: { type: 'boolean', description: 'a boolean' },
    created_at: dateTimeSchema,
    updated_at: dateTimeSchema,
  },
  ['id', 'name', 'full_name', 'private'],
  'an object for the repository the event belongs to',
);

/** Builds the schema of a `changes` entry such as `{"name": {"from": "old"}}`, which contains the previous value of one field. */
export function changesSchema(field: string, fromSchema: JsonSchema): JsonSchema {
  return objectSchema(
    { [field]: objectSchema({ from: fromSchema }, ['from'], `an object with the previous ${field} in from`) },
    [field],
    `an object {"${field}": {"from": ...}} with the previous value of ${field}`,
  );
}
