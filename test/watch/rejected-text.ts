/**
 * A commit and a lock whose text the server rejects (NUL, lone surrogates,
 * control characters in logins), with the values the watcher sends instead.
 */
import type { DitsRepoFixture, FixtureLock } from './dits-fixture.js';

const COMMITTER = { name: 'Gus\u0007Grader', email: 'gus@example.com' };

/** Login the watcher sends for the committer above. */
export const SENT_COMMITTER_LOGIN = 'Gus\ufffdGrader';

/** Writes a commit on `parent` with rejected text and returns its id and the commit object the watcher should send. */
export function writeRejectedTextCommit(fixture: DitsRepoFixture, parent: string, files: Record<string, string>): { id: string; sent: Record<string, unknown> } {
  const author = { name: 'Ada \ud800 Editor', email: 'ada@example.com' };
  const id = fixture.writeCommit({ parent, message: 'Cut\u0000two', files: { ...files, 'shot\u00001.exr': 'S1' }, author, committer: COMMITTER });
  const sent = {
    id,
    message: 'Cut\ufffdtwo',
    timestamp: fixture.timestamps.get(id),
    author: { name: 'Ada \ufffd Editor', email: 'ada@example.com' },
    committer: COMMITTER,
    added: ['shot\ufffd1.exr'],
    modified: [],
    removed: [],
  };
  return { id, sent };
}

/** A lock with rejected text, acquired at `acquiredAt` seconds, and the path, owner login and reason the watcher should send. */
export function rejectedTextLock(acquiredAt: number): { path: string; lock: FixtureLock; sentPath: string; sentOwner: string; sentReason: string } {
  return {
    path: 'mix\u0000.wav',
    lock: { owner: 'ed\u0001itor', acquired_at: acquiredAt, expires_at: acquiredAt + 3600, reason: '\udc00 note' },
    sentPath: 'mix\ufffd.wav',
    sentOwner: 'ed\ufffditor',
    sentReason: '\ufffd note',
  };
}
