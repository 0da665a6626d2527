/**
 * The black-box HTTP tests, in the order they run. docs/conformance.md §4 describes each.
 */

import type { HttpTestDefinition } from '../test-run.js';
import { bindingTests, responseNonces } from './binding.js';
import { bodyTests, oversized } from './bodies.js';
import { contentTypeTests, headerTests, standardBase64 } from './framing.js';
import { identifierTests } from './identifiers.js';
import { innerTests } from './inner.js';
import { methodTests } from './methods.js';
import { replayTests } from './replay.js';
import { tamperTests } from './tampering.js';
import { unprotectedTests } from './unprotected.js';

/** Every test of the suite. */
export const HTTP_TESTS: readonly HttpTestDefinition[] = Object.freeze([
  ...methodTests,
  ...bodyTests,
  ...replayTests,
  ...tamperTests,
  ...identifierTests,
  ...headerTests,
  standardBase64,
  ...contentTypeTests,
  oversized,
  ...unprotectedTests,
  ...bindingTests,
  ...innerTests,
  // Last: it judges the nonces of every response the run saw.
  responseNonces,
]);
