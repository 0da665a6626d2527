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
 *   Two writes per process lifetime for all windows: bounded write amplification.
 * - One process at a time: a lock file holds the owner's pid; a stale lock (its process
 *   gone) is taken over. Within a process, stores of one directory are shared.
 */

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StateStoreUnavailableError } from '../errors.js';
import { ReplayWindow, type ReplayWindowState } from '../replay/replay-window.js';
import type { StateStore } from './state-store.js';

const FORMAT = 'oscore-http-state/1';

interface StateFile {
  readonly format: typeof FORMAT;
  /** False while a process uses the state: if it is still false at the next open, that process died. */
  readonly clean: boolean;
  readonly counters: Record<string, number>;
  readonly windows: Record<string, ReplayWindowState>;
}

/** Thrown when another live process holds the directory. */
export class StateDirectoryInUseError extends Error {
  readonly code = 'ERR_OSCORE_STATE_DIRECTORY_IN_USE';
  constructor(directory: string, pid: number) {
    super(`The OSCORE state directory ${directory} is in use by process ${pid}; give each process its own state directory (two processes must never share sequence numbers).`);
    this.name = 'StateDirectoryInUseError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
 * run while an asynchronous write is half done.
 */
function writeAtomicSync(directory: string, file: string, data: string): void {
  const temp = `${file}.${process.pid}.sync.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  fsyncDirectory(directory);
}

async function writeAtomic(directory: string, file: string, data: string): Promise<void> {
  const temp = `${file}.${process.pid}.async.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const dir = await open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

const open_ = new Map<string, { store: FileStateStore; users: number }>();

/** A state store in one directory. Obtain it with {@link openFileStateStore}. */
export class FileStateStore implements StateStore {
  readonly name: string;
  readonly directory: string;
  readonly #file: string;
  readonly #lock: string;
  readonly #counters: Record<string, number>;
  readonly #windows = new Map<string, ReplayWindow>();
  readonly #saved: Record<string, ReplayWindowState>;
  /** Whether the previous process closed cleanly: if not, every window is lost. */
  readonly #windowsKnown: boolean;
  #queue: Promise<void> = Promise.resolve();
  #writing = false;
  readonly #waiting: { key: string; count: number; resolve: (first: number) => void; reject: (err: unknown) => void }[] = [];
  #closed = false;
  #writes = 0;
  /** Set when close() begins: no new reservation is accepted while the last writes finish. */
  #closing = false;
  readonly #onExit = () => this.#saveSync();

  /** @internal Use {@link openFileStateStore}. */
  constructor(directory: string) {
    this.directory = directory;
    this.name = `file:${directory}`;
    this.#file = join(directory, 'state.json');
    this.#lock = join(directory, 'lock');
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    this.#acquireLock();
    let previous: StateFile | undefined;
    if (existsSync(this.#file)) {
      previous = JSON.parse(readFileSync(this.#file, 'utf8')) as StateFile;
      if (previous.format !== FORMAT) throw new Error(`${this.#file} is not an ${FORMAT} file`);
    }
    this.#counters = { ...previous?.counters };
    this.#saved = { ...previous?.windows };
    this.#windowsKnown = previous === undefined || previous.clean;
    // Mark the state in use, durably, before anything is served (see the module comment).
    this.#writeSync(false);
    process.once('exit', this.#onExit);
  }

  #acquireLock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.#lock, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(readFileSync(this.#lock, 'utf8'));
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new StateDirectoryInUseError(this.directory, pid);
        rmSync(this.#lock, { force: true }); // stale: its process is gone
      }
    }
    throw new StateDirectoryInUseError(this.directory, -1);
  }

  #content(clean: boolean): string {
    const windows: Record<string, ReplayWindowState> = { ...this.#saved };
    for (const [key, window] of this.#windows) windows[key] = window.snapshot();
    const file: StateFile = { format: FORMAT, clean, counters: this.#counters, windows };
    return JSON.stringify(file);
  }

  #writeSync(clean: boolean): void {
    writeAtomicSync(this.directory, this.#file, this.#content(clean));
    this.#writes++;
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
      this.#writeSync(true);
    } finally {
      rmSync(this.#lock, { force: true });
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
          await writeAtomic(this.directory, this.#file, this.#content(false));
          this.#writes++;
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

  replayWindow(key: string, size: number): ReplayWindow {
    let window = this.#windows.get(key);
    if (window !== undefined && window.size === size) return window;
    const saved = this.#saved[key];
    if (!this.#windowsKnown) window = ReplayWindow.lost(size);
    else if (saved !== undefined && saved.size === size) window = new ReplayWindow(size, saved);
    else if (saved !== undefined) window = ReplayWindow.lost(size); // resized: the old bits cannot be carried over
    else window = new ReplayWindow(size);
    this.#windows.set(key, window);
    return window;
  }

  /** Persists the windows, marks the state clean and releases the directory. */
  async close(): Promise<void> {
    const entry = open_.get(this.directory);
    if (entry !== undefined && entry.store === this && --entry.users > 0) return;
    open_.delete(this.directory);
    this.#closing = true;
    await this.#queue;
    this.#saveSync();
  }
}

/**
 * Opens (or shares, within this process) the file store of `directory`.
 * @throws {StateDirectoryInUseError} if another live process uses the directory.
 *
 * @example
 * ```ts
 * import { openFileStateStore } from '@oscore-http/core/file-store';
 * const state = openFileStateStore('/var/lib/orders/oscore');
 * const ctx = createSecurityContext({ ...params, state });
 * ```
 */
export function openFileStateStore(directory: string): FileStateStore {
  const dir = resolve(directory);
  const entry = open_.get(dir);
  if (entry !== undefined) {
    entry.users++;
    return entry.store;
  }
  const store = new FileStateStore(dir);
  open_.set(dir, { store, users: 1 });
  return store;
}

