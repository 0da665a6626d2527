/**
 * The file store when its file system fails under it (a disk remounted read-only, say):
 * the fault is injected by a mock of `renameSync` and `rmSync` that throws EROFS while
 * `readOnly` is set; everything else is the real file system.
 */

import { mkdtempSync, readFileSync, rmSync as realRmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openFileStateStore } from '../src/state/file-store.js';

const fault = vi.hoisted(() => ({ readOnly: false }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const erofs = () => Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
  return {
    ...fs,
    renameSync: (...args: Parameters<typeof fs.renameSync>) => {
      if (fault.readOnly) throw erofs();
      return fs.renameSync(...args);
    },
    rmSync: (...args: Parameters<typeof fs.rmSync>) => {
      if (fault.readOnly) throw erofs();
      return fs.rmSync(...args);
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'oscore-store-faults-'));
afterAll(() => realRmSync(dir, { recursive: true, force: true }));

describe('a state directory that turns read-only', () => {
  it('close() fails typed and cannot remove the lock; once writable, this process opens the directory again, counters intact', async () => {
    const store = openFileStateStore(dir);
    expect(await store.reserve('k', 100)).toBe(0);
    fault.readOnly = true;
    await expect(store.close()).rejects.toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE', cause: { code: 'EROFS' } });
    fault.readOnly = false;
    const again = openFileStateStore(dir); // the lock it left is its own, given up: taken over
    expect(await again.reserve('k', 1)).toBe(100);
    await again.close();
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).clean).toBe(true);
  });
});
