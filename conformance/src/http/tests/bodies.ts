/**
 * Bodies: each kind of body travels as the protected payload (RFC 8613 §5.3) and arrives
 * byte for byte; a body beyond what the target accepts is refused before any OSCORE
 * processing reaches the application.
 */

import { coapCode } from '@oscore-http/core';
import { TOO_LARGE, describeRejection } from '../outcomes.js';
import type { HttpTestDefinition } from '../test-run.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Deterministic bytes with every value, so a transcoding or truncation shows. */
function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = 0x2545f491;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/**
 * 60,000 bytes: near the 65,535-byte plaintext bound of AES-CCM-16-* (the mandatory
 * algorithm, RFC 8613 §5; RFC 9053 §4.2), so it fits whatever the context's algorithm.
 */
const LARGE = 60_000;

interface BodyCase {
  readonly name: string;
  readonly title: string;
  readonly type?: string;
  readonly body: Uint8Array;
}

const CASES: readonly BodyCase[] = [
  { name: 'empty', title: 'A POST without a body', body: new Uint8Array(0) },
  { name: 'text', title: 'A UTF-8 text body', type: 'text/plain; charset=utf-8', body: utf8('héllo wörld ✓ — OSCORE over HTTP') },
  { name: 'json', title: 'A JSON body', type: 'application/json', body: utf8('{"order":42,"items":["tea","milk"],"note":"ünïcode"}') },
  { name: 'binary', title: 'A binary body with every byte value', type: 'application/octet-stream', body: Uint8Array.from({ length: 512 }, (_, i) => i & 0xff) },
  { name: 'large', title: `A ${LARGE.toLocaleString('en')}-byte body`, type: 'application/octet-stream', body: pattern(LARGE) },
];

const bodyTests: readonly HttpTestDefinition[] = CASES.map((c) => ({
  id: `body.${c.name}`,
  title: `${c.title} travels as the protected payload`,
  rfc: 'RFC 8613 §5.3, §11.4',
  category: 'body',
  expected:
    c.name === 'large'
      ? 'protected 200 that verifies; echo: same bytes and Content-Type (413, or 4.13 inside, from a target whose limit is smaller passes with a note)'
      : 'protected 200 that verifies; echo: same bytes and Content-Type',
  async run(t) {
    const x = await t.exchange('#1', {
      method: 'POST',
      target: t.target(),
      headers: c.type === undefined ? [] : [['content-type', c.type]],
      body: c.body,
    });
    const v = x.verification;
    // No RFC sets a size every server must take: a smaller limit, said as 4.13 (RFC 8075 §7: 413), is allowed.
    const tooLarge = c.name === 'large' && ((v?.kind === 'unprotected' && v.status === 413) || (v?.kind === 'protected' && v.verified && v.message.code === coapCode(4, 13)));
    if (tooLarge) {
      t.check('#1: body accepted (advisory)', false, `a ${LARGE.toLocaleString('en')}-byte body accepted`, v.kind === 'unprotected' ? 'unprotected 413' : 'protected 4.13 inside', true);
      return;
    }
    t.expectAccepted(x);
  },
}));

const oversized: HttpTestDefinition = {
  id: 'size.oversized',
  title: 'A body larger than the target accepts is refused',
  rfc: 'RFC 8075 §7 (4.13 → 413); RFC 9110 §15.5.14',
  category: 'size',
  expected: `${describeRejection(TOO_LARGE)}; application not run`,
  async run(t) {
    // A valid OSCORE header for a fresh request, with a body far beyond the target's limit.
    const request = await t.protect({ method: 'GET', target: t.target() });
    const body = pattern(t.env.oversize);
    const x = await t.send('#1', { ...request.outer, body }, { request, note: `body replaced by ${t.env.oversize} bytes` });
    t.expectRejected(x, TOO_LARGE);
    await t.expectNoApplicationEffect();
  },
};

export { bodyTests, oversized };
