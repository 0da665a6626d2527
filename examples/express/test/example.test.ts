/** The Express example runs with one command: Express behind createOscoreHandler, called through the undici interceptor. */

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('node client.mjs creates and reads orders over OSCORE, and unprotected requests get only the health check', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['client.mjs'], { cwd, timeout: 20_000 });
  expect(stderr).toBe('');
  expect(stdout.trim().split('\n')).toEqual([
    // createdBy comes from oscoreInfoOf(req): the peer whose context verified the request.
    "201 /orders/43 { id: 43, item: 'tea', qty: 2, status: 'received', createdBy: 'shop' }",
    "200 { id: 42, item: 'coffee', qty: 1, status: 'shipped' }",
    "404 { error: 'no such order' }",
    'unprotected 200 ok',
    'unprotected 401 OSCORE required',
  ]);
});
