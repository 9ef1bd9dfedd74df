import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CATALOG } from '../../src/errors.js';

const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

test('every error code is documented', () => {
  for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
    assert.ok(docs.includes(`| \`${code}\` | ${entry.status} |`), `docs/errors.md lists ${code} with status ${entry.status}`);
  }
});

test('every documented code exists', () => {
  const documented = [...docs.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  for (const code of documented) assert.ok(code in ERROR_CATALOG, `${code} in docs/errors.md is in the catalog`);
});

test('every code used in source is cataloged', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) files.push(path);
    }
  };
  walk(new URL('../../src', import.meta.url).pathname);
  for (const file of files) {
    for (const match of readFileSync(file, 'utf8').matchAll(/new ApiError\(\s*'([a-z_]+)'/g)) {
      assert.ok(match[1] in ERROR_CATALOG, `${match[1]} used in ${file} is in the catalog`);
    }
  }
});
