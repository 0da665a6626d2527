/**
 * Identifiers: the server finds the Recipient Context by 'kid' and, when present,
 * 'kid context' (RFC 8613 §8.2 step 2, §5.1). A kid or kid context it has no context
 * for is 4.01; a request without kid fails to decode (§5: "SHALL be present in
 * requests"), 4.02.
 */

import { decodeOscoreOption, encodeOscoreOption, type OscoreOptionFields } from '@oscore-http/core';
import { BAD_OPTION, UNAUTHORIZED, type Rejection } from '../outcomes.js';
import type { HttpTestCategory } from '../types.js';
import type { HttpTestDefinition } from '../test-run.js';
import { base64url, flipBit, withField } from './alter.js';
import { alteredRequestTest } from './altered-request.js';

/** A kid no deployment is expected to use: "unknown" in ASCII. */
const UNKNOWN_KID = new TextEncoder().encode('unknown');
/** An ID Context no deployment is expected to use: "unknown-ctx" in ASCII. */
const UNKNOWN_KID_CONTEXT = new TextEncoder().encode('unknown-ctx');

function identifierTest(
  id: string,
  category: HttpTestCategory,
  title: string,
  rfc: string,
  rejection: Rejection,
  change: (fields: OscoreOptionFields) => { fields: OscoreOptionFields; note: string },
): HttpTestDefinition {
  return alteredRequestTest({
    id,
    category,
    title,
    rfc,
    rejection,
    alter: (_t, request) => {
      const { fields, note } = change(decodeOscoreOption(request.option));
      return { outer: withField(request.outer, 'oscore', base64url(encodeOscoreOption(fields))), note };
    },
  });
}

export const identifierTests: readonly HttpTestDefinition[] = [
  identifierTest('kid.unknown', 'kid', "A request with a 'kid' the server has no context for is rejected", 'RFC 8613 §8.2 step 2', UNAUTHORIZED, (f) => ({
    fields: { ...f, kid: UNKNOWN_KID },
    note: "'kid' replaced by 756e6b6e6f776e (\"unknown\")",
  })),
  identifierTest('kid.missing', 'kid', "A request without 'kid' is rejected", "RFC 8613 §5 ('kid' SHALL be present in requests), §8.2 step 2", BAD_OPTION, (f) => ({
    fields: { partialIV: f.partialIV, kidContext: f.kidContext },
    note: "'kid' removed (flag k = 0)",
  })),
  identifierTest('kid-context.unknown', 'kid-context', "A request with a 'kid context' the server has no context for is rejected", 'RFC 8613 §5.1, §8.2 step 2', UNAUTHORIZED, (f) => ({
    fields: { ...f, kidContext: f.kidContext === undefined ? UNKNOWN_KID_CONTEXT : flipBit(f.kidContext.length === 0 ? Uint8Array.of(0) : f.kidContext, -1) },
    note: f.kidContext === undefined ? "'kid context' 756e6b6e6f776e2d637478 (\"unknown-ctx\") added" : "one bit of 'kid context' flipped",
  })),
];
