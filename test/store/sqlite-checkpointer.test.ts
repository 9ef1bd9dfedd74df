import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpointer } from '../../src/store/sqlite/checkpointer.js';

test('repeated checkpoint failure is reported once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dits-checkpointer-'));
  // Not a database, so every checkpoint fails the same way, as on a full disk.
  const file = join(dir, 'not-a-database');
  writeFileSync(file, 'x'.repeat(8192));
  const errors: string[] = [];
  const checkpointer = new Checkpointer(file, (message) => errors.push(message), 10, 10);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(errors.length, 1, `one report for about 100 failed runs: ${errors.join(' | ')}`);
    assert.match(errors[0], /not a database/);
  } finally {
    await checkpointer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
