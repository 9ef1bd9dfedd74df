import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deliveryQuery } from '../../src/cli/commands/deliveries.js';
import { parsePort } from '../../src/cli/commands/listen.js';
import { parseScopes } from '../../src/cli/commands/tokens.js';
import { parseSecret, parseTolerance, runChecks } from '../../src/cli/commands/verify.js';
import { UsageError } from '../../src/cli/errors.js';
import { buildEventBody, parseFieldFlag, parseFieldValue } from '../../src/cli/event-fields.js';
import { parseFullName, parseId, parseRepoReference } from '../../src/cli/references.js';
import { createBody, describeFilters, mergeFilters, patchBody, splitList } from '../../src/cli/webhook-flags.js';

function throwsUsage(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

describe('splitList', () => {
  const cases: [string[], string[]][] = [
    [['push,lock.*'], ['push', 'lock.*']],
    [['push', 'lock.*'], ['push', 'lock.*']],
    [[' push , ,tag.created '], ['push', 'tag.created']],
    [['*.{mov,mp4},assets/**'], ['*.{mov,mp4}', 'assets/**']],
    [['a{b,{c,d}},e'], ['a{b,{c,d}}', 'e']],
    [[''], []],
  ];
  for (const [input, expected] of cases) {
    test(JSON.stringify(input), () => assert.deepEqual(splitList(input), expected));
  }
});

describe('mergeFilters', () => {
  const current = { branches: ['main'], paths: { include: ['assets/**'], exclude: ['tmp/**'] } };
  const cases: { name: string; flags: Parameters<typeof mergeFilters>[1]; expected: ReturnType<typeof mergeFilters> }[] = [
    { name: 'no filter flag', flags: {}, expected: undefined },
    { name: 'replace branches', flags: { branches: ['release/*'] }, expected: { branches: ['release/*'], paths: { include: ['assets/**'], exclude: ['tmp/**'] } } },
    { name: 'add tags', flags: { tags: ['v*'] }, expected: { ...current, tags: ['v*'] } },
    { name: 'remove exclude', flags: { pathsExclude: [''] }, expected: { branches: ['main'], paths: { include: ['assets/**'] } } },
    { name: 'remove paths', flags: { pathsExclude: [''], pathsInclude: [''] }, expected: { branches: ['main'] } },
    { name: 'remove all', flags: { pathsExclude: [''], pathsInclude: [''], branches: [''] }, expected: null },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(mergeFilters(current, c.flags), c.expected));
  }
});

describe('webhook bodies', () => {
  test('create defaults to push and active', () => {
    assert.deepEqual(createBody({ url: 'http://127.0.0.1/h' }), { url: 'http://127.0.0.1/h', events: ['push'], active: true });
  });

  test('create with every flag', () => {
    const body = createBody({ url: 'u', events: ['push,lock.*'], secret: 's', inactive: true, tags: ['v*'], insecureSsl: true });
    assert.deepEqual(body, { url: 'u', events: ['push', 'lock.*'], active: false, secret: 's', filters: { tags: ['v*'] }, insecure_ssl: true });
  });

  test('patch sends only given flags', () => {
    assert.deepEqual(patchBody({ active: true, insecureSsl: false }, null, undefined), { active: true, insecure_ssl: false });
    assert.deepEqual(patchBody({ inactive: true }, null, 'new-secret'), { active: false, secret: 'new-secret' });
  });

  const rejected: [string, () => unknown, RegExp][] = [
    ['empty events', () => createBody({ url: 'u', events: [' , '] }), /--events needs at least one event name/],
    ['active and inactive', () => patchBody({ active: true, inactive: true }, null, undefined), /pass --active or --inactive, not both/],
    ['empty patch', () => patchBody({}, null, undefined), /nothing to update/],
    ['empty --branches on create', () => createBody({ url: 'u', branches: [''] }), /^--branches is empty; pass at least one glob, such as main,release\/\*, or leave --branches out/],
    ['blank --tags on create', () => createBody({ url: 'u', tags: [' , '] }), /^--tags is empty; pass at least one glob, such as v\*/],
    ['empty --paths-include on create', () => createBody({ url: 'u', pathsInclude: [''] }), /^--paths-include is empty; pass at least one glob/],
    ['empty --paths-exclude on create', () => createBody({ url: 'u', pathsExclude: ['', ''] }), /^--paths-exclude is empty; pass at least one glob/],
  ];
  for (const [name, fn, message] of rejected) {
    test(`rejects ${name}`, () => throwsUsage(fn, message));
  }

  test('patch with empty filter removes it', () => {
    assert.deepEqual(patchBody({ branches: [''] }, { branches: ['main'], tags: ['v*'] }, undefined), { filters: { tags: ['v*'] } });
  });

  test('describeFilters', () => {
    assert.equal(describeFilters(null), 'none');
    assert.equal(describeFilters({ branches: ['main'], paths: { exclude: ['tmp/**'] } }), 'branches main; paths exclude tmp/**');
  });
});

describe('emit fields', () => {
  const values: [string, unknown][] = [
    ['edit.prproj', 'edit.prproj'],
    ['42', 42],
    ['true', true],
    ['null', null],
    ['"42"', '42'],
    ['{"login":"alice"}', { login: 'alice' }],
    ['[1,2]', [1, 2]],
    ['0000', '0000'],
    ['12345678901234567890', '12345678901234567890'],
    ['9007199254740993.0', '9007199254740993.0'],
    ['[1, 9.007199254740993e15]', '[1, 9.007199254740993e15]'],
    ['0.10000000000000001', 0.1],
    ['6.02e23', 6.02e23],
    ['refs/heads/main', 'refs/heads/main'],
    ['', ''],
  ];
  for (const [raw, expected] of values) {
    test(`value ${JSON.stringify(raw)}`, () => assert.deepEqual(parseFieldValue(raw), expected));
  }

  test('dotted keys nest and later fields win', () => {
    const body = buildEventBody({
      event: 'lock.acquired',
      file: { lock: { id: 1, path: 'old.prproj' }, sender: { login: 'file-user' } },
      fields: ['lock.path=edit.prproj', 'lock.owner.login=alice', 'a.b=1', 'a.c=x=y'],
      sender: 'bob',
      defaultSender: 'local',
    });
    assert.deepEqual(body, { event: 'lock.acquired', lock: { id: 1, path: 'edit.prproj', owner: { login: 'alice' } }, sender: { login: 'bob' }, a: { b: 1, c: 'x=y' } });
  });

  test('default sender applies only when no source sets one', () => {
    assert.deepEqual(buildEventBody({ event: 'push', fields: [], defaultSender: 'local' }).sender, { login: 'local' });
    assert.deepEqual(buildEventBody({ event: 'push', fields: ['sender.login=x'], defaultSender: 'local' }).sender, { login: 'x' });
  });

  const rejected: [string, () => unknown, RegExp][] = [
    ['no equals sign', () => parseFieldFlag('lock.path'), /--field must look like key=value/],
    ['empty key', () => parseFieldFlag('=x'), /--field must look like key=value/],
    ['empty segment', () => parseFieldFlag('lock..path=x'), /has an empty segment/],
    ['prototype key', () => parseFieldFlag('__proto__.x=1'), /reserved name __proto__/],
    ['path through a value', () => buildEventBody({ event: 'push', fields: ['lock=1', 'lock.path=x'] }), /needs lock to be an object, but it is already 1/],
    ['file that is not an object', () => buildEventBody({ event: 'push', file: [1], fields: [] }), /--file must contain a JSON object/],
    ['file naming another event', () => buildEventBody({ event: 'push', file: { event: 'lock.acquired' }, fields: [] }), /--file names event "lock\.acquired" but the command emits push/],
    ['field naming the event', () => buildEventBody({ event: 'push', fields: ['event=tag.created'] }), /--field event would change the event type, which is the first argument of emit \(here push\)/],
    ['sender set twice', () => buildEventBody({ event: 'push', fields: ['sender.login=bob'], sender: 'alice' }), /--sender and --field sender\.login both set the sender/],
  ];
  for (const [name, fn, message] of rejected) {
    test(`rejects ${name}`, () => throwsUsage(fn, message));
  }
});

describe('small parsers', () => {
  test('repository references', () => {
    assert.deepEqual(parseRepoReference('12'), { kind: 'id', id: 12 });
    assert.deepEqual(parseRepoReference('alice/film.v2'), { kind: 'name', owner: 'alice', name: 'film.v2' });
    throwsUsage(() => parseRepoReference('alice'), /neither an id nor owner\/name/);
    throwsUsage(() => parseRepoReference('a/b/c'), /neither an id nor owner\/name/);
    throwsUsage(() => parseRepoReference('0'), /repository must be a positive integer id/);
  });

  test('full names for repo create', () => {
    assert.deepEqual(parseFullName('alice/film.v2'), { owner: 'alice', name: 'film.v2' });
    for (const value of ['noslash', '12', '0', 'a/b/c']) {
      throwsUsage(() => parseFullName(value), new RegExp(`^repository "${value}" is not owner/name; pass the owner login and repository name, such as alice/film `));
    }
  });

  test('ids', () => {
    assert.equal(parseId('7', 'webhook'), 7);
    throwsUsage(() => parseId('7x', 'webhook'), /webhook must be a positive integer id, got "7x"/);
    throwsUsage(() => parseId('99999999999999999', 'token'), /token must be a positive integer id/);
  });

  test('delivery list flags', () => {
    assert.deepEqual(deliveryQuery({ status: 'failed', event: 'push', limit: '100' }), { status: 'failed', event: 'push', limit: '100', cursor: undefined });
    throwsUsage(() => deliveryQuery({ status: 'done' }), /--status must be one of pending, delivered, retrying, failed, cancelled/);
    throwsUsage(() => deliveryQuery({ limit: '0' }), /--limit must be a page size from 1 to 100/);
    throwsUsage(() => deliveryQuery({ limit: '101' }), /--limit must be a page size from 1 to 100/);
  });

  test('ports', () => {
    assert.equal(parsePort('0'), 0);
    assert.equal(parsePort('65535'), 65535);
    throwsUsage(() => parsePort('65536'), /--port must be a TCP port from 0 to 65535/);
    throwsUsage(() => parsePort('-1'), /--port must be a TCP port/);
  });

  test('tolerance', () => {
    assert.equal(parseTolerance('300'), 300);
    assert.equal(parseTolerance('0'), Infinity);
    throwsUsage(() => parseTolerance('5m'), /--tolerance must be a whole number of seconds/);
  });

  test('secret flag', () => {
    assert.equal(parseSecret('whsec_abc'), 'whsec_abc');
    throwsUsage(() => parseSecret(''), /^--secret is empty; pass the webhook secret/);
    throwsUsage(() => parseSecret(' \t'), /^--secret is empty; pass the webhook secret/);
    const flags = { secret: 's'.repeat(20), bodyFile: '-', tolerance: '300' };
    throwsUsage(() => runChecks({ ...flags, webhookId: '', webhookTimestamp: '1', webhookSignature: 'v1,x' }, Buffer.from('{}')), /^--webhook-id is empty; pass the webhook-id header value/);
    throwsUsage(() => runChecks({ ...flags, signature: ' ' }, Buffer.from('{}')), /^--signature is empty; pass the X-Hub-Signature-256 header value/);
  });

  test('scopes', () => {
    assert.deepEqual(parseScopes('read,events:write,read'), ['read', 'events:write']);
    throwsUsage(() => parseScopes('read,owner'), /--scopes entry "owner" is not a scope; use admin, write, events:write, read/);
    throwsUsage(() => parseScopes(','), /--scopes needs at least one of/);
  });
});
