/**
 * Methods: each HTTP method travels inside the protected message and is answered with a
 * protected response that verifies against its request (RFC 8613 §8.1–§8.4, §11.4).
 * Methods with a CoAP code use it (RFC 7252 §12.1.1, RFC 8132); the others need an
 * extension of the mapping (this project's HTTP-Code option, docs/wire-format.md §3):
 * a target without one still passes if it answers with a protected error.
 */

import type { HttpTestDefinition } from '../test-run.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

interface MethodCase {
  readonly method: string;
  readonly mapping: string;
  readonly rfc: string;
  readonly query?: string;
  readonly type?: string;
  readonly body?: Uint8Array;
  /**
   * What the method needs beyond RFC 7252 and RFC 8075, if anything: a target without it
   * answers with a protected error, which passes with a note.
   */
  readonly extension?: string;
}

/** Methods without a CoAP code travel with this project's option; RFC 8613 §11.4 covers only methods CoAP has. */
const HTTP_CODE = 'the HTTP-Code option (an extension of oscore-http, docs/wire-format.md §3)';
/** FETCH and PATCH are optional for a CoAP server (RFC 8132), and RFC 8075 predates them. */
const RFC8132 = 'the RFC 8132 method (optional for a server; no RFC 8075 mapping)';

const CASES: readonly MethodCase[] = [
  { method: 'GET', mapping: 'CoAP 0.01', rfc: 'RFC 7252 §5.8.1', query: 'conformance=get&q=a%20b' },
  { method: 'POST', mapping: 'CoAP 0.02', rfc: 'RFC 7252 §5.8.2', type: 'text/plain; charset=utf-8', body: utf8('posted') },
  { method: 'PUT', mapping: 'CoAP 0.03', rfc: 'RFC 7252 §5.8.3', type: 'text/plain; charset=utf-8', body: utf8('put') },
  { method: 'DELETE', mapping: 'CoAP 0.04', rfc: 'RFC 7252 §5.8.4' },
  { method: 'FETCH', mapping: 'CoAP 0.05', rfc: 'RFC 8132 §2', type: 'application/json', body: utf8('{"fetch":true}'), extension: RFC8132 },
  { method: 'PATCH', mapping: 'CoAP 0.06', rfc: 'RFC 8132 §3', type: 'application/json', body: utf8('{"patch":true}'), extension: RFC8132 },
  { method: 'HEAD', mapping: 'no CoAP code', rfc: 'RFC 9110 §9.3.2', extension: HTTP_CODE },
  { method: 'OPTIONS', mapping: 'no CoAP code', rfc: 'RFC 9110 §9.3.7', extension: HTTP_CODE },
  { method: 'PURGE', mapping: 'an extension method, no CoAP code', rfc: 'RFC 9110 §9.1', type: 'text/plain; charset=utf-8', body: utf8('purge'), extension: HTTP_CODE },
];

export const methodTests: readonly HttpTestDefinition[] = CASES.map((c) => ({
  id: `method.${c.method.toLowerCase()}`,
  title: `${c.method} (${c.mapping}) travels inside and gets a protected response`,
  rfc: `RFC 8613 §8.1–§8.4, §11.4; ${c.rfc}`,
  category: 'method',
  expected:
    c.extension === undefined
      ? 'protected 200 that verifies; echo: same method, target, body'
      : `protected 200 that verifies; echo: same method, target, body (a protected error, from a target without ${c.extension}, passes with a note)`,
  async run(t) {
    const x = await t.exchange('#1', {
      method: c.method,
      target: t.target(c.query),
      headers: c.type === undefined ? [] : [['content-type', c.type]],
      ...(c.body === undefined ? {} : { body: c.body }),
    });
    t.expectAccepted(x, c.extension === undefined ? {} : { extension: c.extension });
  },
}));
