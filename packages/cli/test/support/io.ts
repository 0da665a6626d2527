/**
 * An in-memory {@link CliIo} for running commands in-process.
 */

import type { CliIo } from '../../src/io.js';
import { ROOT } from './cli.js';

export interface FakeIo {
  readonly io: CliIo;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

export function fakeIo(options: { stdoutTTY?: boolean; stderrTTY?: boolean; columns?: number; env?: Record<string, string> } = {}): FakeIo {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (text) => void (out += text), isTTY: options.stdoutTTY ?? false, columns: options.columns },
      stderr: { write: (text) => void (err += text), isTTY: options.stderrTTY ?? false, columns: options.columns },
      env: options.env ?? {},
      cwd: ROOT,
    },
    stdout: () => out,
    stderr: () => err,
  };
}
