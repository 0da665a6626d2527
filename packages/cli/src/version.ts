/**
 * The version of this package, read from its package.json.
 */

import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The `version` of @oscore-http/cli. */
export function cliVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}
