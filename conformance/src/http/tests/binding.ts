/**
 * Response binding (RFC 8613 §7.1, §5.4, §8.4): a response carries the request's 'kid'
 * and Partial IV in its AAD, so it verifies against the request it answers and against
 * no other. The suite sends two requests and verifies each response against both.
 */

import type { HttpTestDefinition } from '../test-run.js';

/**
 * The server's nonces (RFC 8613 §5.2): a response with a Partial IV uses the server's own
 * Sender Sequence Number, which must never repeat (§7.2, §8.3 step 3); an Echo challenge
 * after lost state must carry one (Appendix B.1.2). The suite notes every response
 * Partial IV of the run, as a number (leading zero bytes name the same nonce, §5.2); this
 * test, the last, adds four exchanges and judges them all.
 */
export const responseNonces: HttpTestDefinition = {
  id: 'binding.response-nonces',
  title: 'No two responses carry the same Partial IV',
  rfc: 'RFC 8613 §7.2 ("An AEAD nonce MUST NOT be used more than once per AEAD key"), §8.3 step 3, Appendix B.1.2',
  category: 'binding',
  expected: 'four requests accepted; no Partial IV repeated in the responses of the run (an Echo challenge without one: a note)',
  async run(t) {
    for (let i = 1; i <= 4; i++) t.expectAccepted(await t.exchange(`#${i}`, { method: 'GET', target: t.target(`nonce=${i}`) }));
    const { seen, repeated, challengesWithoutPartialIV } = t.env.responseNonces;
    const total = seen.size + repeated.length;
    t.check('response Partial IVs', repeated.length === 0, `each new (${total} seen in the run; responses without one use their request's nonce)`, repeated.length === 0 ? `${seen.size} distinct` : `repeated: ${[...new Set(repeated)].slice(0, 8).join(', ')}`);
    // Advisory: Appendix B.1.2 requires the server's own Partial IV after a loss of state,
    // but a server with its window intact that challenges a first request (RFC 9175 §2.4)
    // has that request in its window already, and its nonce cannot come back.
    t.check('Echo challenges (advisory)', challengesWithoutPartialIV === 0, "each with the server's own Partial IV (Appendix B.1.2, after a loss of state)", `${challengesWithoutPartialIV} without one`, true);
  },
};

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
