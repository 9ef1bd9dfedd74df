/**
 * Names a delivery worker or a service process by host, PID namespace and
 * process id, and reports from such a name whether that process has ended.
 * SQLite workers use it to free the leases a crashed worker left behind, and
 * maintenance commands to skip the records of crashed services.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Returns `<host>-<pid namespace>-<pid>`, which names this process among
 * every worker that can share a SQLite file. The namespace (the inode of
 * /proc/self/ns/pid on Linux, `0` where that is unknown) distinguishes
 * containers that share a host name, whose process ids mean nothing here.
 */
export function processIdentity(): string {
  return `${hostname()}-${pidNamespace() ?? '0'}-${process.pid}`;
}

let cachedNamespace: string | null | undefined;

function pidNamespace(): string | null {
  if (cachedNamespace === undefined) {
    try {
      cachedNamespace = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? null;
    } catch {
      cachedNamespace = null;
    }
  }
  return cachedNamespace;
}

/** Reports whether a process has ended: it no longer exists, or it is a zombie waiting to be reaped. */
function processEnded(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as { code?: string }).code === 'ESRCH';
  }
  try {
    // The state follows the command name, which is in parentheses and may itself contain them.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

/**
 * Reports whether a worker or service name belongs to a process that has
 * ended, judged only for names in this host and PID namespace
 * (`worker-<host>-<namespace>-<pid>-<random>`, or `service-` in front). Any
 * other name, or one whose process still runs, counts as alive: leases then
 * expire as usual, and service records once they are no longer refreshed.
 */
export function isEndedProcess(name: string): boolean {
  return processState(name) === 'ended';
}

/**
 * Reports whether the process behind a worker or service name has ended or
 * still runs, or `unknown` for a name from another host or PID namespace.
 */
export function processState(name: string): 'ended' | 'running' | 'unknown' {
  const namespace = pidNamespace();
  if (namespace === null) return 'unknown';
  const match = /^(?:worker|service)-(.+)-(\d+)-(\d+)-[0-9a-f]{8}$/.exec(name);
  if (!match || match[1] !== hostname() || match[2] !== namespace) return 'unknown';
  const pid = Number(match[3]);
  if (pid === process.pid) return 'running';
  return processEnded(pid) ? 'ended' : 'running';
}
