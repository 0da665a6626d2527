/** The global-fetch example runs with one command: fetch with the dispatcher per call and as the global dispatcher. */

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('node client.mjs reaches the OSCORE-only service through global fetch, and removes its state directory', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const tmp = mkdtempSync(join(tmpdir(), 'oscore-global-fetch-test-'));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['client.mjs'], { cwd, timeout: 20_000, env: { ...process.env, TMPDIR: tmp } });
    expect(stderr).toBe('');
    // The service answers only verified OSCORE requests (anything else gets 401), so each status
    // below — 201, 409 and 404 included — shows the request went through the interceptor.
    expect(stdout.trim().split('\n')).toEqual([
      "200 { sku: 'tea', available: 12, askedBy: 'shop' }",
      "201 { sku: 'tea', reserved: 3, left: 9 }",
      "409 { error: 'not enough coffee' }",
      "404 { error: 'unknown sku' }",
    ]);
    expect(readdirSync(tmp)).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
