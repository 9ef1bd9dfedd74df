import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGlobs, expandBraces, GlobSyntaxError, MAX_BRACE_EXPANSIONS } from '../../src/events/glob.js';

const cases: [string, string, boolean][] = [
  ['main', 'main', true],
  ['main', 'mainline', false],
  ['release/*', 'release/1.0', true],
  ['release/*', 'release/1.0/hotfix', false],
  ['release/*', 'release/', true],
  ['v*', 'v2.0', true],
  ['v*', 'x2.0', false],
  ['*', '.hidden', true],
  ['*', 'a/b', false],
  ['?', 'a', true],
  ['?', '/', false],
  ['v?.?', 'v1.2', true],
  ['**', 'a/b/c', true],
  ['**/*.psd', 'cover.psd', true],
  ['**/*.psd', 'art/deep/cover.psd', true],
  ['**/*.psd', 'art/cover.psd.bak', false],
  ['assets/**', 'assets/a/b.png', true],
  ['assets/**', 'other/a.png', false],
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/y/b', true],
  ['a/**/b', 'a/xb', false],
  ['shots/**', 'shots/001.mov', true],
  ['**/*.tmp', 'shots/a.tmp', true],
  ['*.{mov,mp4}', 'clip.mp4', true],
  ['*.{mov,mp4}', 'clip.avi', false],
  ['v{1,2}.*', 'v2.5', true],
  ['[abc].txt', 'b.txt', true],
  ['[abc].txt', 'd.txt', false],
  ['[a-c].txt', 'c.txt', true],
  ['[!a-c].txt', 'd.txt', true],
  ['[!a-c].txt', 'a.txt', false],
  ['\\*.txt', '*.txt', true],
  ['\\*.txt', 'a.txt', false],
  ['feature/*-ui', 'feature/new-ui', true],
  ['feature/*-ui', 'feature/new-api', false],
];

test('glob matches like shell globs', () => {
  for (const [glob, subject, expected] of cases) {
    assert.equal(compileGlobs([glob])(subject), expected, `${glob} against ${subject}`);
  }
});

test('any of several globs matches', () => {
  const match = compileGlobs(['main', 'release/*']);
  assert.equal(match('main'), true);
  assert.equal(match('release/2'), true);
  assert.equal(match('dev'), false);
});

test('invalid globs raise syntax errors', () => {
  for (const glob of ['{a,b', 'a}', '[abc', '[z-a]', 'trailing\\']) {
    assert.throws(() => compileGlobs([glob]), GlobSyntaxError, glob);
  }
  assert.throws(() => expandBraces('{a,b}'.repeat(7)), /more than 64/);
  assert.equal(expandBraces('{a,b}{c,d}').length, 4);
  assert.ok(MAX_BRACE_EXPANSIONS >= 4);
});

test('pathological globs match in bounded time', () => {
  // Backtracking regular expressions take minutes on these; the matcher must return at once.
  const cases: [string, string][] = [
    ['*a'.repeat(60) + '*b', 'a'.repeat(200)],
    ['**/'.repeat(40) + 'x', 'a/'.repeat(300) + 'y'],
    ['?*'.repeat(80) + 'z', 'q'.repeat(250)],
  ];
  for (const [glob, subject] of cases) {
    const started = performance.now();
    assert.equal(compileGlobs([glob])(subject), false);
    const ms = performance.now() - started;
    assert.ok(ms < 500, `${glob.slice(0, 20)}... took ${ms.toFixed(1)} ms`);
  }
});

test('astral characters stay whole', () => {
  assert.equal(compileGlobs(['feat-😀'])('feat-😀'), true);
  assert.equal(compileGlobs(['assets/🎬/*.mov'])('assets/🎬/a.mov'), true);
  assert.equal(compileGlobs(['[😀]'])('😀'), true);
  assert.equal(compileGlobs(['\\😀'])('😀'), true);
  assert.equal(compileGlobs(['?'])('😀'), true);
  assert.equal(compileGlobs(['[a-c]'])('😀'), false);
});

test('budget stops runaway matching', async () => {
  const { MatchBudgetExceeded } = await import('../../src/events/glob.js');
  const match = compileGlobs(['*a'.repeat(100) + '*b']);
  assert.throws(() => match('a'.repeat(250), { steps: 1000 }), MatchBudgetExceeded);
  const budget = { steps: 1_000_000 };
  assert.equal(match('a'.repeat(10) + 'b', budget), false);
  assert.ok(budget.steps < 1_000_000, 'steps are counted');
});
