/**
 * The file state store: the embedded default, one directory, no server.
 *
 * Durability (RFC 8613 Appendix B.1.1, B.1.2):
 * - Counters (Sender Sequence Numbers, `count_q`, `count_v`) are reserved in blocks:
 *   the new high-water mark is written — temp file, fsync, rename, fsync of the
 *   directory — before any value of the block is handed out. A crash skips the rest of
 *   the block and never repeats a value. One write per block (K values), none per message.
 * - Replay windows live in memory and are written when the store closes cleanly (and on
 *   normal process exit). Opening the store durably marks the state "in use" before
 *   anything is served; if the process dies without closing, the next open finds the mark
 *   and treats every window as lost, so freshness is proved again with Echo (B.1.2)
 *   instead of trusting a window that may miss requests accepted after it was written.
 *   A window the state file does not list yet is written to it (synchronously, once)
 *   before its first request counts: only listed windows can be marked lost, and one a
 *   crashed process used but never wrote would be trusted again as new two starts later.
 *   Two writes per process lifetime for all windows, plus at most one per new window:
 *   bounded write amplification.
 * - One process at a time (directory-lock.ts): a lock file that names its owner, taken over
 *   only when its owner is provably gone; the owner checks it still holds the lock before
 *   every durable reservation and before the final save. Within a process, stores of one
 *   directory (by its real path) are shared.
 * - A state file that is not exactly what this store writes is refused with a typed error,
 *   never read as empty: starting counters from zero would reuse nonces.
 */

import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OscoreError, StateFileCorruptError, StateStoreUnavailableError } from '../errors.js';
import { ReplayWindow, type ReplayWindowState } from '../replay/replay-window.js';
import { WindowHandle } from './window-handle.js';
import { acquireDirectoryLock, StateDirectoryInUseError, type DirectoryLock } from './directory-lock.js';
import type { StateStore } from './state-store.js';

export { StateDirectoryInUseError } from './directory-lock.js';

const FORMAT = 'oscore-http-state/1';

interface StateFile {
  readonly format: typeof FORMAT;
  /** False while a process uses the state: if it is still false at the next open, that process died. */
  readonly clean: boolean;
  readonly counters: Record<string, number>;
  readonly windows: Record<string, ReplayWindowState>;
}

function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` to `file` atomically and durably (write temp, fsync, rename, fsync directory).
 * The synchronous and asynchronous writers use different temp files: the exit-time save can
 * run while an asynchronous write is half done. Temp files are named by the lock owner's
 * nonce (`id`), not its pid: two owners of one shared directory on two hosts are often
 * both pid 1, and a stalled one would go on writing into the other's temp file.
 */
function writeAtomicSync(directory: string, file: string, id: string, data: string): void {
  const temp = `${file}.${id}.sync.tmp`;
  try {
    const fd = openSync(temp, 'w', 0o600);
    try {
      // writeFileSync writes all of it or throws (a bare writeSync may write part on a full disk).
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    removeQuietly(temp);
    throw err;
  }
  fsyncDirectory(directory);
}

/** Removes a temp file of a failed write, without hiding that write's error behind its own. */
function removeQuietly(temp: string): void {
  try {
    rmSync(temp, { force: true });
  } catch {
    // the write's error says what went wrong
  }
}

/**
 * The asynchronous writer, for reservations. `owns` is asked right before the rename, with
 * nothing awaited in between: an owner that stalled during the write (longer than the
 * lock's staleness, so another process may have taken the directory over) must not put its
 * older state over the new owner's. Nor over this owner's own newer content: `superseded`
 * says a synchronous write since replaced the file, and this one is dropped.
 */
async function writeAtomic(directory: string, file: string, id: string, data: string, owns: () => boolean, superseded: () => boolean): Promise<void> {
  const temp = `${file}.${id}.async.tmp`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (!owns()) throw new Error('the lock of the state directory was taken over by another process during the write');
    if (superseded()) {
      removeQuietly(temp);
      return; // the file already holds newer content, written and synced by the synchronous writer
    }
    renameSync(temp, file);
  } catch (err) {
    removeQuietly(temp);
    throw err;
  }
  const dir = await open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Far above any real state (a few hundred bytes per context); a bound before reading. */
const MAX_STATE_FILE = 64 * 1024 * 1024;

/**
 * The state file, if there is one. Only a regular file counts: a symbolic link is refused,
 * since a dangling one (a volume not mounted yet) would read as "no state" and start the
 * counters again, and the first write would replace a good one by a file of its own; a
 * FIFO or device would block or never end.
 */
function readStateFileIfAny(file: string): StateFile | undefined {
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (st.isSymbolicLink()) throw new StateFileCorruptError(file, 'it is a symbolic link; the store writes this file itself, so link the whole state directory instead');
  if (!st.isFile()) throw new StateFileCorruptError(file, 'it is not a regular file');
  if (st.size > MAX_STATE_FILE) throw new StateFileCorruptError(file, `it is larger than ${MAX_STATE_FILE} bytes`);
  return readStateFile(file);
}

/** Reads and checks the state file; anything else than what this store writes is refused. */
function readStateFile(file: string): StateFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new StateFileCorruptError(file, 'it is not JSON', { cause });
  }
  const f = parsed as Partial<StateFile> | null;
  const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isRecord(f) || f.format !== FORMAT) throw new StateFileCorruptError(file, `it is not an ${FORMAT} file`);
  if (typeof f.clean !== 'boolean') throw new StateFileCorruptError(file, '"clean" is not a boolean');
  if (!isRecord(f.counters) || !Object.values(f.counters).every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) {
    throw new StateFileCorruptError(file, '"counters" is not a map of non-negative integers');
  }
  if (!isRecord(f.windows)) throw new StateFileCorruptError(file, '"windows" is not a map');
  for (const [key, w] of Object.entries(f.windows)) {
    try {
      const state = w as ReplayWindowState;
      if (!isRecord(state) || !Array.isArray(state.bitmap) || !state.bitmap.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xffffffff) || (state.known !== undefined && typeof state.known !== 'boolean')) throw new RangeError();
      new ReplayWindow(state.size, state); // checks size, highest and the bitmap length
    } catch {
      throw new StateFileCorruptError(file, `the replay window "${key}" is malformed`);
    }
  }
  return f as StateFile;
}

/**
 * Open stores by real path. On globalThis, so that two copies of this module in one
 * process share it; worker threads have their own, and the lock tells them apart.
 */
const open_ = ((globalThis as Record<symbol, unknown>)[Symbol.for('oscore-http.file-stores')] ??= new Map()) as Map<string, { store: FileStateStore; users: number }>;

/** A state store in one directory. Obtain it with {@link openFileStateStore}. */
export class FileStateStore implements StateStore {
  readonly name: string;
  readonly directory: string;
  readonly #file: string;
  readonly #lock: DirectoryLock;
  readonly #counters: Record<string, number>;
  readonly #windows = new Map<string, ReplayWindow>();
  readonly #saved: Record<string, ReplayWindowState>;
  /** Windows the state file does not list yet (see the module comment). */
  readonly #unlisted = new Set<string>();
  /** Synchronous writes so far: an asynchronous write prepared before one of them is stale. */
  #syncWrites = 0;
  /** Whether the previous process closed cleanly: if not, every window is lost. */
  readonly #windowsKnown: boolean;
  #queue: Promise<void> = Promise.resolve();
  #writing = false;
  readonly #waiting: { key: string; count: number; resolve: (first: number) => void; reject: (err: unknown) => void }[] = [];
  #closed = false;
  #writes = 0;
  /** Set when close() begins: no new reservation is accepted while the last writes finish. */
  #closing = false;
  readonly #onExit = () => {
    try {
      this.#saveSync();
    } catch {
      // A full or read-only disk at exit: the state stays marked in use, so the next process
      // treats the windows as lost and proves freshness again (safe), instead of this process
      // dying with a stack trace on its way out.
    }
  };

  /** @internal Use {@link openFileStateStore}. */
  constructor(directory: string) {
    this.directory = directory;
    this.name = `file:${directory}`;
    this.#file = join(directory, 'state.json');
    this.#lock = acquireDirectoryLock(directory, join(directory, 'lock'));
    try {
      const previous = readStateFileIfAny(this.#file);
      this.#counters = { ...previous?.counters };
      this.#windowsKnown = previous === undefined || previous.clean;
      this.#saved = {};
      for (const [key, state] of Object.entries(previous?.windows ?? {})) {
        // After a crash every window is lost, also those this process never touches: written
        // back as known, they would be trusted by the next process (Appendix B.1.2).
        this.#saved[key] = this.#windowsKnown ? state : { ...state, known: false };
      }
      // Mark the state in use, durably, before anything is served (see the module comment).
      this.#writeSync(false);
    } catch (err) {
      this.#lock.release();
      throw err;
    }
    process.once('exit', this.#onExit);
  }

  #content(clean: boolean): string {
    const windows: Record<string, ReplayWindowState> = { ...this.#saved };
    for (const [key, window] of this.#windows) windows[key] = window.snapshot();
    const file: StateFile = { format: FORMAT, clean, counters: this.#counters, windows };
    return JSON.stringify(file);
  }

  #writeSync(clean: boolean): void {
    writeAtomicSync(this.directory, this.#file, this.#lock.id, this.#content(clean));
    this.#writes++;
    this.#syncWrites++;
    this.#unlisted.clear();
  }

  /** Lists a new window in the state file before its first update (see the module comment). */
  #list(key: string): void {
    if (!this.#unlisted.has(key)) return;
    try {
      if (!this.#lock.held()) throw new Error(`the lock of ${this.directory} was taken over by another process`);
      this.#writeSync(false);
    } catch (cause) {
      // Not listed: the request must not count (and is refused with 5.03), or a crash would forget it.
      throw new StateStoreUnavailableError(this.name, { cause });
    }
  }

  /** Durable writes of the state file so far: one at open, one per reservation batch, one at close. */
  get writes(): number {
    return this.#writes;
  }

  /** Writes the windows and the clean mark synchronously (close and process exit). */
  #saveSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    process.removeListener('exit', this.#onExit);
    try {
      // A store whose lock was taken over (after a stall longer than the lock's staleness)
      // must not write over the new owner's state.
      if (this.#lock.held()) this.#writeSync(true);
    } catch (cause) {
      // Not saved: the state stays marked in use, so the next open treats every window as
      // lost (safe); counters were durable before any value was used.
      throw new StateStoreUnavailableError(this.name, { cause });
    } finally {
      this.#lock.release();
    }
  }

  reserve(key: string, count: number): Promise<number> {
    if (this.#closed || this.#closing) return Promise.reject(new StateStoreUnavailableError(this.name));
    return new Promise((resolve, reject) => {
      this.#waiting.push({ key, count, resolve, reject });
      if (!this.#writing) this.#queue = this.#flush();
    });
  }

  /** Serves every waiting reservation with one durable write. */
  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0);
        const firsts = batch.map(({ key, count }) => {
          const first = this.#counters[key] ?? 0;
          this.#counters[key] = first + count;
          return first;
        });
        try {
          const owns = () => this.#lock.held();
          if (!owns()) throw new Error(`the lock of ${this.directory} was taken over by another process`);
          const listed = [...this.#unlisted];
          const syncWrites = this.#syncWrites;
          // A synchronous write (a new window's) since this content was made wrote these
          // counters too, and more: renaming this older content over it would unlist the window.
          const superseded = () => this.#syncWrites !== syncWrites;
          await writeAtomic(this.directory, this.#file, this.#lock.id, this.#content(false), owns, superseded);
          this.#writes++;
          for (const key of listed) this.#unlisted.delete(key);
          // Checked once more before any value is used: a new owner that took the directory over
          // before the rename above read the state without this block and may hand it out too.
          if (!owns()) throw new Error(`the lock of ${this.directory} was taken over by another process`);
          batch.forEach((w, i) => w.resolve(firsts[i]!));
        } catch (cause) {
          // Not durable: the values must not be used; the counter keeps its advance (skipping is safe).
          for (const w of batch) w.reject(new StateStoreUnavailableError(this.name, { cause }));
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  replayWindow(key: string, size: number): WindowHandle {
    let window = this.#windows.get(key);
    if (window === undefined || window.size !== size) {
      const saved = this.#saved[key];
      if (window !== undefined) window = ReplayWindow.resized({ highest: window.highest, known: window.known }, size);
      else if (!this.#windowsKnown) window = ReplayWindow.lost(size);
      else if (saved !== undefined && saved.size === size) window = new ReplayWindow(size, saved);
      else if (saved !== undefined) window = ReplayWindow.resized(saved, size);
      else window = new ReplayWindow(size);
      if (saved === undefined && !this.#windows.has(key)) this.#unlisted.add(key);
      this.#windows.set(key, window);
    }
    // Closed once the windows are saved (#saveSync): checks until then are in the file.
    return new WindowHandle(() => (this.#closed ? undefined : this.#windows.get(key)), this.name, () => this.#list(key));
  }

  /** Persists the windows, marks the state clean and releases the directory. */
  async close(): Promise<void> {
    const entry = open_.get(this.directory);
    if (entry !== undefined && entry.store === this && --entry.users > 0) return;
    this.#closing = true;
    try {
      await this.#queue;
      this.#saveSync();
    } finally {
      // Only now: an open during close() must not start a second owner beside this one.
      if (open_.get(this.directory)?.store === this) open_.delete(this.directory);
    }
  }
}

/**
 * Opens (or shares, within this process) the file store of `directory`.
 * @throws {StateDirectoryInUseError} if another live process uses the directory; {StateFileCorruptError}
 * if its state file is not one this store wrote; {StateStoreUnavailableError} if the directory
 * cannot be made, read or written.
 *
 * @example
 * ```ts
 * import { openFileStateStore } from '@oscore-http/core/file-store';
 * const state = openFileStateStore('/var/lib/orders/oscore');
 * const ctx = createSecurityContext({ ...params, state });
 * ```
 */
export function openFileStateStore(directory: string): FileStateStore {
  try {
    return openOrShare(directory);
  } catch (err) {
    if (err instanceof OscoreError) throw err;
    // The directory cannot be made, read or written (EACCES, ENOSPC, EROFS, a file in its place, ...).
    throw new StateStoreUnavailableError(`file:${resolve(directory)}`, { cause: err });
  }
}

function openOrShare(directory: string): FileStateStore {
  mkdirSync(resolve(directory), { recursive: true, mode: 0o700 });
  // By real path: one directory under two spellings (a symlink) is one store, one lock.
  const dir = realpathSync(resolve(directory));
  const entry = open_.get(dir);
  if (entry !== undefined) {
    if (entry.users === 0) throw new StateDirectoryInUseError(dir, 'this process, which is closing it (open it again once close() has resolved)');
    entry.users++;
    return entry.store;
  }
  const store = new FileStateStore(dir);
  open_.set(dir, { store, users: 1 });
  return store;
}

