/**
 * Response binding (RFC 8613 §7.1, §5.4, §8.4): a response carries the request's 'kid'
 * and Partial IV in its AAD, so it verifies against the request it answers and against
 * no other. The suite sends two requests and verifies each response against both.
 */

import type { HttpTestDefinition } from '../test-run.js';

export const bindingTests: readonly HttpTestDefinition[] = [
  {
    id: 'binding.cross-request',
    title: 'Each response verifies against its own request and not against another',
    rfc: 'RFC 8613 §7.1, §5.4, §8.4',
    category: 'binding',
    expected: "A's response fails to verify against B, verifies against A; B likewise",
    async run(t) {
      const a = await t.exchange('A', { method: 'GET', target: t.target('binding=a') }, { verify: false });
      const b = await t.exchange('B', { method: 'GET', target: t.target('binding=b') }, { verify: false });
      const client = t.env.client;
      // Wrong pairings first: a successful verification spends the binding (§7.4).
      const aWithB = await client.verify(a.response, b.request!.binding);
      const bWithA = await client.verify(b.response, a.request!.binding);
      const failed = (v: typeof aWithB) => v.kind === 'protected' && !v.verified;
      const describe = (v: typeof aWithB) => (v.kind === 'protected' ? (v.verified ? 'verified' : `not verified (${v.error})`) : v.kind === 'none' ? 'no response' : `unprotected ${v.status}`);
      t.check("A's response with B's request", failed(aWithB), 'not verified', describe(aWithB));
      t.check("B's response with A's request", failed(bWithA), 'not verified', describe(bWithA));
      await t.verify(a, a.request!.binding);
      await t.verify(b, b.request!.binding);
      t.expectAccepted(a);
      t.expectAccepted(b);
    },
  },
];
