/**
 * Outer framing (RFC 8613 §11.1–§11.3): the `OSCORE` header field carries the OSCORE
 * option value in unpadded base64url, and `Content-Type: application/oscore` marks the
 * body as an OSCORE payload. A malformed field or option value fails to decode (§8.2
 * step 2: 4.02, "Failed to decode COSE"); a body not marked as OSCORE is refused as an
 * unsupported media type.
 */

import { encodeOscoreOption, encodePartialIV, sequenceNumber } from '@oscore-http/core';
import {
  BAD_OPTION,
  BAD_OPTION_OR_UNAUTHORIZED,
  describeRejection,
  NOT_OSCORE_MEDIA_TYPE,
  type Rejection,
} from '../outcomes.js';
import type { OuterRequest, ProtectedRequest } from '../client.js';
import type { HttpTestCategory } from '../types.js';
import type { HttpTestDefinition } from '../test-run.js';
import { base64url, oscoreField, withField } from './alter.js';
import { alteredRequestTest } from './altered-request.js';

function framingTest(
  id: string,
  category: HttpTestCategory,
  title: string,
  rfc: string,
  rejection: Rejection,
  alter: (request: ProtectedRequest) => { outer: OuterRequest; note: string },
  mayProcess?: string,
): HttpTestDefinition {
  return alteredRequestTest({ id, category, title, rfc, rejection, alter: (_t, request) => alter(request), ...(mayProcess === undefined ? {} : { mayProcess }) });
}

/** The option value with its flag byte (RFC 8613 §6.1, Figure 10) set to `flags`. */
function withFlags(option: Uint8Array, flags: number): Uint8Array {
  const copy = option.slice();
  copy[0] = flags;
  return copy;
}

const N_MASK = 0x07;
const FLAG_K = 0x08;
const FLAG_H = 0x10;

function header(name: string, title: string, rfc: string, rejection: Rejection, alter: (request: ProtectedRequest) => { value: string | string[] | undefined; note: string }): HttpTestDefinition {
  return framingTest(`header.${name}`, 'header', title, rfc, rejection, (request) => {
    const { value, note } = alter(request);
    const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
    return { outer: withField(request.outer, 'oscore', ...values), note };
  });
}

export const headerTests: readonly HttpTestDefinition[] = [
  header('missing', 'An application/oscore request without the OSCORE field is rejected', 'RFC 8613 §11.1, §11.3', BAD_OPTION_OR_UNAUTHORIZED, () => ({
    value: undefined,
    note: 'OSCORE field removed',
  })),
  header('not-base64url', 'An OSCORE field with characters outside base64url is rejected', 'RFC 8613 §11.1 (OSCORE = 2*base64url-char)', BAD_OPTION, (r) => {
    const value = oscoreField(r.outer);
    return { value: `${value.slice(0, 2)}!${value.slice(2)}`, note: `"!" inserted: ${value.slice(0, 2)}!${value.slice(2)}` };
  }),
  header('padded', 'An OSCORE field with base64 padding is rejected', 'RFC 8613 §11.1, §11.2 (base64url without padding)', BAD_OPTION, (r) => {
    const value = oscoreField(r.outer);
    const padded = value + '='.repeat(value.length % 4 === 0 ? 4 : 4 - (value.length % 4));
    return { value: padded, note: `padded: ${padded}` };
  }),
  header('repeated', 'A request with the OSCORE field twice is rejected', 'RFC 8613 §2 (the option is not repeatable); RFC 7252 §5.4.5', BAD_OPTION, (r) => ({
    value: [oscoreField(r.outer), oscoreField(r.outer)],
    note: 'the same OSCORE field sent twice',
  })),
  header('reserved-flag', 'An OSCORE option with a reserved flag bit set is rejected', 'RFC 8613 §6.1, §13.7 (reserved bits set: malformed)', BAD_OPTION, (r) => {
    const option = withFlags(r.option, r.option[0]! | 0x80);
    return { value: base64url(option), note: `flag byte ${r.option[0]!.toString(16).padStart(2, '0')} → ${option[0]!.toString(16)} (bit 0 set)` };
  }),
  header('reserved-n', 'An OSCORE option with the reserved Partial IV length n = 6 is rejected', 'RFC 8613 §6.1 ("n = 6 and n = 7 are reserved")', BAD_OPTION, (r) => {
    // Six bytes that still read as the request's own number (00 and the number in five),
    // the rest of the option unchanged: only a parser that takes n = 6 accepts it, and
    // one that does finds the right kid, nonce and AAD — so the refusal must come from n.
    const n = r.option[0]! & N_MASK;
    const piv = r.option.subarray(1, 1 + n);
    const six = new Uint8Array(6);
    six.set(piv, 6 - piv.length);
    const option = Uint8Array.of((r.option[0]! & ~N_MASK) | 6, ...six, ...r.option.subarray(1 + n));
    return { value: base64url(option), note: `n = 6, Partial IV ${Buffer.from(six).toString('hex')} (the same number in six bytes)` };
  }),
  header('truncated-partial-iv', 'An OSCORE option shorter than its Partial IV length is rejected', 'RFC 8613 §6.1', BAD_OPTION, (r) => {
    const n = r.option[0]! & N_MASK;
    // Flags n = 5, k = 0, h = 0, followed by fewer than five Partial IV bytes.
    const option = Uint8Array.of(0x05, ...r.option.subarray(1, 1 + Math.min(n, 2)));
    return { value: base64url(option), note: `n = 5 with ${option.length - 1} Partial IV bytes` };
  }),
  header('kid-context-overrun', "An OSCORE option whose 'kid context' length runs past its end is rejected", 'RFC 8613 §6.1', BAD_OPTION, (r) => {
    const n = r.option[0]! & N_MASK;
    const option = Uint8Array.of(FLAG_H | FLAG_K | n, ...r.option.subarray(1, 1 + n), 0xff, 0x01, 0x02);
    return { value: base64url(option), note: "'kid context' length s = 255 with 2 bytes left" };
  }),
  header('empty-option', 'A request with an empty OSCORE option (AA) is rejected', "RFC 8613 §5 ('Partial IV' and 'kid' SHALL be present in requests), §11.3", BAD_OPTION, () => ({
    value: 'AA',
    note: 'OSCORE: AA (the empty option value)',
  })),
];

/** Sequence numbers searched, in blocks, for an `OSCORE` field that has `-` or `_`. */
const SEARCH_BLOCK = 64;
const SEARCH_BLOCKS = 16;

/**
 * The standard base64 alphabet writes base64url's `-` and `_` as `+` and `/` (RFC 4648
 * §4, §5). A decoder that accepts both reads the same option, so the request is refused
 * only by one that holds to §11.1 — which needs a field that has `-` or `_` at all: the
 * test looks for a Sender Sequence Number whose option value gives one.
 */
export const standardBase64: HttpTestDefinition = {
  id: 'header.standard-base64',
  title: 'An OSCORE field in the standard base64 alphabet ("+", "/") is rejected',
  rfc: 'RFC 8613 §11.1 (base64url-char = ALPHA / DIGIT / "-" / "_")',
  category: 'header',
  expected: `${describeRejection(BAD_OPTION)}; application not run`,
  async run(t) {
    const { context, sequence } = t.env.client;
    const fields = { kid: context.senderId, kidContext: context.sendKidContext ? context.idContext : undefined };
    let chosen: number | undefined;
    for (let block = 0; block < SEARCH_BLOCKS && chosen === undefined; block++) {
      const base = sequence.reserve(SEARCH_BLOCK);
      for (let seq = base; seq < base + SEARCH_BLOCK && chosen === undefined; seq++) {
        if (/[-_]/.test(base64url(encodeOscoreOption({ ...fields, partialIV: encodePartialIV(sequenceNumber(seq)) })))) chosen = seq;
      }
    }
    // The suite's own limits are notes, not the target's failures.
    if (chosen === undefined) {
      t.check('an OSCORE field with "-" or "_" (advisory)', false, `one among ${SEARCH_BLOCK * SEARCH_BLOCKS} sequence numbers`, 'none found: this context cannot show the difference', true);
      return;
    }
    const request = await t.protect({ method: 'GET', target: t.target() }, chosen);
    const field = oscoreField(request.outer);
    const standard = field.replaceAll('-', '+').replaceAll('_', '/');
    if (standard === field) {
      t.check('the field differs in the standard alphabet (advisory)', false, `"-" or "_" in ${field}`, field, true);
      return;
    }
    const x = await t.send('#1', withField(request.outer, 'oscore', standard), { request, note: `${field} sent as ${standard}`, verifyWith: request.binding });
    t.expectRejected(x, BAD_OPTION);
    await t.expectNoApplicationEffect();
  },
};

/**
 * §11.1 tells the sender to set `application/oscore`, but no receiver rule requires a
 * refusal without it: the HTTP-to-CoAP mapping omits the Content-Format (§11.3), and the
 * field is outside the protection. A target may refuse the request or process it.
 */
const CONTENT_TYPE_IGNORED = 'RFC 8613 §11.3 omits the Content-Format, and Content-Type is not protected';

export const contentTypeTests: readonly HttpTestDefinition[] = [
  framingTest(
    'content-type.missing',
    'content-type',
    'An OSCORE request without Content-Type is refused, or processed as OSCORE',
    'RFC 8613 §11.1, §11.3',
    NOT_OSCORE_MEDIA_TYPE,
    (r) => ({ outer: withField(r.outer, 'content-type'), note: 'Content-Type removed' }),
    CONTENT_TYPE_IGNORED,
  ),
  framingTest(
    'content-type.wrong',
    'content-type',
    'An OSCORE request with another Content-Type is refused, or processed as OSCORE',
    'RFC 8613 §11.1, §11.3',
    NOT_OSCORE_MEDIA_TYPE,
    (r) => ({ outer: withField(r.outer, 'content-type', 'application/octet-stream'), note: 'Content-Type: application/octet-stream' }),
    CONTENT_TYPE_IGNORED,
  ),
];
