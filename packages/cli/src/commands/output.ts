/**
 * Writing reports where the user asked: JSON on stdout, JUnit XML to a file.
 */

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { CliIo } from '../io.js';

/** Writes `xml` to `file` (relative to the working directory) and says so on stderr. */
export function writeJUnitFile(io: CliIo, file: string, xml: string): void {
  const path = resolve(io.cwd, file);
  try {
    writeFileSync(path, xml);
  } catch (err) {
    throw new InputError(`cannot write the JUnit report to ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  io.stderr.write(`JUnit report written to ${path}\n`);
}

/** Writes a JSON document on stdout. */
export function writeJson(io: CliIo, document: unknown): void {
  io.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}

/** Table width: the terminal's, or 160 columns when stdout is not a terminal. */
export function tableWidth(io: CliIo): number {
  return io.stdout.isTTY ? Math.max(60, io.stdout.columns ?? 120) : 160;
}

/** A duration for people: `850 ms`, `2.4 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
