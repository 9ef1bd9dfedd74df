import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVENT_NAMES } from '../../src/events/catalog.js';
import {
  MAX_EVENT_PATTERNS,
  compileEventPatterns,
  matchingEventNames,
  validateEventPattern,
  validateEventPatterns,
} from '../../src/events/patterns.js';

const VALID_FORMS = /Use an event name such as "lock.acquired", "\*" for every event, a prefix pattern such as "lock.\*" or a suffix pattern such as "\*.deleted"/;

describe('validateEventPattern accepts', () => {
  const valid = ['push', 'push.tag', 'ping', 'repo.visibility_changed', '*', 'lock.*', 'push.*', 'repo.*', 'comment.*', '*.deleted', '*.created', '*.role_changed', '*.tag'];
  for (const pattern of valid) {
    it(JSON.stringify(pattern), () => {
      assert.equal(validateEventPattern(pattern), null);
    });
  }
});

describe('validateEventPattern rejects', () => {
  const cases: Array<[pattern: string, expected: RegExp]> = [
    ['lo*k', /^"lo\*k" is not a valid event pattern because a wildcard must be a whole dot-separated segment/],
    ['lock*', /^"lock\*" is not a valid event pattern because a wildcard must be a whole/],
    ['*lock', /^"\*lock" is not a valid event pattern because a wildcard must be a whole/],
    ['lock.acq*', /wildcard must be a whole dot-separated segment/],
    ['**', /wildcard must be a whole dot-separated segment/],
    ['*.*', /only one wildcard is allowed/],
    ['lock.*.x', /only one wildcard is allowed, and only as the first or last segment/],
    ['repo.*.changed', /only one wildcard is allowed/],
    ['lock..*', /^"lock\.\.\*" is not a valid event pattern because it has an empty segment/],
    ['*.', /empty segment/],
    ['.*', /empty segment/],
    ['lock.', /^"lock\." matches no event type/],
    ['.deleted', /matches no event type/],
    ['nope', /^"nope" matches no event type/],
    ['nope.*', /^"nope\.\*" matches no event type/],
    ['*.nope', /matches no event type/],
    ['lock.acquired.*', /matches no event type/],
    ['push ', /matches no event type/],
    ['', /got an empty string/],
    ['x'.repeat(101), /is longer than 100 characters/],
    ['Push', /^"Push" matches no event type because event names are lowercase\. Use "push"\.$/],
    ['LOCK.*', /Use "lock\.\*"/],
  ];
  for (const [pattern, expected] of cases) {
    it(JSON.stringify(pattern.length > 20 ? `${pattern.slice(0, 20)}...` : pattern), () => {
      const message = validateEventPattern(pattern);
      assert.ok(message !== null, 'expected a message');
      assert.match(message, expected);
    });
  }

  it('lists the valid forms for a syntax error', () => {
    assert.match(validateEventPattern('lo*k') ?? '', VALID_FORMS);
  });

  it('lists every catalog name when nothing matches', () => {
    const message = validateEventPattern('nope') ?? '';
    assert.match(message, VALID_FORMS);
    for (const name of EVENT_NAMES) assert.ok(message.includes(name), `message lacks ${name}`);
  });
});

describe('matchingEventNames', () => {
  const cases: Array<[pattern: string, expected: string[]]> = [
    ['push', ['push']],
    ['push.*', ['push.tag', 'push.force']],
    ['lock.*', ['lock.acquired', 'lock.released', 'lock.expired', 'lock.broken']],
    ['*.deleted', ['repo.deleted', 'branch.deleted', 'tag.deleted', 'comment.deleted']],
    ['*.created', ['repo.created', 'branch.created', 'tag.created', 'comment.created']],
    ['*.tag', ['push.tag']],
    ['*', [...EVENT_NAMES]],
    ['nope', []],
    ['lo*k', []],
  ];
  for (const [pattern, expected] of cases) {
    it(JSON.stringify(pattern), () => {
      assert.deepEqual(matchingEventNames(pattern), expected);
    });
  }
});

describe('validateEventPatterns', () => {
  const cases: Array<[name: string, input: unknown, expected: Array<[field: string, message: RegExp]>]> = [
    ['valid list', ['push', 'repo.created', 'lock.*'], []],
    ['string instead of array', 'push', [['events', /expected an array of event names or patterns .* got the string "push"/]]],
    ['null', null, [['events', /got null/]]],
    ['object', { push: true }, [['events', /got an object/]]],
    ['empty array', [], [['events', /expected at least one event name or pattern, got an empty array\. Use \["\*"\]/]]],
    ['too many entries', Array.from({ length: MAX_EVENT_PATTERNS + 1 }, () => 'push'), [['events', /expected at most 100 entries, got 101/]]],
    ['number entry', ['push', 5], [['events[1]', /expected an event name or pattern as a string, got the number 5/]]],
    ['unknown entry', ['push', 'repo.created', 'nope'], [['events[2]', /"nope" matches no event type.*Valid event names: push, push.tag/]]],
    ['wildcard inside a segment', ['lo*k'], [['events[0]', /a wildcard must be a whole dot-separated segment/]]],
    ['duplicate', ['push', 'lock.*', 'push'], [['events[2]', /"push" repeats events\[0\]\. List each entry once\./]]],
    [
      'several problems',
      ['nope', 7, 'push', 'push'],
      [
        ['events[0]', /matches no event type/],
        ['events[1]', /got the number 7/],
        ['events[3]', /repeats events\[2\]/],
      ],
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const errors = validateEventPatterns(input);
      assert.deepEqual(
        errors.map((error) => error.field),
        expected.map(([field]) => field),
      );
      expected.forEach(([, message], index) => assert.match(errors[index].message, message));
    });
  }

  it('accepts the published example', () => {
    assert.deepEqual(validateEventPatterns(['push', 'repo.created']), []);
  });
});

describe('compileEventPatterns', () => {
  const cases: Array<[patterns: string[], matched: string[]]> = [
    [['push'], ['push']],
    [['push', 'repo.created'], ['push', 'repo.created']],
    [['lock.*'], ['lock.acquired', 'lock.released', 'lock.expired', 'lock.broken']],
    [['lock.*', 'lock.acquired', '*.broken'], ['lock.acquired', 'lock.released', 'lock.expired', 'lock.broken']],
    [['*.deleted', 'repo.*'], ['repo.created', 'repo.deleted', 'repo.renamed', 'repo.visibility_changed', 'repo.archived', 'branch.deleted', 'tag.deleted', 'comment.deleted']],
    [['*'], [...EVENT_NAMES]],
    [['ping'], ['ping']],
    [['nope', 'push'], ['push']],
  ];
  for (const [patterns, matched] of cases) {
    it(JSON.stringify(patterns), () => {
      const matches = compileEventPatterns(patterns);
      assert.deepEqual(
        EVENT_NAMES.filter((name) => matches(name)),
        matched,
      );
    });
  }

  it('matches no name outside the catalog', () => {
    const matches = compileEventPatterns(['*']);
    for (const name of ['nope', 'lock.', '', 'PUSH']) assert.equal(matches(name), false, name);
  });

  it('matches ping with * although pings do not depend on patterns', () => {
    assert.equal(compileEventPatterns(['*'])('ping'), true);
    assert.equal(compileEventPatterns(['push'])('ping'), false);
  });
});
