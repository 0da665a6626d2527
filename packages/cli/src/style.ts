/**
 * Colour on the terminal: on when stdout is a TTY, unless `NO_COLOR` is set
 * (https://no-color.org) or `TERM=dumb`; `FORCE_COLOR` overrides both ways, as in
 * Node.js (`FORCE_COLOR=0` turns colour off, any other value on).
 */

import type { OutputStream } from './io.js';

/** Whether output to `stream` is coloured under `env`. */
export function colorEnabled(stream: OutputStream, env: Readonly<Record<string, string | undefined>>): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY;
}

/** Text styles; each is the identity when colour is off. */
export interface Style {
  readonly color: boolean;
  pass(text: string): string;
  fail(text: string): string;
  skip(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;

/** The styles for colour on or off. */
export function createStyle(color: boolean): Style {
  if (!color) {
    const plain = (text: string) => text;
    return { color, pass: plain, fail: plain, skip: plain, dim: plain, bold: plain };
  }
  return { color, pass: sgr(32, 39), fail: sgr(31, 39), skip: sgr(33, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
}
