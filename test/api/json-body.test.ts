import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseJsonBody } from '../../src/api/json-body.js';
import { ApiError } from '../../src/errors.js';

const parse = (text: string) => parseJsonBody(Buffer.from(text, 'utf8'));

describe('parseJsonBody numbers', () => {
  const accepted: [string, number][] = [
    ['9007199254740991', 9007199254740991],
    ['-9007199254740991.000', -9007199254740991],
    ['9007199254740.991e3', 9007199254740991],
    ['1e21', 1e21],
    ['9007199254741E3', 9007199254741000],
    ['6.02e23', 6.02e23],
    ['1.5', 1.5],
    ['0e400', 0],
    // A negative exponent marks a measured value, which a double rounds like any other.
    ['90071992547409930e-1', 9007199254740992],
  ];
  for (const [literal, value] of accepted) {
    test(`accepts ${literal}`, () => assert.deepEqual(parse(`{"n":${literal}}`), { n: value }));
  }

  const rejected: [string, RegExp][] = [
    ['9007199254740992', /is an integer beyond 2\^53 - 1, which JSON cannot carry exactly/],
    ['9007199254740993.0', /is an integer that a double cannot hold exactly, so JSON.parse would change it/],
    ['-9007199254740993.00', /is an integer that a double cannot hold exactly/],
    ['12345678901234567890e0', /is an integer that a double cannot hold exactly/],
    ['9007199254740993E0', /is an integer that a double cannot hold exactly/],
    ['1e23', /is an integer that a double cannot hold exactly/],
    ['1e999', /is outside the range of a double/],
  ];
  for (const [literal, message] of rejected) {
    test(`rejects ${literal}`, () => {
      assert.throws(() => parse(`{"n":${literal}}`), (error: unknown) => {
        assert.ok(error instanceof ApiError);
        assert.equal(error.code, 'invalid_number');
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

describe('parseJsonBody keys', () => {
  const protoKeys = ['{"__proto__":{}}', '{"a":{"\\u005f_proto__":1}}', '{"\\u005F\\u005Fproto\\u005f\\u005f":1}', '[{"__pr\\u006fto__":1}]'];
  for (const text of protoKeys) {
    test(`rejects ${text}`, () => assert.throws(() => parse(text), /uses the key "__proto__", which is not allowed; rename the key/));
  }

  test('accepts escapes in other keys', () => assert.deepEqual(parse('{"caf\\u00e9":1}'), { 'café': 1 }));
});
