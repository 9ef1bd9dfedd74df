import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wantsEventStream } from '../../src/api/accept.js';

const cases: [string | undefined, boolean][] = [
  [undefined, false],
  ['', false],
  ['*/*', false],
  ['application/json', false],
  ['text/event-stream', true],
  ['Text/Event-Stream', true],
  ['application/json, text/event-stream', true],
  ['application/json, text/event-stream;q=0', false],
  ['text/event-stream; q=0.5, application/json', false],
  ['text/event-stream, */*;q=0.1', true],
  ['application/json;q=0.2, text/event-stream;q=0.9', true],
  ['text/event-stream;q=abc', false],
];

test('Accept header picks the event stream', () => {
  for (const [accept, expected] of cases) assert.equal(wantsEventStream(accept), expected, `Accept: ${accept}`);
});
