/**
 * Tampering: an intermediary changes one protected part of a valid request — a body
 * byte, the tag, the length, the Partial IV or the kid. Each one is bound by the AEAD
 * (the ciphertext and tag directly; Partial IV and kid through the nonce and the AAD,
 * RFC 8613 §5.2, §5.4), so the request fails to verify (§8.2 step 6) and is refused
 * without a protected response or an application effect.
 *
 * The outer method and path are not tested: they are not protected by design (§4.2,
 * §8.2 step 1 discards the outer code; the outer target is Class U).
 */

import { decodeOscoreOption, encodeOscoreOption, encodePartialIV, sequenceNumber } from '@oscore-http/core';
import { BAD_OPTION, BAD_REQUEST, describeRejection, UNAUTHORIZED_OR_BAD_REQUEST, type Rejection } from '../outcomes.js';
import type { ProtectedRequest } from '../client.js';
import type { HttpTestDefinition, TestRun } from '../test-run.js';
import { base64url, flipBit, withBody, withField } from './alter.js';
import { alteredRequestTest } from './altered-request.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

function tamperTest(
  name: string,
  title: string,
  rfc: string,
  rejection: Rejection,
  alter: (t: TestRun, request: ProtectedRequest) => Promise<{ outer: ProtectedRequest['outer']; note: string }>,
): HttpTestDefinition {
  return alteredRequestTest({
    id: `tamper.${name}`,
    category: 'tamper',
    title,
    rfc,
    rejection,
    inner: (t) => ({ method: 'POST', target: t.target(), headers: [['content-type', 'text/plain; charset=utf-8']], body: utf8('tamper with me') }),
    alter,
  });
}

/**
 * A tampered request must not change the server's state either: a window moved by a
 * message that did not decrypt would let anyone who can send shut a client out, every
 * genuine number below the forged one being "too old".
 */
const forgedAhead: HttpTestDefinition = {
  id: 'tamper.window',
  title: 'A forged request far ahead does not move the replay window',
  rfc: 'RFC 8613 §8.2 step 6 ("If decryption succeeds, update the Replay Window"), §7.4',
  category: 'tamper',
  expected: `#1 (forged, far ahead) ${describeRejection(BAD_REQUEST)}; #2 (authentic, behind #1 by more than the window) accepted`,
  async run(t) {
    const w = t.env.maxReplayWindow;
    const base = t.env.client.sequence.reserve(w + 65);
    const ahead = await t.protect({ method: 'GET', target: t.target('n=forged') }, base + w + 64);
    const forged = await t.send(`#1 (seq base+${w + 64}, tag bit flipped)`, withBody(ahead.outer, flipBit(ahead.outer.body, -1)), { request: ahead, note: 'bit 0 of the last body byte (the tag) flipped', verifyWith: ahead.binding });
    t.expectRejected(forged, BAD_REQUEST);
    const genuine = await t.exchange('#2 (seq base+1)', { method: 'GET', target: t.target('n=genuine') }, { sequenceNumber: base + 1 });
    t.expectAccepted(genuine);
    await t.expectNoApplicationEffect();
  },
};

export const tamperTests: readonly HttpTestDefinition[] = [
  tamperTest('ciphertext', 'A request with one ciphertext bit flipped is rejected', 'RFC 8613 §8.2 step 6', BAD_REQUEST, async (_t, r) => ({
    outer: withBody(r.outer, flipBit(r.outer.body, 0)),
    note: 'bit 0 of the first body byte flipped',
  })),
  tamperTest('tag', 'A request with one authentication-tag bit flipped is rejected', 'RFC 8613 §8.2 step 6', BAD_REQUEST, async (_t, r) => ({
    outer: withBody(r.outer, flipBit(r.outer.body, -1)),
    note: 'bit 0 of the last body byte (the tag) flipped',
  })),
  tamperTest('truncated', 'A request with its last body byte removed is rejected', 'RFC 8613 §8.2 step 6', BAD_REQUEST, async (_t, r) => ({
    outer: withBody(r.outer, r.outer.body.subarray(0, -1)),
    note: 'last body byte removed',
  })),
  tamperTest('partial-iv', 'A request whose Partial IV was changed is rejected', 'RFC 8613 §5.2, §5.4, §8.2 step 6', BAD_REQUEST, async (t, r) => {
    // A number reserved for this and never sent: the change alone must make it fail.
    const other = t.env.client.sequence.reserve(1);
    const fields = decodeOscoreOption(r.option);
    const option = encodeOscoreOption({ ...fields, partialIV: encodePartialIV(sequenceNumber(other)) });
    return { outer: withField(r.outer, 'oscore', base64url(option)), note: `Partial IV ${r.sequenceNumber} replaced by ${other}` };
  }),
  tamperTest('kid', "A request whose 'kid' was changed is rejected", 'RFC 8613 §8.2 steps 2 and 6', UNAUTHORIZED_OR_BAD_REQUEST, async (_t, r) => {
    const fields = decodeOscoreOption(r.option);
    const kid = fields.kid === undefined || fields.kid.length === 0 ? Uint8Array.of(0) : flipBit(fields.kid, -1);
    return { outer: withField(r.outer, 'oscore', base64url(encodeOscoreOption({ ...fields, kid }))), note: "one bit of 'kid' flipped" };
  }),
  tamperTest('empty-body', 'A request whose body was removed is rejected', 'RFC 8613 §2 (an OSCORE message without payload is malformed), §8.2 step 2', BAD_OPTION, async (_t, r) => ({
    outer: withBody(r.outer, new Uint8Array(0)),
    note: 'body removed',
  })),
  forgedAhead,
];
