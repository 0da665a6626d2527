/**
 * Reading a context file for `doctor` and `inspect --context`: once, with a bound, from a
 * path or standard input (`-`), and with JSON errors that never quote the file.
 *
 * Once: a context file given as `<(vault read …)` or a FIFO yields its content one time;
 * reading it again (as `loadContextFile` would, after a first read) sees an empty file.
 * Never quoted: V8's `JSON.parse` errors quote about ten characters around the error
 * (`Unexpected token '“', ..."   "hex": “40840fc19"... is not valid JSON`), and next to a
 * smart or single quote those are the first characters of the Master Secret.
 */

import { dirname, resolve } from 'node:path';
import { jsonSyntaxDetail, MAX_CONTEXT_FILE_SIZE as MAX_CONTEXT_FILE, readFileBounded } from '@oscore-http/http';
import { InputError } from './errors.js';
import type { CliIo } from './io.js';

/** A context file's text, with where relative `{ "file" }` secrets start. */
export interface ContextFileText {
  readonly text: string;
  /** The context file's directory, or the working directory for standard input. */
  readonly baseDir: string;
  /** As the user named it; `stdin` for `-`. */
  readonly label: string;
  /** The absolute path, or `undefined` for standard input. */
  readonly path: string | undefined;
}

/**
 * Reads the context file `file` (`-` for standard input) once, at most {@link MAX_CONTEXT_FILE} bytes.
 * @param what how messages name it, e.g. `the context file`.
 * @throws {InputError} when it cannot be read or is too large.
 */
export async function readContextFileText(file: string, io: CliIo, what: string): Promise<ContextFileText> {
  let bytes: Uint8Array;
  let label = file;
  let path: string | undefined;
  if (file === '-') {
    if (io.readStdin === undefined) throw new InputError('standard input is not available here');
    bytes = await io.readStdin(MAX_CONTEXT_FILE);
    label = 'stdin';
  } else {
    path = resolve(io.cwd, file);
    try {
      bytes = readFileBounded(path, MAX_CONTEXT_FILE);
    } catch (err) {
      throw new InputError(`cannot read ${what === '' ? '' : `${what} `}${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
  }
  if (bytes.length > MAX_CONTEXT_FILE) throw new InputError(`${label}: more than ${MAX_CONTEXT_FILE} bytes; is this a context file?`);
  return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'), baseDir: path === undefined ? io.cwd : dirname(path), label, path };
}

/**
 * Parses a context file's text.
 * @throws {InputError} `<label> is not valid JSON: <detail>` (see {@link jsonSyntaxDetail}).
 */
export function parseContextJson(file: ContextFileText, prefix = ''): unknown {
  try {
    return JSON.parse(file.text);
  } catch (err) {
    throw new InputError(`${prefix}${file.label} is not valid JSON: ${jsonSyntaxDetail(file.text, err as Error)}`, { cause: err });
  }
}
