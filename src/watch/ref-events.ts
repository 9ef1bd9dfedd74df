/**
 * Turns the difference between two ref snapshots into events.
 *
 * - A new branch gives `branch.created`. When it carries commits that no
 *   branch of the previous snapshot reaches, a `push` with `created: true`
 *   and those commits follows, as GitHub sends for a new branch; also when
 *   its head commit cannot be read, with what could be read. A branch made
 *   at an already known commit gives `branch.created` only.
 * - A moved branch gives `push` when the old head is an ancestor of the new
 *   one, and `push.force` when it is not. When ancestry cannot be decided (a
 *   commit object is missing or the walk bound is reached), the event is a
 *   `push` with `forced: false` and a warning is logged.
 * - A deleted branch gives `branch.deleted` only, with no `push` carrying
 *   `deleted: true`, so consumers that build on every push need not skip it.
 * - Tags are lightweight: a new tag gives `tag.created`, a deleted one
 *   `tag.deleted`, and a tag moved to another commit gives both, in that order.
 *
 * `total_commits_count` is exact unless the history walk reads its maximum
 * number of commit objects (100000 by default). It is then a lower bound, and
 * a warning is logged.
 *
 * Events come out in ref name order, branches before tags.
 */
import type { Logger } from 'pino';
import { ancestryOf, findNewCommits } from './commit-graph.js';
import type { NewCommits, WalkLimits } from './commit-graph.js';
import { buildPayloadCommit } from './commit-payload.js';
import { capFileLists, DEFAULT_FILE_LIST_BUDGET } from './push-size.js';
import type { PayloadCommit } from './commit-payload.js';
import { ZERO_ID } from './dits-format.js';
import type { RefHeads } from './dits-format.js';
import { accountLogin, senderOf } from './event-request.js';
import type { EventRequest } from './event-request.js';
import type { ObjectReader } from './object-store.js';

export interface RefEventContext {
  reader: ObjectReader;
  limits: WalkLimits;
  /**
   * Login reported as `sender` and `pusher` of every ref event. Null means the
   * committer name of the commit the ref now points to, or `fallbackLogin` when
   * there is none (deletions, missing objects, empty names).
   */
  configuredLogin: string | null;
  /** Login used when neither a configured login nor a committer name is available, usually the OS user name. */
  fallbackLogin: string;
  logger: Pick<Logger, 'warn'>;
}

/** Computes the events that take the refs from `before` to `after`. */
export async function diffRefs(before: RefHeads, after: RefHeads, context: RefEventContext): Promise<EventRequest[]> {
  const events: EventRequest[] = [];
  const knownBranchHeads = [...new Set(before.heads.values())];

  for (const name of unionSorted(before.heads, after.heads)) {
    const oldId = before.heads.get(name);
    const newId = after.heads.get(name);
    if (oldId === newId) continue;
    const ref = `refs/heads/${name}`;
    if (newId === undefined) {
      events.push(refEvent('branch.deleted', ref, 'branch', name, oldId!, context.configuredLogin ?? context.fallbackLogin));
    } else if (oldId === undefined) {
      const login = await loginFor(context, newId);
      events.push(refEvent('branch.created', ref, 'branch', name, newId, login));
      const walk = await findNewCommits(context.reader, [newId], knownBranchHeads, context.limits);
      // A head that stayed unreadable still gets its push, with what could be read and a warning that names the missing objects.
      if (walk.total > 0 || walk.missing.includes(newId)) {
        events.push(await pushEvent(context, { ref, before: ZERO_ID, after: newId, created: true, forced: false, walk, login }));
      }
    } else {
      events.push(await movedBranchEvent(context, ref, oldId, newId));
    }
  }

  for (const name of unionSorted(before.tags, after.tags)) {
    const oldId = before.tags.get(name);
    const newId = after.tags.get(name);
    if (oldId === newId) continue;
    const ref = `refs/tags/${name}`;
    if (oldId !== undefined) {
      events.push(refEvent('tag.deleted', ref, 'tag', name, oldId, context.configuredLogin ?? context.fallbackLogin));
    }
    if (newId !== undefined) {
      events.push(refEvent('tag.created', ref, 'tag', name, newId, await loginFor(context, newId)));
    }
  }
  return events;
}

async function movedBranchEvent(context: RefEventContext, ref: string, oldId: string, newId: string): Promise<EventRequest> {
  const walk = await findNewCommits(context.reader, [newId], [oldId], context.limits);
  const ancestry = ancestryOf(walk, oldId);
  if (ancestry === 'unknown') {
    context.logger.warn(
      { ref, before: oldId, after: newId, missing_objects: walk.missing.slice(0, 10), commits_read_bound: context.limits.maxRead },
      'cannot tell whether the old head is an ancestor of the new one; sending a push that is not marked forced',
    );
  }
  const login = await loginFor(context, newId);
  return pushEvent(context, { ref, before: oldId, after: newId, created: false, forced: ancestry === 'not-ancestor', walk, login });
}

/** Builds the event of branch.created/deleted (with a `branch` field) or tag.created/deleted (with a `tag` field). */
function refEvent(
  event: 'branch.created' | 'branch.deleted' | 'tag.created' | 'tag.deleted',
  ref: string,
  nameField: 'branch' | 'tag',
  name: string,
  sha: string,
  login: string,
): EventRequest {
  return {
    body: { event, ref, [nameField]: name, sha, sender: senderOf(login) },
    identity: [ref, sha],
  };
}

interface PushFacts {
  ref: string;
  before: string;
  after: string;
  created: boolean;
  forced: boolean;
  walk: NewCommits;
  login: string;
}

async function pushEvent(context: RefEventContext, facts: PushFacts): Promise<EventRequest> {
  const missing = new Set(facts.walk.missing);
  const built: PayloadCommit[] = [];
  for (const id of facts.walk.listed) {
    const commit = await payloadCommitOf(context.reader, id, missing);
    if (commit) built.push(commit);
  }
  const { commits, omitted } = capFileLists(built, DEFAULT_FILE_LIST_BUDGET);
  const last = commits.at(-1);
  let headCommit = last?.id === facts.after ? last : await payloadCommitOf(context.reader, facts.after, missing);
  if (headCommit && headCommit !== last) headCommit = capFileLists([headCommit], DEFAULT_FILE_LIST_BUDGET).commits[0];

  if (omitted > 0) {
    context.logger.warn(
      { ref: facts.ref, after: facts.after, paths_omitted: omitted },
      'the push changes more files than one event carries; older commits lost file paths first and are flagged files_truncated',
    );
  }

  if (facts.walk.boundReached) {
    context.logger.warn(
      { ref: facts.ref, after: facts.after, commits_read_bound: context.limits.maxRead, total_commits_count: facts.walk.total },
      'the history walk reached its bound; total_commits_count is a lower bound',
    );
  }
  if (missing.size > 0) {
    context.logger.warn(
      { ref: facts.ref, after: facts.after, missing_objects: [...missing].slice(0, 10), missing_count: missing.size },
      'objects missing from the Dits object database or unreadable (not a regular file, too large, or not readable by this user); the push lists only the commits and files that could be read',
    );
  }
  return {
    body: {
      event: facts.forced ? 'push.force' : 'push',
      ref: facts.ref,
      before: facts.before,
      after: facts.after,
      created: facts.created,
      deleted: false,
      forced: facts.forced,
      commits,
      head_commit: headCommit,
      pusher: { name: accountLogin(facts.login) },
      total_commits_count: facts.walk.total,
      sender: senderOf(facts.login),
    },
    identity: [facts.ref, facts.before, facts.after],
  };
}

async function payloadCommitOf(reader: ObjectReader, id: string, missing: Set<string>): Promise<PayloadCommit | null> {
  let cache = payloadCaches.get(reader);
  if (!cache) {
    cache = new PayloadCommitCache();
    payloadCaches.set(reader, cache);
  }
  const cached = cache.get(id);
  if (cached) return cached;
  const commit = await reader.readCommit(id);
  if (!commit) {
    missing.add(id);
    return null;
  }
  const built = await buildPayloadCommit(reader, commit);
  for (const objectId of built.missing) missing.add(objectId);
  // A commit built with objects missing may be complete later, once Dits has written them.
  if (built.missing.length === 0) cache.set(id, built.commit);
  return built.commit;
}

/**
 * Payload commits already built, per object reader. Commits and manifests
 * never change, so a commit that several pushes list (new branches that
 * share a long history) is compared with its parent once. Bounded by
 * entries and by listed paths, since one commit can list thousands.
 */
class PayloadCommitCache {
  private readonly entries = new Map<string, PayloadCommit>();
  private paths = 0;

  constructor(
    private readonly maxEntries = 20_000,
    private readonly maxPaths = 200_000,
  ) {}

  get(id: string): PayloadCommit | undefined {
    return this.entries.get(id);
  }

  set(id: string, commit: PayloadCommit): void {
    const size = pathCount(commit);
    if (size > this.maxPaths || this.entries.has(id)) return;
    this.entries.set(id, commit);
    this.paths += size;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.paths <= this.maxPaths) break;
      this.entries.delete(oldest);
      this.paths -= pathCount(entry);
    }
  }
}

const payloadCaches = new WeakMap<ObjectReader, PayloadCommitCache>();

function pathCount(commit: PayloadCommit): number {
  return commit.added.length + commit.modified.length + commit.removed.length;
}

async function loginFor(context: RefEventContext, commitId: string): Promise<string> {
  if (context.configuredLogin !== null) return context.configuredLogin;
  const commit = await context.reader.readCommit(commitId);
  const name = commit?.committer.name.trim() || commit?.author.name.trim();
  return name || context.fallbackLogin;
}

function unionSorted(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].sort();
}
