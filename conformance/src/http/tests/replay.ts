/**
 * The replay window (RFC 8613 §7.4, §3.2.2): a server accepts each Partial IV once,
 * accepts numbers that arrive out of order inside its window, and rejects numbers older
 * than the window. Rejections are 4.01 (§7.4), unprotected, with no application effect.
 *
 * Categories: the tests that a server without replay protection fails are `replay`,
 * including the out-of-window case (a number older than the window is refused as a
 * possible replay); the in-window reordering that every server must accept is `reorder`.
 */

import { coapCode } from '@oscore-http/core';
import { describeRejection, UNAUTHORIZED } from '../outcomes.js';
import type { HttpTestDefinition } from '../test-run.js';
import { UNASSIGNED_CRITICAL } from './inner.js';

const REJECTED = `${describeRejection(UNAUTHORIZED)}; application not run`;

const identical: HttpTestDefinition = {
  id: 'replay.identical',
  title: 'An accepted request sent again is rejected',
  rfc: 'RFC 8613 §7.4, §8.2 step 3',
  category: 'replay',
  expected: `#1 accepted; replay ${REJECTED}`,
  async run(t) {
    const first = await t.exchange('#1', { method: 'POST', target: t.target(), headers: [['content-type', 'application/json']], body: new TextEncoder().encode('{"replay":1}') });
    t.expectAccepted(first);
    const replay = await t.send('replay of #1', first.outer, { request: first.request!, note: 'the bytes of #1, unchanged' });
    t.expectRejected(replay, UNAUTHORIZED);
    await t.expectNoApplicationEffect();
  },
};

const older: HttpTestDefinition = {
  id: 'replay.older',
  title: 'A request replayed after a newer one was accepted is rejected',
  rfc: 'RFC 8613 §7.4',
  category: 'replay',
  expected: `#1, #2 accepted; replay of #1 ${REJECTED}`,
  async run(t) {
    const first = await t.exchange('#1', { method: 'GET', target: t.target('n=1') });
    const second = await t.exchange('#2', { method: 'GET', target: t.target('n=2') });
    t.expectAccepted(first);
    t.expectAccepted(second);
    const replay = await t.send('replay of #1', first.outer, { request: first.request!, note: 'the bytes of #1 after #2' });
    t.expectRejected(replay, UNAUTHORIZED);
    await t.expectNoApplicationEffect();
  },
};

const concurrent: HttpTestDefinition = {
  id: 'replay.concurrent',
  title: 'The same request sent twice at once is accepted once',
  rfc: 'RFC 8613 §7.4 ("validating the Partial IV and updating the replay protection MUST be atomic")',
  category: 'replay',
  expected: `exactly one accepted; the other ${REJECTED}`,
  async run(t) {
    const request = await t.protect({ method: 'POST', target: t.target(), headers: [['content-type', 'text/plain; charset=utf-8']], body: new TextEncoder().encode('once') });
    const [a, b] = await Promise.all([
      t.send('#1a', request.outer, { request, note: 'sent together with #1b', defer: true }),
      t.send('#1b', request.outer, { request, note: 'the bytes of #1a, sent at the same time', defer: true }),
    ]);
    // The binding accepts one response (§7.4): verify whichever looks protected first.
    const accepted = [a, b].filter((x) => x.verification === undefined);
    if (accepted.length > 0) await t.verify(accepted[0]!, request.binding);
    for (const x of accepted.slice(1)) await t.verify(x, undefined);
    const winners = [a, b].filter((x) => x.verification?.kind === 'protected' && x.verification.verified);
    t.check('exactly one accepted', winners.length === 1, '1 protected response that verifies', `${winners.length}`);
    const [winner, loser] = winners[0] === b ? [b, a] : [a, b];
    t.expectAccepted(winner);
    t.expectRejected(loser, UNAUTHORIZED);
    await t.expectNoApplicationEffect();
  },
};

const outsideWindow: HttpTestDefinition = {
  id: 'replay.outside-window',
  title: 'A request older than the replay window is rejected',
  rfc: 'RFC 8613 §7.4, §3.2.2',
  category: 'replay',
  expected: `#1 accepted; #2 (never sent, older than the window) ${REJECTED}`,
  async run(t) {
    // Reserve a block, send near its top, then a number far below: it is older than any
    // window of at most maxReplayWindow numbers (RFC default 32; this project's HTTP default 1,024).
    const w = t.env.maxReplayWindow;
    const base = t.env.client.sequence.reserve(w + 65);
    const newer = await t.exchange(`#1 (seq base+${w + 64})`, { method: 'GET', target: t.target('n=new') }, { sequenceNumber: base + w + 64 });
    t.expectAccepted(newer);
    const old = await t.exchange('#2 (seq base+32)', { method: 'GET', target: t.target('n=old') }, { sequenceNumber: base + 32 });
    t.expectRejected(old, UNAUTHORIZED);
    await t.expectNoApplicationEffect();
  },
};

const afterError: HttpTestDefinition = {
  id: 'replay.after-error',
  title: 'A request answered with a protected error, sent again, is rejected',
  rfc: 'RFC 8613 §7.4 ("SHALL verify that the Sender Sequence Number ... has not been received before"), §8.2 step 6',
  category: 'replay',
  expected: `#1 answered with a protected error; replay ${REJECTED}`,
  async run(t) {
    // Authentic, but with an unrecognized critical option inside (RFC 7252 §5.4.1): the
    // window is updated at decryption, whatever CoAP processing answers afterwards.
    const first = await t.exchange('#1', { method: 'GET', target: t.target(), coap: { options: [{ number: UNASSIGNED_CRITICAL, value: new Uint8Array(0) }] } });
    // How it answers is inner.critical-option's concern (notes here); this test judges the replay.
    t.expectProtectedError(first, coapCode(4, 2), '4.02 Bad Option', 'RFC 7252 §5.4.1 gives it for a Confirmable request; HTTP has no message types', { errorAdvisory: true, protectedAdvisory: true });
    const replay = await t.send('replay of #1', first.outer, { request: first.request!, note: 'the bytes of #1, unchanged' });
    t.expectRejected(replay, UNAUTHORIZED);
    await t.expectNoApplicationEffect();
  },
};

const insideWindow: HttpTestDefinition = {
  id: 'reorder.inside-window',
  title: 'Requests reordered inside the replay window are both accepted',
  rfc: 'RFC 8613 §7.4, §3.2.2',
  category: 'reorder',
  expected: 'both accepted: protected 200s that verify',
  async run(t) {
    const base = t.env.client.sequence.reserve(11);
    const later = await t.exchange('#1 (seq s+10)', { method: 'GET', target: t.target('n=10') }, { sequenceNumber: base + 10 });
    const earlier = await t.exchange('#2 (seq s+5)', { method: 'GET', target: t.target('n=5') }, { sequenceNumber: base + 5 });
    t.expectAccepted(later);
    t.expectAccepted(earlier);
  },
};

export const replayTests: readonly HttpTestDefinition[] = [identical, older, concurrent, outsideWindow, afterError, insideWindow];
