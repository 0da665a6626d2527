/**
 * Errors of CoAP processing after successful verification (RFC 8613 §8.2 step 8): "CoAP
 * error responses derived from CoAP processing ... are protected" (§8.3), unlike the
 * OSCORE errors of steps 2, 3 and 6. The requests are authentic; what they carry inside
 * is what a CoAP server must refuse, with the code RFC 7252 gives.
 */

import { CoapOptionNumber, coapCode } from '@oscore-http/core';
import type { InnerRequest } from '../client.js';
import type { HttpTestDefinition } from '../test-run.js';

/**
 * An option number with no registration (RFC 7252 §12.2 registry; odd, so critical,
 * RFC 7252 §5.4.6), outside the experimental range where an implementation may define its own.
 */
export const UNASSIGNED_CRITICAL = 2049;

/** A request method code with no assignment (RFC 7252 §12.1.1, RFC 8132 use 0.01–0.07). */
const UNASSIGNED_METHOD = coapCode(0, 8);

/**
 * A test that sends an authentic GET whose mapped CoAP message is changed by `coap` and
 * requires a protected error in return, the application not run; the exact code is advisory.
 */
function protectedErrorTest(test: {
  id: string;
  title: string;
  rfc: string;
  coap: NonNullable<InnerRequest['coap']>;
  code: number;
  /** The suggested code in words, e.g. `4.02 Bad Option`. */
  name: string;
  /** Why that code, for the advisory note. */
  why: string;
}): HttpTestDefinition {
  return {
    id: test.id,
    title: test.title,
    rfc: `RFC 8613 §8.2 step 8, §8.3; ${test.rfc}`,
    category: 'inner',
    expected: `protected response that verifies with an error code inside (${test.name} suggested); application not run`,
    async run(t) {
      const x = await t.exchange('request', { method: 'GET', target: t.target(), coap: test.coap });
      t.expectProtectedError(x, test.code, test.name, test.why);
      await t.expectNoApplicationEffect();
    },
  };
}

/** A target no server is expected to have: an unregistered well-known suffix (RFC 8615). */
export const NO_SUCH_RESOURCE = '/.well-known/oscore-conformance/no-such-resource';

const notFound: HttpTestDefinition = {
  id: 'inner.not-found',
  title: 'A verified request for a resource the server does not have is answered protected',
  rfc: 'RFC 8613 §8.3 ("CoAP error responses derived from CoAP processing ... are protected"), §8.2 step 8; RFC 7252 §5.9.2.5',
  category: 'inner',
  expected: 'protected response that verifies (4.04 Not Found inside suggested)',
  async run(t) {
    // The application (its router) decides: a 404 is application processing, not OSCORE's,
    // so it must not leave the server in clear. A catch-all route may answer otherwise.
    const x = await t.exchange('request', { method: 'GET', target: NO_SUCH_RESOURCE });
    t.expectProtectedError(x, coapCode(4, 4), '4.04 Not Found', `nothing is at ${NO_SUCH_RESOURCE}`, { errorAdvisory: true });
  },
};

export const innerTests: readonly HttpTestDefinition[] = [
  notFound,
  protectedErrorTest({
    id: 'inner.critical-option',
    title: 'An unrecognized critical inner option is refused with a protected error',
    rfc: 'RFC 7252 §5.4.1',
    coap: { options: [{ number: UNASSIGNED_CRITICAL, value: new Uint8Array(0) }] },
    code: coapCode(4, 2),
    name: '4.02 Bad Option',
    why: 'RFC 7252 §5.4.1 gives it for a Confirmable request; HTTP has no message types',
  }),
  protectedErrorTest({
    id: 'inner.method-code',
    title: 'An unassigned inner method code is refused with a protected error',
    rfc: 'RFC 7252 §5.8',
    coap: { code: UNASSIGNED_METHOD },
    code: coapCode(4, 5),
    name: '4.05 Method Not Allowed',
    why: 'RFC 7252 §5.8; an HTTP endpoint (RFC 8613 §11.4) may answer as HTTP does, 5.01 (RFC 9110 §15.6.2)',
  }),
  protectedErrorTest({
    id: 'inner.repeated-option',
    title: 'A critical inner option that occurs more often than defined is refused with a protected error',
    rfc: 'RFC 7252 §5.4.5',
    // Accept (critical, not repeatable: RFC 7252 §5.10) twice, application/json (50) each time.
    coap: { options: [{ number: CoapOptionNumber.Accept, value: Uint8Array.of(50) }, { number: CoapOptionNumber.Accept, value: Uint8Array.of(50) }] },
    code: coapCode(4, 2),
    name: '4.02 Bad Option',
    why: 'RFC 7252 §5.4.5: a supernumerary occurrence is an unrecognized option, and Accept is critical',
  }),
  protectedErrorTest({
    id: 'inner.proxy-uri',
    title: 'An inner Proxy-Uri is refused with a protected error by a server that is no forward proxy',
    rfc: 'RFC 8613 §4.1.3.3; RFC 7252 §5.10.2',
    coap: { options: [{ number: CoapOptionNumber.ProxyUri, value: new TextEncoder().encode('coap://proxy-target.invalid/x') }] },
    code: coapCode(5, 5),
    name: '5.05 Proxying Not Supported',
    why: 'RFC 7252 §5.10.2 for an endpoint "unable or unwilling to act as a forward-proxy"',
  }),
];
