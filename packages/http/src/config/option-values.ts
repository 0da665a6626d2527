/**
 * Numeric and enumerated options of the server handler and the client interceptor, read
 * once at creation. A limit compared with `>` must be a number: `n > NaN` is always false
 * and `'1048576' + 1` concatenates, so an unset environment variable (`Number(undefined)`)
 * or a value left as a string would switch a limit off. Such values are refused, with the
 * option's name, instead of failing open at the first request.
 */

import { constants } from 'node:buffer';
import { ContextConfigError } from '../errors.js';

/** What a wrong value is, for the message (configuration, not input: safe to show). */
function shown(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return value === null ? 'null' : `a value of type ${typeof value}`;
}

/**
 * A count: a whole number from `min` up.
 * @throws {ContextConfigError} for anything else (NaN, a string, a fraction, a number below `min`).
 * @internal For the packages of this project.
 */
export function integerOption(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ContextConfigError(name, `${shown(value)} is not a whole number ≥ ${min}; give a number (convert environment variables with Number() and check them)`);
  }
  return value;
}

/**
 * A size in bytes: a whole number from 0 up. One above what a Buffer can hold (say
 * `Number.MAX_SAFE_INTEGER` for "no limit") counts as that much — no body could be larger,
 * and the limits derived from it (the outer body is the body plus the fields and a tag)
 * stay exact integers.
 * @throws {ContextConfigError} as {@link integerOption}.
 * @internal For the packages of this project.
 */
export function sizeOption(name: string, value: unknown, fallback: number): number {
  return Math.min(integerOption(name, value, fallback), constants.MAX_LENGTH);
}

/**
 * A duration in seconds: a finite number above 0.
 * @throws {ContextConfigError} for anything else.
 * @internal For the packages of this project.
 */
export function secondsOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ContextConfigError(name, `${shown(value)} is not a number of seconds above 0`);
  }
  return value;
}

/**
 * One of a few words.
 * @throws {ContextConfigError} for anything else — a misspelt `refuse` must not mean `pass`.
 * @internal For the packages of this project.
 */
export function choiceOption<T extends string>(name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new ContextConfigError(name, `${shown(value)} is not one of ${choices.join(', ')}`);
  }
  return value as T;
}
