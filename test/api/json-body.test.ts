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
    ['-0.0', -0],
    // JSON.stringify writes 1e+23, the number sent, although the double itself is not 10^23.
    ['1e23', 1e23],
    ['0.1', 0.1],
    ['0.30000000000000004', 0.30000000000000004],
    ['1.7976931348623157e308', Number.MAX_VALUE],
    ['5e-324', 5e-324],
    // Below 2^53 only digits of a fraction change, as with any floating-point number.
    ['0.10000000000000001', 0.1],
    ['0.10000000000000000001', 0.1],
    ['2.5e-324', 5e-324],
  ];
  for (const [literal, value] of accepted) {
    test(`accepts ${literal}`, () => assert.deepEqual(parse(`{"n":${literal}}`), { n: value }));
  }

  const rejected: [string, RegExp][] = [
    ['9007199254740992', /is an integer beyond 2\^53 - 1, which JSON cannot carry exactly/],
    ['9007199254740993.0', /would become 9007199254740992 in a double, which cannot hold it exactly; send it as a string/],
    ['-9007199254740993.00', /would become -9007199254740992 in a double/],
    ['12345678901234567890e0', /would become 12345678901234567000 in a double/],
    ['9007199254740993E0', /would become 9007199254740992 in a double/],
    ['9.007199254740993e15', /would become 9007199254740992 in a double/],
    ['90071992547409930e-1', /would become 9007199254740992 in a double/],
    ['9007199254740993.5', /would become 9007199254740994 in a double/],
    ['12345678901234567890.5', /would become 12345678901234567000 in a double/],
    // The fraction carries the integer part up to 2^53.
    ['9007199254740991.9', /would become 9007199254740992 in a double/],
    ['1e-400', /is too close to 0 for a double, which would make it 0/],
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

describe('parseJsonBody long numbers', () => {
  test('long literals are cut in the message', () => {
    assert.throws(() => parse(`{"n":${'9'.repeat(100_000)}}`), /^ApiError: Number 9{40}… \(100000 characters\) at byte offset 5 is an integer beyond 2\^53 - 1/);
  });

  test('16-digit integers compare exactly', () => {
    assert.deepEqual(parse('{"n":9007199254740991}'), { n: 9007199254740991 });
    assert.throws(() => parse('{"n":9007199254740992}'), /is an integer beyond 2\^53 - 1/);
  });

  test('zero runs inside a number pass', () => {
    // A run of zeros between other digits once made a regular expression backtrack for seconds.
    assert.deepEqual(parse(`{"n":1.${'0'.repeat(200_000)}1}`), { n: 1 });
    assert.deepEqual(parse(`{"n":1${'0'.repeat(200_000)}e-200000}`), { n: 1 });
  });
});

describe('parseJsonBody malformed numbers', () => {
  for (const literal of ['-', '-a', '1e', '1e+', '--1', '1.5.5', '-Infinity', '01', '.5', '1.']) {
    test(`reports ${literal} as a syntax error`, () => {
      assert.throws(() => parse(`{"n":${literal}}`), (error: unknown) => {
        assert.ok(error instanceof ApiError);
        assert.equal(error.code, 'invalid_json');
        assert.match(error.message, /^Request body is not valid JSON/);
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
