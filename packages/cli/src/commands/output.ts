/**
 * Writing reports where the user asked: JSON on stdout, JUnit XML to a file.
 */

import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { OutputError } from '../errors.js';
import type { CliIo } from '../io.js';

function junitWriteError(path: string, err: unknown): OutputError {
  return new OutputError(`cannot write the JUnit report to ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}); give --junit a file in a writable directory`, { cause: err });
}

/**
 * Checks, before anything runs, that the JUnit report can be written to `file`: a run
 * (which moves the target's replay window) must not end with its verdict lost to a typo.
 */
export function checkJUnitFile(io: CliIo, file: string): void {
  const path = resolve(io.cwd, file);
  try {
    let exists = true;
    try {
      if (statSync(path).isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EISDIR' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      exists = false;
    }
    accessSync(exists ? path : dirname(path), constants.W_OK);
  } catch (err) {
    throw junitWriteError(path, err);
  }
}

/** Writes `xml` to `file` (relative to the working directory) and says so on stderr. */
export function writeJUnitFile(io: CliIo, file: string, xml: string): void {
  const path = resolve(io.cwd, file);
  try {
    writeFileSync(path, xml);
  } catch (err) {
    throw junitWriteError(path, err);
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
