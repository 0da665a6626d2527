/**
 * A one-line progress indicator on stderr, only when stderr is a terminal: it rewrites
 * its line in place and erases it when done, so logs and pipes never see it.
 */

import type { OutputStream } from './io.js';

/** Progress of a run. */
export interface Progress {
  update(text: string): void;
  done(): void;
}

/** A progress line on `stderr`, or a no-op when it is not a terminal. */
export function createProgress(stderr: OutputStream): Progress {
  if (!stderr.isTTY) return { update() {}, done() {} };
  const width = Math.max(20, (stderr.columns ?? 80) - 1);
  let shown = false;
  return {
    update(text) {
      stderr.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      shown = true;
    },
    done() {
      if (shown) stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}
