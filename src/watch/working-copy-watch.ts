/**
 * Watches one Dits working copy. It scans refs and locks when files change,
 * on a polling interval and when a lock expires. Each scan turns the
 * differences from the stored snapshot into events, queues them in the
 * outbox, then saves the new snapshot. Scans run one at a time, and requests
 * that arrive during a scan are merged into one follow-up scan.
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ApiClient } from './api-client.js';
import type { BackoffPolicy } from './backoff.js';
import type { WalkLimits } from './commit-graph.js';
import { isSendableRefName, MAX_REF_DEPTH } from './dits-format.js';
import type { RefHeads, SkippedRef, SkipReason } from './dits-format.js';
import { idempotencyKey, sendableBody } from './event-request.js';
import type { EventRequest } from './event-request.js';
import { EventSender } from './event-sender.js';
import { diffLocks, nextExpiryMs } from './lock-events.js';
import { createObjectReader } from './object-store.js';
import type { ObjectReader } from './object-store.js';
import { Outbox } from './outbox.js';
import { diffRefs } from './ref-events.js';
import type { RefEventContext } from './ref-events.js';
import { RepoResolver, repoKeyOf } from './repo-mapping.js';
import type { RepoMapping } from './repo-mapping.js';
import { emptySnapshot, loadSnapshot, newBaselineId, saveSnapshot, snapshotToJson } from './snapshot.js';
import type { Snapshot, StatePaths } from './snapshot.js';
import { MissingDitsFolderError, readWorkingCopy } from './working-copy-reader.js';
import type { ReadRetry } from './working-copy-reader.js';

export interface WorkingCopyOptions {
  /** Absolute path of the working copy, the folder that contains `.dits`. */
  dir: string;
  paths: StatePaths;
  mapping: RepoMapping;
  client: ApiClient;
  logger: Logger;
  now: () => number;
  pollIntervalMs: number;
  debounceMs: number;
  useFsWatch: boolean;
  readRetry: ReadRetry;
  /** Waiting outbox bytes at which scans pause until the sender has caught up. */
  outboxPauseBytes: number;
  limits: WalkLimits;
  backoff: BackoffPolicy;
  configuredLogin: string | null;
  fallbackLogin: string;
}

/**
 * Removes refs whose names the service rejects from a stored snapshot, which
 * a watcher without the name check may have written. Otherwise the first scan
 * would report them as deleted, in events the service rejects.
 */
function withoutUnsendableRefs(snapshot: Snapshot): Snapshot {
  const keep = (refs: Map<string, string>) => new Map([...refs].filter(([name]) => isSendableRefName(name)));
  return { ...snapshot, refs: { heads: keep(snapshot.refs.heads), tags: keep(snapshot.refs.tags) } };
}

/** setTimeout's largest delay; a lock expiring later is caught by a later timer or by polling. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Time `locks.json` must stay missing, while locks were held, before its locks count as released, in ms. */
export const LOCKS_MISSING_GRACE_MS = 10_000;
/**
 * Real time a ref must stay missing before its deletion is reported, in ms.
 * `rm -rf` of a working copy removes ref files one by one over a few
 * milliseconds, and the confirming scan then finds the folder gone.
 */
export const DELETION_CONFIRM_MS = 300;
/**
 * Time a ref file or `locks.json` may hold an unreadable value before the
 * watcher warns about it, in ms. A write in progress is readable again within
 * milliseconds; a file that stays unreadable this long was written wrongly.
 */
export const UNREADABLE_WARN_MS = 5000;
/**
 * Time a moved ref may point at a commit object that cannot be read yet, in
 * ms, before its event goes out anyway with the commits that could be read.
 * Dits writes objects before it moves a ref. A copy tool or a sync client may
 * write them in another order, and a commit object may be half-written.
 */
export const HEAD_OBJECT_WAIT_MS = 5000;
/** Time between scans while a ref waits for its commit object, in ms. */
const HEAD_OBJECT_RESCAN_MS = 250;

/** The warning for each kind of ref file that a scan leaves out; each names the fix. */
const SKIPPED_REF_MESSAGES: Record<SkipReason, string> = {
  name: 'skipping a ref whose name the server rejects (a control character, or an empty, "." or ".." part); rename its file under .dits/refs to have its changes sent',
  not_utf8: 'skipping a ref whose file name is not valid UTF-8 (shown with U+FFFD in its place); rename its file under .dits/refs to have its changes sent',
  symlink: 'skipping a ref that is a symbolic link; Dits writes refs as plain files, so replace the link with a copy of its target to have its changes sent',
  too_deep: `skipping refs in a folder nested more than ${MAX_REF_DEPTH} levels below .dits/refs/heads or .dits/refs/tags; shorten the ref names to have their changes sent`,
};

export class WorkingCopyWatch {
  private readonly ditsDir: string;
  private readonly logger: Logger;
  private readonly reader: ObjectReader;
  private readonly sender: EventSender;
  private readonly repoKey: string;
  private snapshot: Snapshot = emptySnapshot();
  private scanChain: Promise<void> = Promise.resolve();
  private queuedScan: Promise<void> | null = null;
  private readonly fsWatchers = new Map<'dits' | 'refs', FSWatcher>();
  private pollTimer: NodeJS.Timeout | null = null;
  private debounceTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  /** The missing-folder message logged last, so that a paused scan logs each new reason once. */
  private missingFolderMessage: string | null = null;
  /** The scan error logged last, or null after a scan that succeeded. */
  private scanErrorMessage: string | null = null;
  /** Malformed `locks.json` keys logged last, joined, so that the same ones are not logged on every scan. */
  private malformedLocksLogged = '';
  /** Skipped ref files already logged, as `<reason> <ref>`. One is logged again only after a scan without it. */
  private readonly skippedRefsLogged = new Set<string>();
  /** Files (relative to `.dits`) unreadable since the given watcher time, and whether that was logged. */
  private readonly unreadableSince = new Map<string, { since: number; warned: boolean }>();
  /** Refs (`heads/<name>`, `tags/<name>`) missing since the given performance.now() time, not reported yet. */
  private readonly missingRefsSince = new Map<string, number>();
  private confirmTimer: NodeJS.Timeout | null = null;
  /** Moved refs (`heads/<name>@<id>`) whose commit object could not be read, since the given watcher time. */
  private readonly unreadableHeadsSince = new Map<string, number>();
  /** Scans again while a ref waits for its commit object, which file system notifications do not report. */
  private headTimer: NodeJS.Timeout | null = null;
  /** When the current scan series first found `locks.json` missing, or null while it exists. */
  private locksMissingSince: number | null = null;
  /** True while scans wait for the outbox to shrink below `outboxPauseBytes`. */
  private pausedForOutbox = false;
  private stopped = false;

  private constructor(
    private readonly options: WorkingCopyOptions,
    private readonly outbox: Outbox,
  ) {
    this.ditsDir = join(options.dir, '.dits');
    this.logger = options.logger;
    this.reader = createObjectReader(this.ditsDir);
    this.repoKey = repoKeyOf(options.mapping);
    this.sender = new EventSender({
      outbox,
      client: options.client,
      resolver: new RepoResolver(options.client, options.mapping),
      backoff: options.backoff,
      logger: options.logger,
    });
  }

  /** Loads state, reports what changed while the watcher was down (or takes a baseline), and starts watching. */
  static async start(options: WorkingCopyOptions): Promise<WorkingCopyWatch> {
    const { outbox, skippedLines } = await Outbox.open(options.paths.outbox);
    if (skippedLines > 0) {
      options.logger.warn({ outbox: options.paths.outbox, skipped_lines: skippedLines }, 'skipped unreadable outbox lines left by an interrupted write');
    }
    const copy = new WorkingCopyWatch(options, outbox);
    const stored = await loadSnapshot(options.paths.snapshot);
    if (stored) {
      copy.snapshot = withoutUnsendableRefs(stored);
      await copy.scanNow();
    } else {
      await copy.takeBaseline();
    }
    copy.sender.start();
    if (options.useFsWatch) copy.startFsWatch();
    copy.pollTimer = setInterval(() => copy.requestScan(), options.pollIntervalMs);
    options.logger.info(
      { outbox_events: outbox.size, state_file: options.paths.snapshot, poll_interval_ms: options.pollIntervalMs, fs_watch: options.useFsWatch },
      'watching working copy',
    );
    return copy;
  }

  /** Scans now, or after the scan in progress, and resolves when that scan has finished. */
  scanNow(): Promise<void> {
    if (this.queuedScan) return this.queuedScan;
    const scan = this.scanChain.then(() => {
      this.queuedScan = null;
      return this.scanOnce();
    });
    this.queuedScan = scan;
    this.scanChain = scan;
    return scan;
  }

  /** Resolves once every queued event has been sent or dropped. */
  whenIdle(): Promise<void> {
    return this.sender.whenIdle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.pollTimer, this.debounceTimer, this.expiryTimer, this.confirmTimer, this.headTimer]) if (timer) clearTimeout(timer);
    for (const watcher of this.fsWatchers.values()) watcher.close();
    this.fsWatchers.clear();
    await this.scanChain;
    await this.sender.stop();
  }

  private requestScan(): void {
    if (this.stopped) return;
    if (this.options.useFsWatch && this.fsWatchers.size < 2) this.startFsWatch();
    void this.scanNow();
  }

  /** Records the current state without events: changes before the first start are not reported. */
  private async takeBaseline(): Promise<void> {
    const observed = await readWorkingCopy(this.ditsDir, this.snapshot, this.options.readRetry);
    this.logSkippedRefs(observed.skippedRefs);
    // Locks that had already expired before the first start are not reported as expiring now.
    const { locks } = diffLocks(new Map(), observed.locks, this.options.now());
    const baseline: Snapshot = { baseline: newBaselineId(), sequence: 0, refs: observed.refs, locks };
    await saveSnapshot(this.options.paths.snapshot, baseline);
    this.snapshot = baseline;
    this.scheduleExpiryTimer();
    this.logger.info({ branches: observed.refs.heads.size, tags: observed.refs.tags.size, locks: locks.size }, 'no watcher state yet; recorded the current state as the baseline');
  }

  private async scanOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.scanAndQueue();
      this.missingFolderMessage = null;
      this.scanErrorMessage = null;
    } catch (error) {
      if (error instanceof MissingDitsFolderError) {
        if (this.missingFolderMessage !== error.message) this.logger.warn({ err: error.message }, 'Dits folder missing or incomplete; scanning paused until it is complete');
        this.missingFolderMessage = error.message;
        return;
      }
      // Polling repeats a lasting failure twice a second, so each distinct failure is logged once until a scan succeeds.
      // A system error is identified by its code and call, because its message names a temporary file that differs each time.
      const system = error as NodeJS.ErrnoException;
      let message = error instanceof Error ? error.message : String(error);
      if (typeof system?.code === 'string') message = `${system.code} ${system.syscall ?? ''}`;
      if (message !== this.scanErrorMessage) this.logger.error({ err: error }, 'scanning the working copy failed; the next scan retries');
      this.scanErrorMessage = message;
    }
  }

  /**
   * Reports whether the outbox is too large to queue more, logging when that
   * changes. Changes made meanwhile are reported later against the last snapshot.
   */
  private outboxFull(): boolean {
    const full = this.outbox.bytes >= this.options.outboxPauseBytes;
    if (full && !this.pausedForOutbox) {
      this.logger.warn(
        { outbox: this.options.paths.outbox, queued_events: this.outbox.size, queued_bytes: this.outbox.bytes, pause_bytes: this.options.outboxPauseBytes },
        'the outbox is full; scanning pauses until the server takes queued events, and changes made meanwhile are sent together',
      );
    } else if (!full && this.pausedForOutbox) {
      this.logger.info({ queued_events: this.outbox.size, queued_bytes: this.outbox.bytes }, 'the outbox has room again; scanning goes on');
    }
    this.pausedForOutbox = full;
    return full;
  }

  private async scanAndQueue(): Promise<void> {
    if (this.outboxFull()) return;
    const previous = this.snapshot;
    const now = this.options.now();
    const acceptMissingLocks = this.locksMissingSince !== null && now - this.locksMissingSince >= LOCKS_MISSING_GRACE_MS;
    const observed = await readWorkingCopy(this.ditsDir, previous, this.options.readRetry, acceptMissingLocks);
    this.locksMissingSince = observed.locksFileMissing ? (this.locksMissingSince ?? now) : null;
    this.logSkippedRefs(observed.skippedRefs);
    this.noteUnreadable(observed.unready, now);
    const malformed = observed.malformedLocks.join('\n');
    if (malformed !== '' && malformed !== this.malformedLocksLogged) this.logger.warn({ locks: observed.malformedLocks }, 'malformed locks.json entries; kept their previous values');
    this.malformedLocksLogged = malformed;

    this.holdUnconfirmedDeletions(previous.refs, observed.refs);
    await this.holdHeadsWithoutCommit(previous.refs, observed.refs, now);
    const refEvents = await diffRefs(previous.refs, observed.refs, this.refEventContext());
    const lockDiff = diffLocks(previous.locks, observed.locks, this.options.now());
    const requests = [...refEvents, ...lockDiff.events];
    const next: Snapshot = { baseline: previous.baseline, sequence: previous.sequence + requests.length, refs: observed.refs, locks: lockDiff.locks };

    if (requests.length > 0) await this.queue(requests, previous.baseline, previous.sequence);
    // The outbox is synced before the snapshot moves on: a crash in between repeats events under the same keys instead of losing them.
    if (snapshotToJson(next) !== snapshotToJson(previous)) await saveSnapshot(this.options.paths.snapshot, next);
    this.snapshot = next;
    if (requests.length > 0) this.sender.notify();
    this.scheduleExpiryTimer();
  }

  /** Logs files that stay unreadable past UNREADABLE_WARN_MS, once each until they read again. */
  private noteUnreadable(files: string[], now: number): void {
    if (files.length > 0) this.logger.debug({ files }, 'files still being written; kept their previous values');
    const current = new Set(files);
    for (const file of this.unreadableSince.keys()) if (!current.has(file)) this.unreadableSince.delete(file);
    for (const file of files) {
      const entry = this.unreadableSince.get(file) ?? { since: now, warned: false };
      this.unreadableSince.set(file, entry);
      if (entry.warned || now - entry.since < UNREADABLE_WARN_MS) continue;
      entry.warned = true;
      this.logger.warn(
        { file: join('.dits', file) },
        `file unreadable for ${UNREADABLE_WARN_MS / 1000} s (a ref must be a small regular file with a 64-character object id, locks.json a regular file with a JSON object, both readable by this user); its previous value is kept and its changes are not sent until it reads again`,
      );
    }
  }

  private logSkippedRefs(skippedRefs: SkippedRef[]): void {
    const current = new Set<string>();
    for (const skipped of skippedRefs) {
      const key = `${skipped.reason} ${skipped.ref}`;
      current.add(key);
      if (this.skippedRefsLogged.has(key)) continue;
      this.logger.warn({ ref: skipped.ref }, SKIPPED_REF_MESSAGES[skipped.reason]);
    }
    this.skippedRefsLogged.clear();
    for (const key of current) this.skippedRefsLogged.add(key);
  }


  /**
   * Puts refs that went missing less than DELETION_CONFIRM_MS ago back into
   * `observed`, so that they are reported as deleted only when a later scan
   * still misses them, and schedules that scan.
   */
  private holdUnconfirmedDeletions(previous: RefHeads, observed: RefHeads): void {
    const now = performance.now();
    const missing = new Set<string>();
    let postponed = false;
    for (const kind of ['heads', 'tags'] as const) {
      for (const [name, id] of previous[kind]) {
        if (observed[kind].has(name)) continue;
        const key = `${kind}/${name}`;
        missing.add(key);
        const since = this.missingRefsSince.get(key) ?? now;
        this.missingRefsSince.set(key, since);
        if (now - since < DELETION_CONFIRM_MS) {
          observed[kind].set(name, id);
          postponed = true;
        }
      }
    }
    for (const key of [...this.missingRefsSince.keys()]) if (!missing.has(key)) this.missingRefsSince.delete(key);
    if (postponed && !this.confirmTimer && !this.stopped) {
      this.confirmTimer = setTimeout(() => {
        this.confirmTimer = null;
        this.requestScan();
      }, DELETION_CONFIRM_MS);
    }
  }

  /**
   * Puts the previous value back for refs that moved to a commit whose object
   * cannot be read yet, for up to HEAD_OBJECT_WAIT_MS, so that their events
   * list the commits once the object is complete. Meanwhile a timer scans
   * again every HEAD_OBJECT_RESCAN_MS, since objects are not watched.
   */
  private async holdHeadsWithoutCommit(previous: RefHeads, observed: RefHeads, now: number): Promise<void> {
    const waiting = new Set<string>();
    for (const kind of ['heads', 'tags'] as const) {
      for (const [name, id] of observed[kind]) {
        const before = previous[kind].get(name);
        if (before === id || (await this.reader.readCommit(id)) !== null) continue;
        const key = `${kind}/${name}@${id}`;
        waiting.add(key);
        const since = this.unreadableHeadsSince.get(key) ?? now;
        this.unreadableHeadsSince.set(key, since);
        if (now - since >= HEAD_OBJECT_WAIT_MS) continue;
        if (before === undefined) observed[kind].delete(name);
        else observed[kind].set(name, before);
      }
    }
    for (const key of [...this.unreadableHeadsSince.keys()]) if (!waiting.has(key)) this.unreadableHeadsSince.delete(key);
    if (waiting.size > 0 && !this.headTimer && !this.stopped) {
      this.headTimer = setTimeout(() => {
        this.headTimer = null;
        this.requestScan();
      }, HEAD_OBJECT_RESCAN_MS);
    }
  }

  /** Queues events of every kind. Their bodies pass through sendableBody here, so the outbox contains only text the server accepts. */
  private async queue(requests: EventRequest[], baseline: string, firstSequence: number): Promise<void> {
    const queuedAt = new Date().toISOString();
    const entries = requests.map((request, index) => ({
      key: idempotencyKey(this.repoKey, baseline, firstSequence + index + 1, request),
      body: sendableBody(request.body),
      queuedAt,
    }));
    await this.outbox.append(entries);
    for (const entry of entries) this.logger.info({ event: entry.body.event, idempotency_key: entry.key }, 'event queued');
  }

  private refEventContext(): RefEventContext {
    return {
      reader: this.reader,
      limits: this.options.limits,
      configuredLogin: this.options.configuredLogin,
      fallbackLogin: this.options.fallbackLogin,
      logger: this.logger,
    };
  }

  private scheduleExpiryTimer(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const next = nextExpiryMs(this.snapshot.locks);
    if (next === null || this.stopped) return;
    const delay = Math.min(Math.max(next - this.options.now() + 1, 0), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => this.requestScan(), delay);
  }

  private scheduleDebouncedScan(): void {
    if (this.debounceTimer || this.stopped) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      this.requestScan();
    }, this.options.debounceMs);
  }

  /**
   * Watches `.dits` itself for `locks.json` and the creation of `refs`, and
   * `.dits/refs` recursively (recursive watching works on Linux in Node 20,
   * checked with 20.20). The folder `objects` is left out because it contains
   * thousands of folders. Any watcher failure falls back to polling alone.
   */
  private startFsWatch(): void {
    this.addFsWatcher('dits', this.ditsDir, false, (name) => {
      if (name === null || name === 'locks.json' || name === 'refs') this.scheduleDebouncedScan();
    });
    this.addFsWatcher('refs', join(this.ditsDir, 'refs'), true, () => this.scheduleDebouncedScan());
  }

  private addFsWatcher(slot: 'dits' | 'refs', path: string, recursive: boolean, onChange: (name: string | null) => void): void {
    if (this.fsWatchers.has(slot) || this.stopped) return;
    try {
      const watcher = watch(path, { recursive }, (_event, name) => onChange(name === null ? null : String(name)));
      watcher.on('error', (error) => {
        this.logger.debug({ path, err: error.message }, 'file watcher failed; polling continues and the watcher is set up again');
        watcher.close();
        this.fsWatchers.delete(slot);
      });
      this.fsWatchers.set(slot, watcher);
    } catch (error) {
      // Usually the folder does not exist yet; polling notices when it appears.
      this.logger.debug({ path, err: (error as Error).message }, 'cannot watch folder yet; relying on polling');
    }
  }
}
