/** The README's smallest example runs with one command and prints the service's answers. */

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('node client.mjs creates and reads an order over OSCORE', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['client.mjs'], { cwd, timeout: 20_000 });
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toBe("201 /orders/43 { id: 43, item: 'tea', qty: 2 }");
  expect(lines[1]).toBe("200 { id: 42, status: 'shipped', requestedBy: 'shop' }");
});
