/**
 * Unprotected requests: a route behind OSCORE is "only accessible using OSCORE, and
 * unprotected access to it is not supported" (RFC 8613 §9). A plain request to it is
 * refused and never reaches the application.
 */

import { describeRejection, OSCORE_REQUIRED } from '../outcomes.js';
import type { HttpTestDefinition } from '../test-run.js';

function unprotectedTest(method: 'GET' | 'POST'): HttpTestDefinition {
  return {
    id: `unprotected.${method.toLowerCase()}`,
    title: `A plain ${method} to the protected route is refused`,
    rfc: 'RFC 8613 §9, §12.1; RFC 9110 §15.5.2',
    category: 'unprotected',
    expected: `${describeRejection(OSCORE_REQUIRED)}; application not run`,
    async run(t) {
      const body = method === 'POST' ? new TextEncoder().encode('{"protected":false}') : new Uint8Array(0);
      const headers: [string, string][] = method === 'POST' ? [['content-type', 'application/json']] : [];
      const x = await t.send('#1', { method, path: t.target(), headers, body }, { note: 'no OSCORE' });
      t.expectRejected(x, OSCORE_REQUIRED);
      await t.expectNoApplicationEffect();
    },
  };
}

export const unprotectedTests: readonly HttpTestDefinition[] = [unprotectedTest('GET'), unprotectedTest('POST')];
