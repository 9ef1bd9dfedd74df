/**
 * A persisted queue of events waiting to be sent, one JSON Lines file per
 * working copy. Events are appended (and synced) before the snapshot that
 * produced them is saved, so a crash between the two writes repeats an event
 * rather than losing it.
 * A repeat carries the same Idempotency-Key, so the server ignores it.
 *
 * Lines are `{"type":"event","key","queued_at","body"}` and
 * `{"type":"done","key","outcome"}`. A line cut short by a crash fails to
 * parse and is skipped on load: its event is recomputed because its snapshot
 * was never saved. The file is rewritten with only the waiting events when
 * it is loaded, when the queue empties and after many completions.
 */
import { open } from 'node:fs/promises';
import { isRecord, readStateFile } from './dits-format.js';
import type { EventBody } from './event-request.js';
import { writeFileAtomic } from './snapshot.js';

export interface OutboxEntry {
  /** Idempotency-Key sent with the event. */
  key: string;
  body: EventBody;
  /** When the watcher queued the event, ISO 8601. */
  queuedAt: string;
}

export type SendOutcome = 'sent' | 'dropped';

/** Completions recorded before the file is rewritten without them. */
const COMPACT_AFTER_DONE_LINES = 1000;

function parseLine(line: string): { type: 'event'; entry: OutboxEntry } | { type: 'done'; key: string } | null {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(data) || typeof data.key !== 'string') return null;
  if (data.type === 'done') return { type: 'done', key: data.key };
  if (data.type !== 'event' || !isRecord(data.body) || typeof data.body.event !== 'string' || typeof data.queued_at !== 'string') return null;
  return { type: 'event', entry: { key: data.key, body: data.body as EventBody, queuedAt: data.queued_at } };
}

function eventLine(entry: OutboxEntry): string {
  return JSON.stringify({ type: 'event', key: entry.key, queued_at: entry.queuedAt, body: entry.body }) + '\n';
}

export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  /** Bytes of each waiting event's line in the file, by key. */
  private readonly lineBytes = new Map<string, number>();
  private waitingBytes = 0;
  private doneLines = 0;
  /** Serializes file writes: a rewrite (rename) racing an append would lose the append. */
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(readonly path: string) {}

  /** Loads the outbox at `path` (missing means empty) and rewrites it with only the waiting events. */
  static async open(path: string): Promise<{ outbox: Outbox; skippedLines: number }> {
    const outbox = new Outbox(path);
    const text = (await readStateFile(path, 'outbox file')) ?? '';
    let skippedLines = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const parsed = parseLine(line);
      if (!parsed) skippedLines++;
      else if (parsed.type === 'done') outbox.forget(parsed.key);
      else if (!outbox.entries.has(parsed.entry.key)) outbox.remember(parsed.entry);
    }
    if (text !== '') await outbox.rewrite();
    return { outbox, skippedLines };
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes that the waiting events take in the file. */
  get bytes(): number {
    return this.waitingBytes;
  }

  private remember(entry: OutboxEntry): void {
    const bytes = Buffer.byteLength(eventLine(entry));
    this.entries.set(entry.key, entry);
    this.lineBytes.set(entry.key, bytes);
    this.waitingBytes += bytes;
  }

  private forget(key: string): void {
    this.entries.delete(key);
    this.waitingBytes -= this.lineBytes.get(key) ?? 0;
    this.lineBytes.delete(key);
  }

  /** Returns the oldest waiting event without removing it. */
  peek(): OutboxEntry | undefined {
    return this.entries.values().next().value;
  }

  /**
   * Replaces the body of a waiting event in memory only: the file keeps the
   * body as queued, so a restart sends that again and shrinks it again.
   */
  replaceBody(key: string, body: EventBody): void {
    const entry = this.entries.get(key);
    if (entry) this.entries.set(key, { ...entry, body });
  }

  /** Appends events in order and syncs the file; events whose key is already waiting are skipped. */
  async append(entries: OutboxEntry[]): Promise<void> {
    const fresh = entries.filter((entry, index) => !this.entries.has(entry.key) && entries.findIndex((e) => e.key === entry.key) === index);
    if (fresh.length === 0) return;
    await this.serialized(async () => {
      await this.appendText(fresh.map(eventLine).join(''));
      // Inside the serialized write, so that a rewrite queued behind it keeps these events.
      for (const entry of fresh) this.remember(entry);
    });
  }

  /**
   * Removes an event from the queue after it was sent or dropped. The event
   * leaves memory only once the file records its completion, so an empty
   * queue always means an outbox file without waiting events.
   */
  async complete(key: string, outcome: SendOutcome): Promise<void> {
    if (!this.entries.has(key)) return;
    await this.serialized(async () => {
      if (this.entries.size === 1 || this.doneLines + 1 >= COMPACT_AFTER_DONE_LINES) {
        await this.rewrite(key);
      } else {
        await this.appendText(JSON.stringify({ type: 'done', key, outcome }) + '\n');
        this.doneLines++;
      }
      this.forget(key);
    });
  }

  private serialized<T>(write: () => Promise<T>): Promise<T> {
    const result = this.writes.then(write);
    this.writes = result.catch(() => undefined);
    return result;
  }

  private async appendText(text: string): Promise<void> {
    const handle = await open(this.path, 'a');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** Replaces the file with the waiting events, leaving out `completedKey`. */
  private async rewrite(completedKey?: string): Promise<void> {
    const waiting = [...this.entries.values()].filter((entry) => entry.key !== completedKey);
    await writeFileAtomic(this.path, waiting.map(eventLine).join(''));
    this.doneLines = 0;
  }
}
