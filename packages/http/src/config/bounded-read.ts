/**
 * Bounded file reads for configuration: a context file or a secret file named by an
 * operator may be a device, a FIFO or `/dev/fd/N` from `<(…)`, which have no size to check
 * first and may never end.
 */

import { closeSync, openSync, readSync } from 'node:fs';

/**
 * Reads the file at `path`, but never more than `limit` + 1 bytes: a result longer than
 * `limit` means "too large". Unlike `stat` then `readFile`, this also bounds what has no
 * size (a device such as /dev/zero, a FIFO, /dev/fd/N from `<(…)`), and reads it once.
 * @throws the `fs` error (ENOENT, EISDIR, EACCES, …).
 */
export function readFileBounded(path: string, limit: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= limit) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
    }
    const all = Buffer.concat(chunks);
    return new Uint8Array(all.buffer, all.byteOffset, all.length);
  } finally {
    closeSync(fd);
  }
}
