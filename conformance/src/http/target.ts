/**
 * The target's side of the contract: its origin, and the client context the suite uses
 * for it, taken from a context file of the client side (docs/context-file.md).
 */

import type { SecurityContext } from '@oscore-http/core';
import { createContextSet, loadContextFile, normalizeOrigin, OscoreHttpError, type ContextConfig, type ContextSet } from '@oscore-http/http';
import { SuiteInputError } from './errors.js';
import type { SuiteSequence } from './sequence.js';

/** The target's origin, from a base URL that has no path, query or fragment. */
export function targetOrigin(target: string): string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new SuiteInputError(`The target "${target}" is not a URL; give the server's base URL, e.g. http://127.0.0.1:8613.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SuiteInputError(`The target "${target}" is not an http or https URL.`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new SuiteInputError(`The target "${target}" has a path; give the origin only and set the OSCORE endpoint with the outer path option.`);
  }
  return normalizeOrigin(url);
}

/** The client context for the target, and its label for the report. */
export interface ChosenContext {
  readonly context: SecurityContext;
  readonly label: string;
}

/**
 * Loads the client contexts with the suite's sequence numbers and picks one: the one
 * named `name`, else the one whose `peer` is the target's origin, else the first.
 * Replicated senders (`senderIdSuffix`) are not offered: give the suite a plain context.
 * @throws {SuiteInputError} if the file cannot be used or has no such context.
 */
export function chooseContext(contexts: string | readonly ContextConfig[], origin: string, sequence: SuiteSequence, name?: string): ChosenContext {
  let set: ContextSet;
  // The suite keeps its state in memory: it never writes, or locks, a state directory where it runs.
  const options = { state: () => ({ senderSequence: sequence }), store: 'memory' } as const;
  try {
    set = typeof contexts === 'string' ? loadContextFile(contexts, options) : createContextSet(contexts, options);
  } catch (err) {
    if (err instanceof OscoreHttpError) throw new SuiteInputError(err.message, { cause: err });
    throw err;
  }
  const label = (ctx: SecurityContext) => ctx.name ?? `contexts[${set.contexts.indexOf(ctx)}]`;
  if (name !== undefined) {
    const found = set.contexts.find((ctx) => ctx.name === name);
    if (found === undefined) {
      const names = set.contexts.map(label).join(', ');
      throw new SuiteInputError(`The contexts file has no context named "${name}"; it has: ${names}.`);
    }
    return { context: found, label: label(found) };
  }
  if (set.contexts.length === 0) throw new SuiteInputError('The contexts file has only replicated senders (senderIdSuffix); give the suite a context with a fixed Sender ID.');
  const chosen = set.forOrigin(origin) ?? set.contexts[0]!;
  return { context: chosen, label: label(chosen) };
}
