/** The engine walkthrough runs, shows the intermediary only ciphertext, and rejects the replay and the tampered copy. */

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('prints what an intermediary sees next to what the endpoints see', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['walkthrough.mjs'], { cwd, timeout: 20_000 });
  const lines = stdout.split('\n');
  // The left column (intermediary) never holds what the right column (endpoints) decrypted.
  const left = lines.map((l) => l.slice(0, 64)).join('\n');
  const right = lines.map((l) => l.slice(64)).join('\n');
  expect(right).toContain('Ada Lovelace');
  expect(right).toContain('/orders');
  for (const secret of ['Ada Lovelace', '4111 1111', 'orders', 'accepted']) expect(left).not.toContain(secret);
  expect(stdout).toMatch(/replaying the request: rejected with ERR_OSCORE_REPLAY/);
  expect(stdout).toMatch(/changing one ciphertext bit: +rejected with ERR_OSCORE_DECRYPTION_FAILED/);
});
