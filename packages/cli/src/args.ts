/**
 * Option parsing on top of `node:util` `parseArgs`, turning its errors into
 * {@link UsageError}s and checking option values.
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

/**
 * `parseArgs(config)`, strict, with its errors as usage errors.
 * @param help the command path whose `--help` the error message suggests.
 * @throws {UsageError} for an unknown option, a missing value, or an unexpected argument.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T, help: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((err as Error).message, help);
    throw err;
  }
}

/** An integer option of at least `min`, or `undefined` when absent. @throws {UsageError} */
export function integerOption(value: string | undefined, name: string, help: string, min = 0, max?: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer of at least ${min}, not "${value}"`, help);
  if (max !== undefined && n > max) throw new UsageError(`--${name} must be at most ${max}, not "${value}"`, help);
  return n;
}

/** One of `choices`, or `undefined` when absent. @throws {UsageError} */
export function choiceOption<T extends string>(value: string | undefined, name: string, help: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, not "${value}"`, help);
  return value as T;
}
