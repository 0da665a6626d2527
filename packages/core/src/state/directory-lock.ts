/**
 * The file store's directory lock: one owner per state directory, so that two processes
 * never hand out the same sequence numbers (RFC 8613 §7.2.1, Appendix B.1.1).
 *
 * - The lock file is created complete in one step: the owner's token is written to a
 *   private temp file, which is then hard-linked to `lock` (the link fails if a lock exists).
 * - The token says who owns it: pid, the process's start time, where it runs (host name,
 *   boot id, PID namespace) and a random nonce. In the same place, a lock is stale when its
 *   process is gone, or when its pid now belongs to another process (another start time) —
 *   a container restarted with the same pid is a new incarnation. A lock with this
 *   process's own pid and start time belongs to another isolate of this process (a worker,
 *   a second copy of the module) and is in use. A lock from another host or PID namespace
 *   (a volume shared between containers) cannot be checked that way: the owner refreshes
 *   the lock's mtime every {@link LOCK_HEARTBEAT_MS}, and only a lock not refreshed for
 *   {@link LOCK_STALE_MS} is stale. Both sides read the time off the file system (the
 *   mtime of a file each has just written), never their own clocks: hosts whose clocks
 *   differ would otherwise take a live owner's lock, or wait for a dead one's forever.
 * - A stale lock is removed only under a short takeover lock (created the same way), after
 *   reading it again: it is moved aside and checked to be the one judged stale.
 * - The owner checks that the lock is still its own before every durable reservation.
 */

import { linkSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { OscoreError } from '../errors.js';

/** How often the owner refreshes the lock's mtime. */
export const LOCK_HEARTBEAT_MS = 10_000;
/** A lock from another host or PID namespace not refreshed for this long is stale. */
export const LOCK_STALE_MS = 60_000;

/** Thrown when another live process holds the directory. */
export class StateDirectoryInUseError extends OscoreError {
  readonly code = 'ERR_OSCORE_STATE_DIRECTORY_IN_USE';
  readonly outcome = undefined;
  constructor(directory: string, owner: string) {
    super(`The OSCORE state directory ${directory} is in use by ${owner}; give each process its own state directory (two processes must never share sequence numbers). A lock left by a process on another host is taken over ${LOCK_STALE_MS / 1000} s after its last heartbeat.`);
  }
}

interface LockToken {
  readonly pid: number;
  /** Start time of the process (Linux: /proc/<pid>/stat field 22), or null where unknown. */
  readonly start: string | null;
  /** Host name, boot id and PID namespace: where `pid` means this process. */
  readonly where: string;
  readonly nonce: string;
}

function readOptional(read: () => string): string {
  try {
    return read().trim();
  } catch {
    return '';
  }
}

function processStart(pid: number): string | null {
  const stat = readOptional(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  if (stat === '') return null;
  // Fields after "(comm)": state is field 3, starttime field 22.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

const WHERE = [hostname(), readOptional(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')), readOptional(() => readlinkSync('/proc/self/ns/pid'))].join('|');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock file's content and mtime, or undefined if there is none. */
function readLock(file: string): { content: string; mtimeMs: number; ino: number } | undefined {
  try {
    const st = statSync(file);
    // Anything but a regular file (a FIFO would block the read) holds no token: an unreadable lock.
    return { content: st.isFile() ? readFileSync(file, 'utf8') : '', mtimeMs: st.mtimeMs, ino: st.ino };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parse(content: string): LockToken | undefined {
  try {
    const t = JSON.parse(content) as Partial<LockToken>;
    if (typeof t.pid === 'number' && typeof t.where === 'string' && typeof t.nonce === 'string' && (t.start === null || typeof t.start === 'string')) return t as LockToken;
  } catch {
    // below
  }
  // A lock of an earlier version of this store: the bare pid, on this host.
  const pid = Number(content);
  return Number.isInteger(pid) && pid > 0 ? { pid, start: null, where: WHERE, nonce: '' } : undefined;
}

function describe(content: string): string {
  const t = parse(content);
  if (t === undefined) return 'an unreadable lock';
  const host = t.where.split('|')[0];
  return t.where === WHERE ? `process ${t.pid}` : `process ${t.pid} on ${host || 'another host'} (another host or PID namespace)`;
}

/** The file system's time now: the mtime of `probe`, written just now (on a network file system, by its server's clock). */
function fileSystemNow(probe: string): Date {
  writeFileSync(probe, '', { mode: 0o600 });
  try {
    return statSync(probe).mtime;
  } finally {
    rmSync(probe, { force: true });
  }
}

/**
 * Whether the lock with `content` (refreshed at `mtimeMs`) may be taken over by `own`;
 * `now` is the file system's time, in ms.
 */
function isStale(content: string, mtimeMs: number, own: LockToken, now: number): boolean {
  const t = parse(content);
  if (t === undefined) return now - mtimeMs > LOCK_STALE_MS; // half-written by a foreign tool: give it time
  if (t.where !== WHERE) return now - mtimeMs > LOCK_STALE_MS;
  if (t.pid === own.pid) return own.start === null || t.start !== own.start || released.has(t.nonce); // same start: another isolate of this process, unless it gave the lock up
  if (!alive(t.pid)) return true;
  return t.start !== null && processStart(t.pid) !== t.start; // the pid was reused
}

/**
 * Nonces of locks this process gave up but could not remove. On globalThis, so that two
 * copies of this module in one process agree; a worker thread has a globalThis of its own
 * and treats such a lock as another isolate's (in use).
 */
const released = ((globalThis as Record<symbol, unknown>)[Symbol.for('oscore-http.released-locks')] ??= new Set<string>()) as Set<string>;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A held directory lock. */
export interface DirectoryLock {
  /** This owner's random nonce: names its temporary files, which two owners (two pid 1s on two hosts) must never share. */
  readonly id: string;
  /** Whether the lock file is still this owner's (another process may have taken it over after a long stall). */
  held(): boolean;
  /** Removes the lock (only if it is still this owner's). */
  release(): void;
}

/**
 * Takes the lock of `directory` (file `lock`) for this process.
 * @throws {StateDirectoryInUseError} if a live process (or another isolate of this one) holds it.
 */
export function acquireDirectoryLock(directory: string, lock: string): DirectoryLock {
  const own: LockToken = { pid: process.pid, start: processStart(process.pid), where: WHERE, nonce: randomBytes(12).toString('hex') };
  const content = JSON.stringify(own);
  const temp = `${lock}.${own.nonce}.tmp`;
  const probe = `${lock}.${own.nonce}.now`;
  const takeover = `${lock}.takeover`;
  writeFileSync(temp, content, { mode: 0o600 });
  try {
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline) {
      try {
        linkSync(temp, lock);
        return heldLock(lock, content, probe, own.nonce);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const current = readLock(lock);
      if (current === undefined) continue;
      if (!isStale(current.content, current.mtimeMs, own, fileSystemNow(probe).getTime())) throw new StateDirectoryInUseError(directory, describe(current.content));
      if (!takeOver(lock, takeover, temp, probe, current, own)) pause(5);
    }
    throw new StateDirectoryInUseError(directory, 'another process taking it over at the same time');
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Removes the stale lock `judged` (its content and inode: a FIFO or directory has no content
 * to tell it apart) under the takeover lock; false if the takeover lock is busy.
 */
function takeOver(lock: string, takeover: string, temp: string, probe: string, judged: { content: string; ino: number }, own: LockToken): boolean {
  const same = (found: { content: string; ino: number } | undefined) => found !== undefined && found.content === judged.content && found.ino === judged.ino;
  try {
    linkSync(temp, takeover);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = readLock(takeover);
    // A takeover lock whose holder is gone (it crashed inside the takeover) is removed, if still the same file.
    if (holder !== undefined && isStale(holder.content, holder.mtimeMs, own, fileSystemNow(probe).getTime()) && readLock(takeover)?.ino === holder.ino) rmSync(takeover, { force: true });
    return false;
  }
  try {
    if (!same(readLock(lock))) return true; // changed meanwhile: judge again
    const aside = `${lock}.${own.nonce}.stale`;
    renameSync(lock, aside);
    // Read as the lock was judged (readLock): a FIFO or directory in its place neither blocks nor throws here.
    if (same(readLock(aside))) {
      rmSync(aside, { recursive: true, force: true });
      return true;
    }
    // Not the lock judged stale (it was replaced in between): put it back, never remove it.
    try {
      linkSync(aside, lock);
      rmSync(aside, { force: true });
    } catch {
      // A newer lock is in place already, or this one cannot be linked back: it stays aside.
    }
    return true;
  } finally {
    if (readLock(takeover)?.ino === statSync(temp).ino) unlinkSync(takeover);
  }
}

function heldLock(lock: string, content: string, probe: string, id: string): DirectoryLock {
  const held = () => readLock(lock)?.content === content;
  const timer = setInterval(() => {
    try {
      if (held()) {
        const now = fileSystemNow(probe);
        utimesSync(lock, now, now);
      }
    } catch {
      // checked again before every reservation
    }
  }, LOCK_HEARTBEAT_MS);
  timer.unref();
  return {
    id,
    held,
    release() {
      clearInterval(timer);
      try {
        if (held()) rmSync(lock, { force: true });
      } catch {
        // A read-only or failing file system: the lock stays, but this owner is done with it,
        // so this process may take it over when it opens the directory again.
        released.add(id);
      }
    },
  };
}

/** @internal For tests: this process's lock token as it would be written. */
export function lockTokenForTests(overrides: Partial<LockToken> = {}): string {
  return JSON.stringify({ pid: process.pid, start: processStart(process.pid), where: WHERE, nonce: 'test', ...overrides });
}
