/** The memory and file stores against the store contract, and the file store's crash semantics (RFC 8613 Appendix B.1). */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { FileStateStore, openFileStateStore, StateDirectoryInUseError } from '../src/state/file-store.js';
import { lockTokenForTests } from '../src/state/directory-lock.js';
import { MemoryStateStore, OscoreError, ReservedCounter, sequenceNumber, StateFileCorruptError, type StateStore } from '../src/index.js';
import { stateStoreContract } from './state-store.contract.js';

const seq = sequenceNumber;
const tempDir = () => mkdtempSync(join(tmpdir(), 'oscore-state-'));

/**
 * After a crash, a process that never uses window 'late' and closes cleanly, then the next
 * one: 'late' must still be known as lost (its request 0 not accepted a second time), and
 * the counter 's/seq' must continue after its first block of 16. Removes `dir`.
 */
async function expectLateWindowKeptAcrossCrash(dir: string): Promise<void> {
  simulateCrash(dir);
  await new FileStateStore(dir).close();
  const next = new FileStateStore(dir);
  expect(next.replayWindow('late', 64).checkAndUpdate(seq(0))).toBe('unknown');
  expect(await next.reserve('s/seq', 16)).toBe(16);
  await next.close();
  rmSync(dir, { recursive: true, force: true });
}
/** What a SIGKILL leaves behind, in-process: the store stays open, and its lock names a process that is gone. */
const simulateCrash = (dir: string) => writeFileSync(join(dir, 'lock'), lockTokenForTests({ pid: 2147483646, start: '1', nonce: 'crashed' }));

stateStoreContract('memory', async () => ({ store: new MemoryStateStore(), cleanup: async () => {} }));

stateStoreContract('file', async () => {
  const dir = tempDir();
  const store = openFileStateStore(dir);
  return {
    store,
    peer: async () => {
      await store.close(); // a clean restart: the same directory, a new store
      return openFileStateStore(dir);
    },
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('file store', () => {
  it('after a clean close, restores the windows and continues the counters', async () => {
    const dir = tempDir();
    const a = openFileStateStore(dir);
    expect(await a.reserve('s/seq', 1024)).toBe(0);
    a.replayWindow('r', 64).checkAndUpdate(seq(7));
    await a.close();
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).clean).toBe(true);
    const b = openFileStateStore(dir);
    expect(await b.reserve('s/seq', 1024)).toBe(1024);
    expect(b.replayWindow('r', 64).checkAndUpdate(seq(7))).toBe('replayed');
    expect(b.replayWindow('r', 64).checkAndUpdate(seq(8))).toBe('accepted');
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after a crash (no close), skips reserved counters and treats every window as lost until established', async () => {
    const dir = tempDir();
    const crashed = new FileStateStore(dir); // not closed: like a process killed with SIGKILL
    expect(await crashed.reserve('s/seq', 1024)).toBe(0);
    crashed.replayWindow('r', 64).checkAndUpdate(seq(7));
    // The state file says "in use" from the moment the store opened.
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).clean).toBe(false);
    simulateCrash(dir);
    const after = new FileStateStore(dir); // takes over the stale lock
    expect(await after.reserve('s/seq', 1024)).toBe(1024); // never 0 again
    const window = after.replayWindow('r', 64);
    expect(window.checkAndUpdate(seq(7))).toBe('unknown');
    expect(after.replayWindow('never-seen', 64).checkAndUpdate(seq(1))).toBe('unknown');
    // Appendix B.1.2: a request proved fresh sets the lower limit of the window.
    expect(window.establish(seq(20))).toBe('accepted');
    expect(window.checkAndUpdate(seq(19))).toBe('replayed');
    expect(window.checkAndUpdate(seq(7))).toBe('replayed');
    expect(window.checkAndUpdate(seq(21))).toBe('accepted');
    await after.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does no write per value: one durable write per block', async () => {
    const dir = tempDir();
    const store = openFileStateStore(dir);
    const counter = new ReservedCounter(store, 'k/seq', 1000);
    const file = join(dir, 'state.json');
    await counter.take(); // the first block
    const written = () => statSync(file).mtimeMs + statSync(file).ino;
    const before = written();
    const values: number[] = [];
    for (let i = 1; i < 400; i++) values.push(counter.take() as number); // synchronous: no I/O on this path
    expect(values.every((v) => typeof v === 'number')).toBe(true);
    expect(written()).toBe(before);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes no system call per message, as the kernel counts them (/proc/self/io of a child doing 5,000 exchanges)', () => {
    // Counted by Linux for the whole child process, not by the store: read and write calls of
    // any kind (files, pipes, sockets, libuv's wake-ups). With the default blocks of 4,096 the
    // exchanges take ~5,000 sequence numbers and ~10,000 usage counts: a few block reservations
    // in the background (each a handful of calls), the replay window in memory. Control: with
    // blocks of one value, every sequence number and count is a durable write, which shows.
    const run = (exchanges: number, block?: number) => {
      const dir = tempDir();
      try {
        const args = [fileURLToPath(new URL('./fixtures/io-child.mjs', import.meta.url)), dir, String(exchanges), ...(block === undefined ? [] : [String(block)])];
        return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as { reads: number; writes: number };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const hot = run(5000);
    // A few calls per block reservation (measured: ~20 reads, ~20 writes); one per message would be 5,000.
    expect(hot.writes).toBeLessThan(5000 / 50);
    expect(hot.reads).toBeLessThan(5000 / 50);
    const control = run(200, 1);
    expect(control.writes).toBeGreaterThan(200);
  });

  it('refuses a directory held by another live process, and takes over a stale lock', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'lock'), String(process.ppid)); // the parent (vitest) is alive
    expect(() => openFileStateStore(dir)).toThrow(StateDirectoryInUseError);
    expect(() => openFileStateStore(dir)).toThrow(OscoreError); // typed like every other error: code, outcome, toJSON
    writeFileSync(join(dir, 'lock'), '2147483646'); // no such process
    const store = openFileStateStore(dir);
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    await store.close();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['this process, same start time: another isolate (a worker, a second module copy)', () => lockTokenForTests({ nonce: 'other-isolate' }), 0, true],
    ['this pid with another start time: an earlier incarnation (a restarted container)', () => lockTokenForTests({ start: 'earlier', nonce: 'old' }), 0, false],
    ['another host or PID namespace, refreshed just now', () => lockTokenForTests({ pid: 1, where: 'elsewhere|boot|ns', nonce: 'far' }), 0, true],
    ['another host or PID namespace, silent for two minutes', () => lockTokenForTests({ pid: 1, where: 'elsewhere|boot|ns', nonce: 'far' }), 120_000, false],
  ])('a lock held by %s', async (_label, token, ageMs, inUse) => {
    const dir = tempDir();
    const lock = join(dir, 'lock');
    writeFileSync(lock, token());
    const then = new Date(Date.now() - ageMs);
    utimesSync(lock, then, then);
    if (inUse) {
      expect(() => openFileStateStore(dir)).toThrow(StateDirectoryInUseError);
    } else {
      const store = openFileStateStore(dir);
      expect(await store.reserve('k', 1)).toBe(0);
      await store.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a live lock of another host is not taken over by a process whose clock runs ahead: staleness is read off the file system’s time', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'lock'), lockTokenForTests({ pid: 1, where: 'elsewhere|boot|ns', nonce: 'far' })); // refreshed just now
    const ahead = vi.spyOn(Date, 'now').mockImplementation(() => new Date().getTime() + 120_000);
    try {
      expect(() => openFileStateStore(dir)).toThrow(StateDirectoryInUseError);
    } finally {
      ahead.mockRestore();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a lock taken over while a reservation is being written: the write is not renamed over the new owner’s state, and no value is handed out', async () => {
    const dir = tempDir();
    const store = openFileStateStore(dir);
    expect(await store.reserve('k', 10)).toBe(0);
    const stateBefore = readFileSync(join(dir, 'state.json'), 'utf8');
    const pending = store.reserve('k', 10); // its write starts now, asynchronously
    // What another host does once this process has stalled for longer than the lock's staleness.
    writeFileSync(join(dir, 'lock'), lockTokenForTests({ pid: 1, where: 'elsewhere|boot|ns', nonce: 'new-owner' }));
    await expect(pending).rejects.toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(stateBefore);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]); // its temp file is gone too
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a store whose lock was taken over reserves and saves nothing more', async () => {
    const dir = tempDir();
    const store = openFileStateStore(dir);
    expect(await store.reserve('k', 10)).toBe(0);
    const stateBefore = readFileSync(join(dir, 'state.json'), 'utf8');
    writeFileSync(join(dir, 'lock'), lockTokenForTests({ pid: 1, where: 'elsewhere|boot|ns', nonce: 'new-owner' }));
    await expect(store.reserve('k', 10)).rejects.toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
    await store.close();
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(stateBefore); // the new owner's file is untouched
    expect(existsSync(join(dir, 'lock'))).toBe(true); // and its lock too
    rmSync(dir, { recursive: true, force: true });
  });

  it('an open while the same process is closing the directory is refused, not a second owner', async () => {
    const dir = tempDir();
    const store = openFileStateStore(dir);
    const closing = store.close();
    expect(() => openFileStateStore(dir)).toThrow(StateDirectoryInUseError);
    await closing;
    const again = openFileStateStore(dir);
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shares one store per directory within a process', async () => {
    const dir = tempDir();
    const a = openFileStateStore(dir);
    const b = openFileStateStore(dir);
    expect(b).toBe(a);
    await a.close();
    expect(await b.reserve('x', 1)).toBe(0); // still open: b holds it
    await b.close();
    await expect(b.reserve('x', 1)).rejects.toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('regressions found by the crash test', () => {
  it('serves more concurrent callers than one block holds, all with distinct values', async () => {
    const counter = new ReservedCounter(new MemoryStateStore(), 'k', 4);
    const values = await Promise.all(Array.from({ length: 23 }, () => counter.take()));
    expect(new Set(values).size).toBe(23);
    expect(Math.max(...values)).toBeLessThan(4 * 12);
  });

  it('keeps state.json valid when the process exits during a reservation write', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = tempDir();
    const storeModule = new URL('../dist/state/file-store.js', import.meta.url).href;
    const child = `
      const { openFileStateStore } = await import(${JSON.stringify(storeModule)});
      const store = openFileStateStore(${JSON.stringify(dir)});
      let i = 0;
      const loop = async () => { for (;;) await store.reserve('k' + (i++ % 3), 16); };
      loop();
      setTimeout(() => process.exit(0), Number(process.argv[1]));`;
    for (let run = 0; run < 25; run++) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, String(run % 12)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
      expect(state.clean).toBe(true);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});

describe('file store: one owner, trustworthy state (found in review)', () => {
  it('after a crash, every saved window stays lost, also those the next process never touches', async () => {
    const dir = tempDir();
    const first = new FileStateStore(dir);
    for (const n of [1, 2, 3]) first.replayWindow('w', 64).checkAndUpdate(seq(n));
    await first.close();
    const crashed = new FileStateStore(dir); // accepts 4, then dies without closing
    expect(crashed.replayWindow('w', 64).checkAndUpdate(seq(4))).toBe('accepted');
    simulateCrash(dir);
    const untouched = new FileStateStore(dir); // uses another window only, and closes cleanly
    untouched.replayWindow('other', 64);
    await untouched.close();
    const next = new FileStateStore(dir);
    expect(next.replayWindow('w', 64).checkAndUpdate(seq(4))).toBe('unknown'); // not a trusted "accepted"
    await next.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists a new window in the state file before its first request counts, so a crash does not forget it', async () => {
    const dir = tempDir();
    const crashed = new FileStateStore(dir);
    expect(await crashed.reserve('s/seq', 16)).toBe(0); // its last write before the window exists
    expect(crashed.replayWindow('late', 64).checkAndUpdate(seq(0))).toBe('accepted');
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).windows)).toContain('late');
    await expectLateWindowKeptAcrossCrash(dir);
  });

  it('does not let a reservation write prepared before a new window was listed put the older state back', async () => {
    const dir = tempDir();
    const crashed = new FileStateStore(dir);
    const reserved = crashed.reserve('s/seq', 16); // its content is made now, written later
    expect(crashed.replayWindow('late', 64).checkAndUpdate(seq(0))).toBe('accepted'); // listed synchronously meanwhile
    expect(await reserved).toBe(0);
    const file = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(Object.keys(file.windows)).toContain('late');
    expect(file.counters['s/seq']).toBe(16);
    await expectLateWindowKeptAcrossCrash(dir);
  });

  it('refuses a new window\'s first request when it cannot be listed', async () => {
    const dir = tempDir();
    const store = new FileStateStore(dir);
    const window = store.replayWindow('late', 64);
    simulateCrash(dir); // the lock is no longer this store's: nothing may be written
    expect(() => window.checkAndUpdate(seq(0))).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' }));
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets exactly one of several processes starting together own the directory, with or without a stale lock', async () => {
    const { spawn } = await import('node:child_process');
    const storeModule = new URL('../dist/state/file-store.js', import.meta.url).href;
    const child = `
      const { openFileStateStore } = await import(${JSON.stringify(storeModule)});
      while (Date.now() < Number(process.argv[2])); // all start at the same moment
      try {
        const store = openFileStateStore(process.argv[1]);
        console.log('ok ' + (await store.reserve('seq', 100)));
      } catch (err) {
        console.log(err.code);
      }
      process.stdin.resume();
      process.stdin.on('end', () => process.exit(0)); // holds the directory until every child reported`;
    const start = (dir: string, at: number) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', child, dir, String(at)], { stdio: ['pipe', 'pipe', 'inherit'] });
      const reported = new Promise<string>((done) => {
        let out = '';
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) done(out.trim());
        });
        p.on('exit', () => done(out.trim()));
      });
      const exited = new Promise<void>((done) => p.on('exit', () => done()));
      return { reported, release: () => p.stdin.end(), exited };
    };
    for (const stale of [true, true, true, false]) {
      const dir = tempDir();
      if (stale) writeFileSync(join(dir, 'lock'), '2147483646');
      const at = Date.now() + 1500; // time for the children to start: then they open at once
      const children = Array.from({ length: 6 }, () => start(dir, at));
      const results = await Promise.all(children.map((c) => c.reported));
      for (const c of children) c.release();
      await Promise.all(children.map((c) => c.exited));
      expect(results.filter((r) => r.startsWith('ok'))).toEqual(['ok 0']);
      expect(results.filter((r) => !r.startsWith('ok')).every((r) => r === 'ERR_OSCORE_STATE_DIRECTORY_IN_USE')).toBe(true);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('one directory under two spellings (a symlink) is one store', async () => {
    const real = tempDir();
    const link = `${real}-link`;
    symlinkSync(real, link);
    const a = openFileStateStore(real);
    const b = openFileStateStore(link);
    expect(b).toBe(a);
    expect([await a.reserve('k', 1), await b.reserve('k', 1)]).toEqual([0, 1]);
    await a.close();
    await b.close();
    rmSync(link, { force: true });
    rmSync(real, { recursive: true, force: true });
  });

  const state = (overrides: Record<string, unknown>) => JSON.stringify({ format: 'oscore-http-state/1', clean: true, counters: {}, windows: {}, ...overrides });
  it.each([
    ['not JSON', '{"format":'],
    ['null', 'null'],
    ['no counters', JSON.stringify({ format: 'oscore-http-state/1', clean: true, windows: {} })],
    ['a string counter', state({ counters: { k: '8192' } })],
    ['a negative counter', state({ counters: { k: -5 } })],
    ['"clean" as a string', state({ clean: 'false' })],
    ['a window bitmap of the wrong length', state({ windows: { w: { size: 64, highest: 3, bitmap: [1] } } })],
  ])('refuses a state file with %s with a typed error, never as empty state, and leaves no lock', (_label, content) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'state.json'), content);
    expect(() => openFileStateStore(dir)).toThrow(StateFileCorruptError);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['a dangling symbolic link (a volume not mounted yet): never read as no state', (dir: string) => symlinkSync(join(dir, 'elsewhere', 'state.json'), join(dir, 'state.json'))],
    ['a symbolic link to a good state file: the first write would replace the link', (dir: string) => {
      writeFileSync(join(dir, 'real.json'), state({ counters: { k: 8192 } }));
      symlinkSync(join(dir, 'real.json'), join(dir, 'state.json'));
    }],
    ['a FIFO (reading it would block start-up)', (dir: string) => execFileSync('mkfifo', [join(dir, 'state.json')])],
    ['a directory', (dir: string) => mkdirSync(join(dir, 'state.json'))],
  ])('refuses a state.json that is %s, typed, and leaves no lock', (_label, make) => {
    const dir = tempDir();
    make(dir);
    expect(() => openFileStateStore(dir)).toThrow(StateFileCorruptError);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a state directory that cannot be made or used fails with the typed StateStoreUnavailableError, its cause attached', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'not a directory');
    let err: unknown;
    try {
      openFileStateStore(join(dir, 'file', 'state'));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE', cause: { code: 'ENOTDIR' } });
    rmSync(dir, { recursive: true, force: true });
  });

  it('a lock that is a FIFO or a directory blocks nothing: an unreadable lock, in use until it is old, then taken over', async () => {
    for (const make of [(path: string) => execFileSync('mkfifo', [path]), (path: string) => mkdirSync(path)]) {
      const dir = tempDir();
      const lock = join(dir, 'lock');
      make(lock);
      expect(() => openFileStateStore(dir)).toThrow(StateDirectoryInUseError);
      const old = new Date(Date.now() - 3_600_000);
      utimesSync(lock, old, old);
      const store = openFileStateStore(dir);
      expect(await store.reserve('k', 1)).toBe(0);
      await store.close();
      expect(readdirSync(dir).sort()).toEqual(['state.json']);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two contexts of one Recipient Context with different window sizes share one window: neither accepts what the other did (memory and file)', async () => {
    const dir = tempDir();
    for (const store of [new MemoryStateStore(), openFileStateStore(dir)] as StateStore[]) {
      const small = store.replayWindow('pair', 64);
      const large = store.replayWindow('pair', 1024);
      expect(small.checkAndUpdate(seq(10))).toBe('accepted');
      expect(large.checkAndUpdate(seq(10))).toBe('replayed');
      expect(large.checkAndUpdate(seq(11))).toBe('accepted');
      expect(small.checkAndUpdate(seq(11))).toBe('replayed');
      await store.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a window checked after the file store saved it at close refuses (5.03), so the next process cannot accept that request again', async () => {
    const dir = tempDir();
    const store = openFileStateStore(dir);
    const window = store.replayWindow('r', 64);
    expect(window.checkAndUpdate(seq(1))).toBe('accepted');
    const closing = store.close();
    expect(window.checkAndUpdate(seq(2))).toBe('accepted'); // before the final save: saved with it
    await closing;
    expect(() => window.checkAndUpdate(seq(3))).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_STATE_UNAVAILABLE', outcome: '5.03' }));
    const next = openFileStateStore(dir);
    const reopened = next.replayWindow('r', 64);
    expect(reopened.checkAndUpdate(seq(1))).toBe('replayed');
    expect(reopened.checkAndUpdate(seq(2))).toBe('replayed');
    expect(reopened.checkAndUpdate(seq(3))).toBe('accepted'); // never accepted before
    await next.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a resized window never accepts again what the old one accepted (memory and file)', async () => {
    const dir = tempDir();
    for (const store of [new MemoryStateStore(), openFileStateStore(dir)] as StateStore[]) {
      const old = store.replayWindow('r', 64);
      for (const n of [10, 11, 12]) expect(old.checkAndUpdate(seq(n))).toBe('accepted');
      const resized = store.replayWindow('r', 32);
      for (const n of [10, 11, 12]) expect(resized.checkAndUpdate(seq(n))).toBe('replayed');
      expect(resized.checkAndUpdate(seq(13))).toBe('accepted');
      await store.close();
    }
    // From the file, after a clean close, too.
    const reopened = openFileStateStore(dir);
    expect(reopened.replayWindow('r', 128).checkAndUpdate(seq(13))).toBe('replayed');
    expect(reopened.replayWindow('r', 128).checkAndUpdate(seq(14))).toBe('accepted');
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
