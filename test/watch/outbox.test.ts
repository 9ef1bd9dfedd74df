import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Outbox } from '../../src/watch/outbox.js';
import type { OutboxEntry } from '../../src/watch/outbox.js';

function entry(key: string, event: 'push' | 'tag.created' = 'push'): OutboxEntry {
  return { key, body: { event, ref: `refs/heads/${key}` }, queuedAt: '2026-01-02T03:00:00.000Z' };
}

describe('Outbox', () => {
  let folder = '';
  let path = '';
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'dits-outbox-'));
    path = join(folder, 'outbox.jsonl');
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  test('keeps events in order', async () => {
    const { outbox } = await Outbox.open(path);
    await outbox.append([entry('a'), entry('b')]);
    await outbox.append([entry('c')]);
    assert.equal(outbox.size, 3);
    assert.equal(outbox.peek()?.key, 'a');
    await outbox.complete('a', 'sent');
    assert.equal(outbox.peek()?.key, 'b');
  });

  test('counts the bytes of waiting events', async () => {
    const { outbox } = await Outbox.open(path);
    assert.equal(outbox.bytes, 0);
    await outbox.append([entry('a'), entry('b')]);
    // With no completions yet, the file contains exactly the waiting events' lines.
    const fileBytes = readFileSync(path).length;
    assert.equal(outbox.bytes, fileBytes);
    await outbox.complete('a', 'sent');
    const reopened = await Outbox.open(path);
    assert.equal(reopened.outbox.bytes, readFileSync(path).length);
    assert.equal(outbox.bytes, reopened.outbox.bytes);
    assert.ok(outbox.bytes > 0);
    assert.ok(outbox.bytes < fileBytes);
    await outbox.complete('b', 'dropped');
    assert.equal(outbox.bytes, 0);
  });

  test('folder in its place is named', async () => {
    mkdirSync(path);
    await assert.rejects(Outbox.open(path), /cannot read the watcher's outbox file .*outbox\.jsonl \(is not a regular file\); make it a file/);
  });

  test('survives a reopen', async () => {
    const first = await Outbox.open(path);
    await first.outbox.append([entry('a'), entry('b', 'tag.created')]);
    await first.outbox.complete('a', 'sent');
    const second = await Outbox.open(path);
    assert.equal(second.outbox.size, 1);
    assert.deepEqual(second.outbox.peek(), entry('b', 'tag.created'));
    assert.equal(second.skippedLines, 0);
  });

  test('skips a line cut short by a crash', async () => {
    const first = await Outbox.open(path);
    await first.outbox.append([entry('a')]);
    appendFileSync(path, '{"type":"event","key":"b","que');
    const second = await Outbox.open(path);
    assert.equal(second.skippedLines, 1);
    assert.equal(second.outbox.size, 1);
    // The rewrite on open removes the torn line, so later appends start on a fresh line.
    await second.outbox.append([entry('c')]);
    const third = await Outbox.open(path);
    assert.equal(third.skippedLines, 0);
    assert.deepEqual([third.outbox.peek()?.key, third.outbox.size], ['a', 2]);
  });

  test('ignores a key already queued', async () => {
    const { outbox } = await Outbox.open(path);
    await outbox.append([entry('a'), entry('a')]);
    await outbox.append([entry('a')]);
    assert.equal(outbox.size, 1);
    assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 1);
  });

  test('empties the file when the queue empties', async () => {
    const { outbox } = await Outbox.open(path);
    await outbox.append([entry('a'), entry('b')]);
    await outbox.complete('a', 'sent');
    assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 3);
    await outbox.complete('b', 'dropped');
    assert.equal(readFileSync(path, 'utf8'), '');
  });

  test('event leaves memory after the file write', async () => {
    const { outbox } = await Outbox.open(path);
    await outbox.append([entry('a')]);
    const completion = outbox.complete('a', 'sent');
    assert.equal(outbox.size, 1);
    await completion;
    assert.equal(outbox.size, 0);
    assert.equal(readFileSync(path, 'utf8'), '');
  });

  test('missing file is an empty queue', async () => {
    const { outbox, skippedLines } = await Outbox.open(path);
    assert.equal(outbox.size, 0);
    assert.equal(outbox.peek(), undefined);
    assert.equal(skippedLines, 0);
  });
});
