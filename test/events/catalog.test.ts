import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import formatsPlugin from 'ajv-formats';
import {
  EVENT_NAMES,
  type EventName,
  exampleEventFields,
  getEventType,
  isEventName,
  listEventTypes,
} from '../../src/events/catalog.js';
import { normalizeEventFields, validateEventFields } from '../../src/events/normalize.js';

const CATALOG_ORDER = [
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
];

const REPOSITORY = { id: 123, name: 'my-project', full_name: 'user/my-project', private: false };

/** Creates a separate strict Ajv, so that the test checks the schemas and not the module's cached validators. */
function strictAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  formatsPlugin.default(ajv, ['date-time']);
  return ajv;
}

/** Builds a delivered body the way the server does: envelope first, then the normalized event fields. */
function deliveredBody(name: EventName, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    event: name,
    delivery_id: '3b0f8f6e-5a1c-4d7e-9a53-0c1c2f4b7d10',
    timestamp: '2026-01-02T03:04:05.678Z',
    repository: REPOSITORY,
    ...(fields.sender === undefined ? {} : { sender: fields.sender }),
    ...normalizeEventFields(name, fields, { maxCommitsPerPush: 2048 }),
  };
}

describe('EVENT_NAMES', () => {
  it('lists the 23 catalog names in catalog order', () => {
    assert.deepEqual([...EVENT_NAMES], CATALOG_ORDER);
  });

  const cases: Array<[input: string, expected: boolean]> = [
    ['push', true],
    ['lock.broken', true],
    ['ping', true],
    ['PUSH', false],
    ['lock.*', false],
    ['', false],
    ['push ', false],
    ['__proto__', false],
    ['toString', false],
  ];
  for (const [input, expected] of cases) {
    it(`isEventName(${JSON.stringify(input)}) is ${expected}`, () => {
      assert.equal(isEventName(input), expected);
    });
  }
});

describe('listEventTypes', () => {
  it('returns every name in catalog order', () => {
    assert.deepEqual(
      listEventTypes().map((type) => type.name),
      CATALOG_ORDER,
    );
  });

  it('marks ping and the repo.* events as not ingestible', () => {
    const notIngestible = listEventTypes()
      .filter((type) => !type.ingestible)
      .map((type) => type.name);
    assert.deepEqual(notIngestible, ['repo.created', 'repo.deleted', 'repo.renamed', 'repo.visibility_changed', 'repo.archived', 'ping']);
  });

  it('gives every event a description', () => {
    for (const type of listEventTypes()) assert.ok(type.description.length > 10, type.name);
  });

  it('freezes the schemas', () => {
    const type = listEventTypes()[0];
    assert.ok(Object.isFrozen(type.ingestSchema));
    assert.throws(() => {
      (type.payloadSchema as Record<string, unknown>).title = 'changed';
    }, TypeError);
  });
});

describe('getEventType', () => {
  it('finds a catalog name', () => {
    assert.equal(getEventType('lock.broken')?.name, 'lock.broken');
  });
  for (const name of ['nope', 'constructor', '__proto__', 'Push']) {
    it(`returns undefined for ${JSON.stringify(name)}`, () => {
      assert.equal(getEventType(name), undefined);
    });
  }
});

describe('event schemas', () => {
  const ajv = strictAjv();
  for (const name of EVENT_NAMES) {
    it(`${name} schemas compile and accept the example`, () => {
      const type = getEventType(name);
      assert.ok(type);
      const validateIngest = ajv.compile(type.ingestSchema);
      const validatePayload = ajv.compile(type.payloadSchema);

      const fields = exampleEventFields(name);
      assert.ok(validateIngest(fields), JSON.stringify(validateIngest.errors));
      assert.deepEqual(validateEventFields(name, fields), []);

      const body = deliveredBody(name, fields);
      assert.ok(validatePayload(body), JSON.stringify(validatePayload.errors));
    });
  }

  it('payload schemas require the envelope', () => {
    const type = getEventType('lock.acquired');
    assert.ok(type);
    const validate = strictAjv().compile(type.payloadSchema);
    const body = deliveredBody('lock.acquired', exampleEventFields('lock.acquired'));
    for (const key of ['event', 'delivery_id', 'timestamp', 'repository', 'sender']) {
      const { [key]: _removed, ...rest } = body;
      assert.equal(validate(rest), false, `payload without ${key} must be invalid`);
    }
  });

  it('payload schemas fix the event name', () => {
    const type = getEventType('push');
    assert.ok(type);
    const validate = strictAjv().compile(type.payloadSchema);
    const body = deliveredBody('push', exampleEventFields('push'));
    assert.equal(validate({ ...body, event: 'push.force' }), false);
  });

  it('ingest schemas include sender', () => {
    for (const type of listEventTypes()) {
      const properties = (type.ingestSchema as { properties: Record<string, unknown> }).properties;
      assert.ok(properties.sender, type.name);
    }
  });
});

describe('exampleEventFields', () => {
  it('returns a fresh copy on every call', () => {
    const first = exampleEventFields('push');
    (first.commits as unknown[]).length = 0;
    first.ref = 'refs/heads/changed';
    const second = exampleEventFields('push');
    assert.equal(second.ref, 'refs/heads/main');
    assert.equal((second.commits as unknown[]).length, 1);
  });
});

describe('published payload example', () => {
  // The commit and head_commit shapes of the published push example, with the ids abbreviated as published.
  const publishedFields = {
    sender: { id: 456, login: 'octocat', type: 'user' },
    commits: [{ id: 'abc123...', message: 'Add new footage', author: { name: 'Octocat', email: 'octocat@example.com' } }],
    head_commit: { id: 'abc123...', message: 'Add new footage' },
  };
  const fields = { ...publishedFields, ref: 'refs/heads/main', before: '0'.repeat(64), after: 'abc123...' };

  it('validates as push fields once ref, before and after are added', () => {
    assert.deepEqual(validateEventFields('push', fields), []);
  });

  it('still needs ref, before and after', () => {
    const errors = validateEventFields('push', publishedFields);
    assert.deepEqual(errors.map((error) => error.field).sort(), ['after', 'before', 'ref']);
  });

  it('push body survives handler re-serialization', () => {
    const type = getEventType('push');
    assert.ok(type);
    const body = deliveredBody('push', fields);
    assert.ok(strictAjv().compile(type.payloadSchema)(body));

    const bytes = JSON.stringify(body);
    const parsed = JSON.parse(bytes) as { event: string; repository: { full_name: string }; commits: unknown[] };
    assert.equal(JSON.stringify(parsed), bytes);
    assert.equal(parsed.event, 'push');
    assert.equal(parsed.repository.full_name, 'user/my-project');
    assert.equal(parsed.commits.length, 1);
  });

  it('lock body has handler fields', () => {
    const body = deliveredBody('lock.acquired', exampleEventFields('lock.acquired')) as {
      lock: { path: string };
      sender: { login: string };
    };
    assert.equal(body.lock.path, 'edit.prproj');
    assert.equal(body.sender.login, 'octocat');
  });
});
