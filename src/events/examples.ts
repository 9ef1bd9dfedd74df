/**
 * One valid ingestion body per event type, minus `event`. `exampleEventFields`
 * in catalog.ts hands out copies, and the tests check that each one validates.
 */
import type { EventName } from './catalog.js';

const BEFORE = '3f7a1c0e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a';
const AFTER = 'c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8';
const ZERO_ID = '0'.repeat(64);

const SENDER = { id: 456, login: 'octocat', type: 'user' };
const MEMBER = { id: 789, login: 'hubot', type: 'user' };

const COMMIT = {
  id: AFTER,
  message: 'Add new footage',
  timestamp: '2026-01-02T03:04:05.704512Z',
  author: { name: 'Octocat', email: 'octocat@example.com' },
  committer: { name: 'Octocat', email: 'octocat@example.com' },
  added: ['footage/intro.mov'],
  modified: ['edit.prproj'],
  removed: [],
};

const LOCK = {
  id: 'lock-edit.prproj',
  path: 'edit.prproj',
  owner: SENDER,
  locked_at: '2026-01-02T03:04:05Z',
  expires_at: '2026-01-02T11:04:05Z',
  reason: 'Editing the first cut',
};

const COMMENT = {
  id: 42,
  body: 'The colour grade looks off after 00:42.',
  path: 'footage/intro.mov',
  commit_id: AFTER,
  created_at: '2026-01-02T03:04:05Z',
  updated_at: '2026-01-02T03:04:05Z',
};

export const EXAMPLE_EVENT_FIELDS: Readonly<Record<EventName, Record<string, unknown>>> = {
  push: { sender: SENDER, ref: 'refs/heads/main', before: BEFORE, after: AFTER, commits: [COMMIT] },
  'push.tag': { sender: SENDER, ref: 'refs/tags/v1.0', before: ZERO_ID, after: AFTER, commits: [] },
  'push.force': { sender: SENDER, ref: 'refs/heads/main', before: BEFORE, after: AFTER, forced: true, commits: [COMMIT] },
  'repo.created': { sender: SENDER },
  'repo.deleted': { sender: SENDER },
  'repo.renamed': { sender: SENDER, changes: { name: { from: 'old-project' } } },
  'repo.visibility_changed': { sender: SENDER, changes: { private: { from: true } } },
  'repo.archived': { sender: SENDER, archived: true },
  'branch.created': { sender: SENDER, ref: 'refs/heads/feature/color', branch: 'feature/color', sha: AFTER },
  'branch.deleted': { sender: SENDER, ref: 'refs/heads/feature/color', branch: 'feature/color', sha: AFTER },
  'tag.created': { sender: SENDER, ref: 'refs/tags/v1.0', tag: 'v1.0', sha: AFTER },
  'tag.deleted': { sender: SENDER, ref: 'refs/tags/v1.0', tag: 'v1.0', sha: AFTER },
  'lock.acquired': { sender: SENDER, lock: LOCK },
  'lock.released': { sender: SENDER, lock: LOCK },
  'lock.expired': { sender: SENDER, lock: LOCK },
  'lock.broken': { sender: MEMBER, lock: { ...LOCK, reason: null }, broken_by: MEMBER },
  'member.added': { sender: SENDER, member: MEMBER, role: 'write' },
  'member.removed': { sender: SENDER, member: MEMBER, role: 'write' },
  'member.role_changed': { sender: SENDER, member: MEMBER, role: 'admin', changes: { role: { from: 'write' } } },
  'comment.created': { sender: SENDER, comment: COMMENT },
  'comment.updated': { sender: SENDER, comment: COMMENT, changes: { body: { from: 'The colour grade looks off.' } } },
  'comment.deleted': { sender: SENDER, comment: COMMENT },
  ping: {
    zen: 'Keep it logically awesome.',
    hook_id: 1,
    hook: { id: 1, type: 'repository', url: 'https://example.com/webhook', events: ['push', 'lock.*'], active: true },
  },
};
