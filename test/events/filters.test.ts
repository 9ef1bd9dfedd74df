import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_FILTER_GLOBS,
  MAX_FILTER_GLOB_LENGTH,
  type WebhookFilters,
  compileWebhookFilters,
  matchWebhookFilters,
  validateWebhookFilters,
} from '../../src/events/filters.js';

type Payload = Record<string, unknown>;

function pushTo(ref: string, files: Array<Partial<Record<'added' | 'modified' | 'removed', string[]>>> = [], extra: Payload = {}): Payload {
  const commits = files.map((lists, index) => ({ id: `c${index}`, message: 'm', added: [], modified: [], removed: [], ...lists }));
  return { ref, before: 'a', after: 'b', commits, total_commits_count: commits.length, ...extra };
}

const LOCK_PAYLOAD: Payload = { lock: { id: 1, path: 'edit.prproj', owner: { login: 'a' }, locked_at: '2026-01-02T03:04:05Z' } };

describe('validateWebhookFilters accepts', () => {
  const cases: Array<[name: string, input: unknown, expected: WebhookFilters | null]> = [
    ['null', null, null],
    ['undefined', undefined, null],
    ['empty object', {}, null],
    ['branches', { branches: ['main', 'release/*'] }, { branches: ['main', 'release/*'] }],
    ['tags', { tags: ['v*'] }, { tags: ['v*'] }],
    ['paths include only', { paths: { include: ['assets/**'] } }, { paths: { include: ['assets/**'] } }],
    ['paths exclude only', { paths: { exclude: ['**/*.tmp'] } }, { paths: { exclude: ['**/*.tmp'] } }],
    [
      'everything',
      { branches: ['main'], tags: ['v{1,2}.*'], paths: { include: ['**/*.psd'], exclude: ['cache/**'] } },
      { branches: ['main'], tags: ['v{1,2}.*'], paths: { include: ['**/*.psd'], exclude: ['cache/**'] } },
    ],
    ['glob of the maximum length', { branches: ['b'.repeat(MAX_FILTER_GLOB_LENGTH)] }, { branches: ['b'.repeat(MAX_FILTER_GLOB_LENGTH)] }],
    ['maximum glob count', { tags: Array.from({ length: MAX_FILTER_GLOBS }, (_, i) => `v${i}`) }, { tags: Array.from({ length: MAX_FILTER_GLOBS }, (_, i) => `v${i}`) }],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const result = validateWebhookFilters(input);
      assert.deepEqual(result.errors, []);
      assert.deepEqual(result.filters, expected);
    });
  }

  it('returns copies of the glob lists', () => {
    const branches = ['main'];
    const result = validateWebhookFilters({ branches });
    branches.push('dev');
    assert.deepEqual(result.filters?.branches, ['main']);
  });
});

describe('validateWebhookFilters rejects', () => {
  const cases: Array<[name: string, input: unknown, field: string, message: RegExp]> = [
    ['string', 'main', 'filters', /expected an object with optional keys branches, tags and paths, got the string "main"/],
    ['array', ['main'], 'filters', /got an array of 1 item$/],
    ['unknown key', { branch: ['main'] }, 'filters.branch', /is not a known filter\. Valid keys of filters are branches, tags, paths\./],
    ['branches as string', { branches: 'main' }, 'filters.branches', /expected an array of branch globs such as "main" or "release\/\*", got the string "main"/],
    ['branches null', { branches: null }, 'filters.branches', /got null/],
    ['empty branches', { branches: [] }, 'filters.branches', /got an empty array\. Omit the key to match every branch\./],
    ['too many globs', { tags: Array.from({ length: MAX_FILTER_GLOBS + 1 }, (_, i) => `v${i}`) }, 'filters.tags', /at most 100 globs, got 101/],
    ['non-string glob', { branches: ['main', 5] }, 'filters.branches[1]', /expected a glob string .* got the number 5/],
    ['empty glob', { branches: ['main', ''] }, 'filters.branches[1]', /expected a non-empty glob .* got an empty string/],
    ['glob too long', { branches: ['b'.repeat(MAX_FILTER_GLOB_LENGTH + 1)] }, 'filters.branches[0]', /at most 256 characters, got 257/],
    ['control character', { tags: ['v1\n'] }, 'filters.tags[0]', /without control characters/],
    ['unclosed brace', { tags: ['{a,b'] }, 'filters.tags[0]', /"\{a,b" is not a valid glob\. Close every/],
    ['empty brace group', { branches: ['{}'] }, 'filters.branches[0]', /"\{\}" has an empty brace group \{\}, which matches nothing; remove it/],
    ['empty brace group inside', { paths: { include: ['assets/{}/x'] } }, 'filters.paths.include[0]', /has an empty brace group/],
    ['range out of order', { paths: { include: ['[z-a].psd'] } }, 'filters.paths.include[0]', /is not a valid glob/],
    ['trailing backslash', { paths: { exclude: ['assets\\'] } }, 'filters.paths.exclude[0]', /is not a valid glob/],
    ['negated path', { paths: { include: ['!cache/**'] } }, 'filters.paths.include[0]', /not supported\. List the files to skip in filters\.paths\.exclude instead\./],
    ['negated branch', { branches: ['!main'] }, 'filters.branches[0]', /not supported\. List the branches to include instead\./],
    ['negated tag', { tags: ['!v1'] }, 'filters.tags[0]', /List the tags to include instead/],
    ['full branch ref', { branches: ['refs/heads/main'] }, 'filters.branches[0]', /without the refs\/heads\/ prefix/],
    ['full tag ref', { tags: ['refs/tags/v*'] }, 'filters.tags[0]', /without the refs\/tags\/ prefix/],
    ['paths as array', { paths: ['assets/**'] }, 'filters.paths', /expected an object with include and\/or exclude glob lists/],
    ['paths without lists', { paths: {} }, 'filters.paths', /expected include, exclude or both/],
    ['unknown paths key', { paths: { include: ['a'], only: ['b'] } }, 'filters.paths.only', /Valid keys of filters.paths are include, exclude/],
    ['exclude as string', { paths: { exclude: '*.tmp' } }, 'filters.paths.exclude', /expected an array of path globs/],
  ];
  for (const [name, input, field, message] of cases) {
    it(name, () => {
      const result = validateWebhookFilters(input);
      assert.equal(result.filters, null);
      const match = result.errors.find((error) => error.field === field);
      assert.ok(match, `expected an error on ${field}, got ${JSON.stringify(result.errors)}`);
      assert.match(match.message, message);
    });
  }

  it('reports every bad entry', () => {
    const result = validateWebhookFilters({ branches: ['', 'main', 3], tags: [], colour: 'red' });
    assert.deepEqual(result.errors.map((error) => error.field).sort(), [
      'filters.branches[0]',
      'filters.branches[2]',
      'filters.colour',
      'filters.tags',
    ]);
  });
});

describe('matchWebhookFilters', () => {
  const branches: WebhookFilters = { branches: ['main', 'release/*'] };
  const tags: WebhookFilters = { tags: ['v*'] };
  const include: WebhookFilters = { paths: { include: ['assets/**', '**/*.psd'] } };
  const exclude: WebhookFilters = { paths: { exclude: ['**/*.tmp'] } };
  const includeExclude: WebhookFilters = { paths: { include: ['assets/**'], exclude: ['assets/cache/**'] } };

  const cases: Array<[name: string, filters: WebhookFilters | null, event: string, payload: Payload, expected: boolean]> = [
    ['no filters', null, 'push', pushTo('refs/heads/dev'), true],
    ['branch exact', branches, 'push', pushTo('refs/heads/main'), true],
    ['branch glob', branches, 'push', pushTo('refs/heads/release/1.0'), true],
    ['branch glob stays in one segment', branches, 'push', pushTo('refs/heads/release/1.0/hotfix'), false],
    ['other branch', branches, 'push', pushTo('refs/heads/feature/x'), false],
    ['branch prefix only', branches, 'push', pushTo('refs/heads/main-old'), false],
    ['force push to other branch', branches, 'push.force', pushTo('refs/heads/dev'), false],
    ['branch.created of a matching branch', branches, 'branch.created', { ref: 'refs/heads/release/2', branch: 'release/2', sha: 'a' }, true],
    ['branch.deleted of another branch', branches, 'branch.deleted', { ref: 'refs/heads/dev', branch: 'dev', sha: 'a' }, false],
    ['branch field without ref', branches, 'branch.created', { branch: 'dev', sha: 'a' }, false],
    ['branch filter ignores tag pushes', branches, 'push.tag', pushTo('refs/tags/v1.0'), true],
    ['branch filter ignores tag events', branches, 'tag.created', { ref: 'refs/tags/x', tag: 'x', sha: 'a' }, true],
    ['branch filter ignores locks', branches, 'lock.acquired', LOCK_PAYLOAD, true],
    ['branch filter ignores a comment with a branch field', branches, 'comment.created', { branch: 'dev', body: 'x' }, true],
    ['branch filter ignores a lock with a ref field', branches, 'lock.acquired', { ...LOCK_PAYLOAD, ref: 'refs/heads/dev' }, true],
    ['tag filter ignores a member event with a tag field', tags, 'member.added', { tag: 'nightly' }, true],
    ['paths ignore a comment with commits', include, 'comment.created', { commits: [{ added: ['docs/a.md'] }] }, true],
    ['branch field on a tag push is ignored', branches, 'push', { ...pushTo('refs/tags/v1'), branch: 'dev' }, true],
    ['tag glob', tags, 'push.tag', pushTo('refs/tags/v1.0'), true],
    ['other tag', tags, 'push.tag', pushTo('refs/tags/beta'), false],
    ['tag.created of a matching tag', tags, 'tag.created', { ref: 'refs/tags/v2', tag: 'v2', sha: 'a' }, true],
    ['tag.deleted of another tag', tags, 'tag.deleted', { ref: 'refs/tags/beta', tag: 'beta', sha: 'a' }, false],
    ['tag filter ignores branch pushes', tags, 'push', pushTo('refs/heads/main'), true],
    ['include matches an added file', include, 'push', pushTo('refs/heads/main', [{ added: ['assets/hero.png'] }]), true],
    ['include matches a removed file', include, 'push', pushTo('refs/heads/main', [{ removed: ['assets/old.png'] }]), true],
    ['include matches in a later commit', include, 'push', pushTo('refs/heads/main', [{ modified: ['README.md'] }, { modified: ['art/x.psd'] }]), true],
    ['include matches a dot folder', include, 'push', pushTo('refs/heads/main', [{ added: ['.cache/x.psd'] }]), true],
    ['include misses', include, 'push', pushTo('refs/heads/main', [{ added: ['docs/readme.md'] }, { modified: ['src/a.ts'] }]), false],
    ['include is not a prefix match', include, 'push', pushTo('refs/heads/main', [{ added: ['assets-old/a.png'] }]), false],
    ['paths ignore pushes without files', include, 'push', pushTo('refs/heads/main'), true],
    ['paths ignore events without commits', include, 'lock.acquired', LOCK_PAYLOAD, true],
    ['paths apply to tag pushes with files', include, 'push.tag', pushTo('refs/tags/v1', [{ added: ['docs/a.md'] }]), false],
    ['exclude drops all files', exclude, 'push', pushTo('refs/heads/main', [{ added: ['a.tmp', 'b/c.tmp'] }]), false],
    ['exclude keeps other files', exclude, 'push', pushTo('refs/heads/main', [{ added: ['a.tmp', 'edit.prproj'] }]), true],
    ['include and exclude drop all files', includeExclude, 'push', pushTo('refs/heads/main', [{ added: ['assets/cache/x'] }, { modified: ['docs/a.md'] }]), false],
    ['include and exclude keep one file', includeExclude, 'push', pushTo('refs/heads/main', [{ added: ['assets/cache/x', 'assets/y.png'] }]), true],
    [
      'truncated push without a match is delivered',
      include,
      'push',
      pushTo('refs/heads/main', [{ added: ['docs/a.md'] }], { total_commits_count: 3000 }),
      true,
    ],
    [
      'branch and paths both apply',
      { branches: ['main'], paths: { include: ['assets/**'] } },
      'push',
      pushTo('refs/heads/dev', [{ added: ['assets/a.png'] }]),
      false,
    ],
    [
      'branch and paths both pass',
      { branches: ['main'], paths: { include: ['assets/**'] } },
      'push',
      pushTo('refs/heads/main', [{ added: ['assets/a.png'] }]),
      true,
    ],
    ['branch filter holds back other refs', { branches: ['main'] }, 'push', pushTo('refs/remotes/origin/main'), false],
    ['tag filter holds back other refs', { tags: ['v*'] }, 'push', pushTo('refs/notes/v1'), false],
    ['paths alone let other refs pass', include, 'push', pushTo('refs/notes/commits'), true],
  ];
  for (const [name, filters, event, payload, expected] of cases) {
    it(name, () => {
      assert.equal(matchWebhookFilters(filters, event, payload), expected);
      assert.equal(compileWebhookFilters(filters)(event, payload), expected);
    });
  }

  it('reuses one compiled predicate across events', () => {
    const matches = compileWebhookFilters(branches);
    assert.equal(matches('push', pushTo('refs/heads/main')), true);
    assert.equal(matches('push', pushTo('refs/heads/dev')), false);
    assert.equal(matches('push', pushTo('refs/heads/main')), true);
  });
});
