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
import { InputError } from './errors.js';
import { readFileBounded, type CliIo } from './io.js';

/** Largest context file read: far above any real one (one entry is well under 1 KiB). */
export const MAX_CONTEXT_FILE = 16 * 1024 * 1024;

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

/** Matches V8's excerpt of the input: `, ..."…"... is not valid JSON` or `, "…" is not valid JSON`. */
const EXCERPT = /, (?:\.\.\.)?"[\s\S]*?"(?:\.\.\.)? is not valid JSON/g;

/** `message` without any excerpt of JSON input V8 put in it (for messages made elsewhere). */
export function withoutJsonExcerpt(message: string): string {
  return message.replace(EXCERPT, '');
}

/** The offset of the character V8 calls an unexpected `token`, by parsing ever longer prefixes. */
function offsetOfToken(text: string, token: string): number | undefined {
  const failsOnToken = (n: number) => {
    try {
      JSON.parse(text.slice(0, n));
      return false;
    } catch (err) {
      return (err as Error).message.startsWith(`Unexpected token '${token}'`);
    }
  };
  if (!failsOnToken(text.length)) return undefined;
  // Prefixes that stop before the token fail only for their end; those that include it fail on it.
  let low = 0;
  let high = text.length;
  while (high - low > 1) {
    const mid = (low + high) >>> 1;
    if (failsOnToken(mid)) high = mid;
    else low = mid;
  }
  return high - 1;
}

/**
 * What is wrong with `text`, from the `SyntaxError` of `JSON.parse(text)`, with the line
 * and column and no excerpt of it: `unexpected character '“' at line 8, column 16`.
 * A character that may belong to a secret (a letter, a digit, base64) is not shown.
 */
export function jsonSyntaxDetail(text: string, err: Error): string {
  const message = err.message;
  const token = /^Unexpected token '([\s\S]+?)', /.exec(message)?.[1];
  let offset: number | undefined = /at position (\d+)/.exec(message) === null ? undefined : Number(/at position (\d+)/.exec(message)![1]);
  let what: string;
  if (token !== undefined) {
    offset ??= offsetOfToken(text, token);
    what = /^[A-Za-z0-9+/=_-]+$/.test(token) ? 'unexpected character' : `unexpected character '${token}'`;
  } else {
    what = withoutJsonExcerpt(message)
      .replace(/ in JSON at position \d+[\s\S]*$/, '')
      .replace(/^\w/, (c) => c.toLowerCase());
  }
  if (offset === undefined) return what;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `${what} at line ${line}, column ${column}`;
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
