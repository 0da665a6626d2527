/**
 * Secret references of context files: `{ env }`, `{ file }`, `{ hex }`, `{ base64 }`
 * (docs/context-file.md). Errors name the variable or file, never a value.
 */

import { resolve } from 'node:path';
import { fromHex } from '@oscore-http/core';
import { ContextConfigError } from '../errors.js';
import { readFileBounded } from './bounded-read.js';

/** The largest secret file read: one secret, in any encoding, is far smaller. */
const MAX_SECRET_FILE_SIZE = 64 * 1024;

/** Where a secret comes from. */
export type SecretSource =
  | { readonly env: string; readonly encoding?: 'hex' | 'base64' }
  | { readonly file: string; readonly encoding?: 'hex' | 'base64' | 'raw' }
  | { readonly hex: string }
  | { readonly base64: string };

/** Where secret references are resolved. */
export interface SecretOptions {
  /** Environment to resolve `{ env }` secrets from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory `{ file }` secrets are relative to; default the current directory. */
  readonly baseDir?: string;
  /** Label of the source in error messages, e.g. the file path. */
  readonly source?: string;
}

/** Throws a ContextConfigError for `path`. */
export function fail(path: string, detail: string, options: SecretOptions): never {
  throw new ContextConfigError(path, detail, options.source);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function decodeText(text: string, encoding: string, path: string, options: SecretOptions): Uint8Array {
  const t = text.trim();
  if (encoding === 'hex') {
    if (!/^([0-9a-fA-F]{2})+$/.test(t)) fail(path, 'is not hex (an even number of 0-9a-f digits)', options);
    return fromHex(t);
  }
  if (encoding === 'base64') {
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) fail(path, 'is not base64', options);
    return new Uint8Array(Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64'));
  }
  return fail(path, `has an unknown "encoding" (use hex, base64 or, for a file, raw)`, options);
}

/**
 * Whether `name` can be shown in a message as the name of an environment variable: letters,
 * digits, `_`, `-` and `.` (what Docker and Kubernetes allow), not starting with a digit,
 * and words of at most 15 letters and digits between the separators. A secret written where
 * its variable's name belongs (hex, base64, base64url: long runs without separators) must
 * not reach an error message (and the logs that keep it); a name like
 * `OSCORE_ORDERS_SECRET` or `oscore.master-secret` is shown.
 */
export function isShowableEnvName(name: string): boolean {
  return /^[A-Za-z_][-.A-Za-z0-9_]{0,255}$/.test(name) && !/[A-Za-z0-9]{16}/.test(name);
}

/**
 * A secret file's path as messages show it: as given, unless a part of it looks like a secret
 * (a run of 16 letters and digits: hex or base64 written where the path belongs).
 */
function shownPath(file: string): string {
  if (/[A-Za-z0-9+=]{16}/.test(file)) return 'the file it names (the path is not shown: it looks like a secret)';
  return file.length > 200 ? `${file.slice(0, 200)}…` : file;
}

/** Resolves a secret reference to bytes. */
export function resolveSecret(source: unknown, path: string, options: SecretOptions = {}): Uint8Array {
  if (source instanceof Uint8Array) return source;
  if (!isObject(source)) return fail(path, 'must be { "env": NAME }, { "file": PATH }, { "hex": … } or { "base64": … }', options);
  const keys = Object.keys(source).filter((k) => k !== 'encoding');
  if (keys.length !== 1) return fail(path, 'must name exactly one of env, file, hex, base64', options);
  const encoding = typeof source.encoding === 'string' ? source.encoding : 'hex';
  if ('env' in source) {
    const name = String(source.env);
    const value = (options.env ?? process.env)[name];
    if (value === undefined || value.trim() === '') {
      if (!isShowableEnvName(name)) return fail(path, `"env" names no environment variable that is set, and its value does not look like a variable's name; if it is the secret itself, put it in a variable and name that (the value is not shown)`, options);
      const how = encoding === 'hex' || encoding === 'base64' ? ` in ${encoding}` : '';
      return fail(path, `environment variable ${name} is not set; export it with the secret${how}`, options);
    }
    return decodeText(value, encoding, `${path} (from $${name})`, options);
  }
  if ('file' in source) {
    const file = resolve(options.baseDir ?? '.', String(source.file));
    let bytes: Uint8Array;
    try {
      // Bounded: a file reference may name a device or a FIFO that never ends.
      bytes = readFileBounded(file, MAX_SECRET_FILE_SIZE);
    } catch (err) {
      return fail(path, `cannot read ${shownPath(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, options);
    }
    if (bytes.length > MAX_SECRET_FILE_SIZE) return fail(path, `${shownPath(file)} is larger than ${MAX_SECRET_FILE_SIZE} bytes; a secret file holds one secret`, options);
    const content = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (encoding === 'raw') return new Uint8Array(content);
    return decodeText(content.toString('utf8'), encoding, `${path} (from ${shownPath(file)})`, options);
  }
  if ('hex' in source) return decodeText(String(source.hex), 'hex', path, options);
  if ('base64' in source) return decodeText(String(source.base64), 'base64', path, options);
  return fail(path, 'must name exactly one of env, file, hex, base64', options);
}
