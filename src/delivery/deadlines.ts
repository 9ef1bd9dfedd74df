/** A deadline that can be cancelled; `cancel` is cheap and idempotent. */
export interface Deadline {
  cancel(): void;
}

interface Entry extends Deadline {
  at: number;
  expire: () => void;
}

/**
 * Runs callbacks at deadlines with one timer for all of them, instead of a
 * timer and an AbortController per request. Entries are grouped by delay:
 * within a group, insertion order is deadline order, so the oldest entry of
 * each group is the next to expire, and a cancelled entry leaves its group
 * at once. A worker uses two delays (response headers and body).
 */
export class DeadlineQueue {
  private readonly groups = new Map<number, Set<Entry>>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Calls `expire` once `delayMs` have passed, unless cancelled first. */
  add(delayMs: number, expire: () => void): Deadline {
    let group = this.groups.get(delayMs);
    if (!group) {
      group = new Set();
      this.groups.set(delayMs, group);
    }
    const members = group;
    const entry: Entry = {
      at: this.clock() + delayMs,
      expire,
      cancel() {
        members.delete(entry);
      },
    };
    members.add(entry);
    if (entry.at < this.timerAt) this.arm(entry.at);
    return entry;
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(at - this.clock())));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = this.clock();
    const due: Entry[] = [];
    let next = Infinity;
    for (const group of this.groups.values()) {
      for (const entry of group) {
        if (entry.at > now) {
          next = Math.min(next, entry.at);
          break;
        }
        group.delete(entry);
        due.push(entry);
      }
    }
    if (next !== Infinity) this.arm(next);
    for (const entry of due) entry.expire();
  }
}
