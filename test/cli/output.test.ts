import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeNetworkError, hintForError } from '../../src/cli/client.js';
import { ApiCallError, CliError, formatFailure } from '../../src/cli/errors.js';
import { cell, formatFields, formatTable, formatTime, sanitize } from '../../src/cli/output.js';

describe('formatTable', () => {
  test('aligns columns without trailing spaces', () => {
    const table = formatTable(['id', 'full name', 'visibility'], [
      ['1', 'alice/film', 'public'],
      ['12', 'bob/x', 'private'],
    ]);
    assert.equal(table, 'ID  FULL NAME   VISIBILITY\n1   alice/film  public\n12  bob/x       private\n');
  });

  test('escapes control characters in cells', () => {
    assert.equal(formatTable(['a'], [['x\u001b[31my']]), 'A\nx\\u001b[31my\n');
  });
});

describe('sanitize', () => {
  const cases: [string, boolean, string][] = [
    ['plain', false, 'plain'],
    ['a\nb', false, 'a\\u000ab'],
    ['a\nb\tc', true, 'a\nb\tc'],
    ['\u001b[2J', true, '\\u001b[2J'],
    ['\u009b', false, '\\u009b'],
    ['ünïcødé', false, 'ünïcødé'],
    ['abc\u202edef', false, 'abc\\u202edef'],
    ['a\u2066b\u2069', true, 'a\\u2066b\\u2069'],
  ];
  for (const [input, keepLineBreaks, expected] of cases) {
    test(JSON.stringify(input), () => assert.equal(sanitize(input, { keepLineBreaks }), expected));
  }
});

test('formatFields aligns values', () => {
  assert.equal(formatFields([['ID', '1'], ['Full name', 'alice/film']]), 'ID:         1\nFull name:  alice/film\n');
});

test('formatTime and cell', () => {
  assert.equal(formatTime('2026-01-02T03:04:05.678Z'), '2026-01-02 03:04:05Z');
  assert.equal(formatTime(null), '-');
  assert.deepEqual([cell(null), cell(''), cell(['a', 'b']), cell(3), cell({ a: 1 })], ['-', '-', 'a,b', '3', '{"a":1}']);
});

describe('describeNetworkError', () => {
  const base = 'http://127.0.0.1:8080';
  const cases: [unknown, string][] = [
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), `cannot reach the server at ${base}: connection refused; start it with \`dits-webhook serve\` or set DITS_WEBHOOKS_URL`],
    [Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {}), `cannot reach the server at ${base}: connection refused; start it with \`dits-webhook serve\` or set DITS_WEBHOOKS_URL`],
    [Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }), `cannot reach the server at ${base}: host name not found (ENOTFOUND); check the host in --url or DITS_WEBHOOKS_URL`],
    [Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), `the server at ${base} did not answer within 30 s (UND_ERR_HEADERS_TIMEOUT); check that it is running and healthy (GET /healthz)`],
  ];
  for (const [error, expected] of cases) {
    test((error as Error).message || 'aggregate', () => assert.equal(describeNetworkError(base, error, 30_000), expected));
  }
});

describe('hintForError', () => {
  const cases: [string, number, string | null, RegExp | null][] = [
    ['unauthorized', 401, null, /--token or DITS_WEBHOOKS_TOKEN/],
    ['repo_not_found', 404, null, /dits-webhook repo list/],
    ['rate_limited', 429, '7', /Wait 7 seconds/],
    ['internal_error', 500, null, /its log has the cause/],
    ['store_busy', 503, '1', /database lock\. Wait 1 second and/],
    ['store_unavailable', 503, '1', /lost its database connection during the command\. Wait 1 second and run it again/],
    ['last_admin_token', 409, null, /dits-webhook token create --name NAME --scopes admin/],
    ['too_many_streams', 429, null, /Close another event stream/],
    ['invalid_request', 400, null, null],
  ];
  for (const [code, status, retryAfter, expected] of cases) {
    test(code, () => {
      const hint = hintForError(code, status, retryAfter);
      if (expected === null) assert.equal(hint, null);
      else assert.match(hint ?? '', expected);
    });
  }
});

test('formatFailure lists details and the hint', () => {
  const error = new ApiCallError('Invalid request.', 400, 'invalid_request', [{ field: 'url', message: 'expected http or https' }], 'Try again.');
  assert.equal(formatFailure(error), 'error: Invalid request. (invalid_request, HTTP 400)\n  - url: expected http or https\nTry again.\n');
  assert.equal(formatFailure(new CliError('plain')), 'error: plain\n');
});
