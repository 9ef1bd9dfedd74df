import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '../../src/events/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuidv7 has version and variant', () => {
  for (let i = 0; i < 1000; i++) assert.match(uuidv7(), UUID_V7);
});

test('uuidv7 encodes the time', () => {
  const now = Date.now() + 86_400_000;
  const id = uuidv7(now + 10_000);
  const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
  assert.equal(ms, now + 10_000);
});

test('uuidv7 sorts in creation order', () => {
  const ids = Array.from({ length: 10_000 }, () => uuidv7());
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});
