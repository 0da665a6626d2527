/**
 * `keygen` on a full disk: nothing is left behind. The fault (ENOSPC while the second
 * context file is written) is injected by a mock of `writeFileSync` on a file descriptor;
 * everything else is the real file system.
 */

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/main.js';
import { fakeIo } from './support/io.js';

const fault = vi.hoisted(() => ({ failAtWrite: 0, writes: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    writeFileSync: (...args: Parameters<typeof fs.writeFileSync>) => {
      if (typeof args[0] === 'number' && ++fault.writes === fault.failAtWrite) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return fs.writeFileSync(...args);
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'oscore-keygen-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keygen on a full disk', () => {
  it.each([1, 2])('ENOSPC on write %i of 2: exit 3, "nothing was written", and no file left (a later run is not refused)', async (failAtWrite) => {
    const out = join(dir, `run-${failAtWrite}`);
    Object.assign(fault, { failAtWrite, writes: 0 });
    const f = fakeIo();
    expect(await main(['keygen', '--out-dir', out], f.io)).toBe(3);
    expect(f.stderr()).toMatch(/cannot write .*\(ENOSPC\); nothing was written/);
    expect(readdirSync(out)).toEqual([]);
    Object.assign(fault, { failAtWrite: 0 });
    expect(await main(['keygen', '--out-dir', out], fakeIo().io)).toBe(0);
    expect(existsSync(join(out, 'server.contexts.json')) && existsSync(join(out, 'client.contexts.json'))).toBe(true);
  });
});
