/**
 * Portability of the black-box HTTP suite: an OSCORE-over-HTTP server that is correct
 * by RFC 8613 but makes other allowed choices than this project's handler must pass
 * every test. It is written here on `node:http` with @oscore-http/core, not with
 * `createOscoreHandler`, and differs on purpose:
 *
 *  - OSCORE at another outer path (`/coap`; the RFC fixes none, §11);
 *  - an ID Context sent as 'kid context', and the RFC's default replay window of 32 (§3.2.2);
 *  - an Echo challenge on the first request of a context (RFC 9175 §2.4; Appendix B.1.2);
 *  - every response with its own Partial IV (§8.3 step 3, second alternative);
 *  - OSCORE errors (§8.2 steps 2, 3, 6) as RFC 8075 §7 maps them — 4.01 as 403, 4.00
 *    and 4.02 as 400 — with no diagnostic payload, or a problem+json body; no
 *    WWW-Authenticate, no Cache-Control (Max-Age 0 is a MAY, §8.2);
 *  - the outer Content-Type ignored when the `OSCORE` field is there (§11.3: the
 *    Content-Format is omitted when mapping to CoAP);
 *  - an oversized body answered by closing the connection, no response at all;
 *  - no HTTP-Code extension: an unknown critical inner option is a protected 4.02
 *    (RFC 7252 §5.4.1), an unknown method code a protected 5.01 — the HTTP answer to an
 *    unrecognized method (RFC 9110 §15.6.2), which an HTTP endpoint (§11.4) gives, and
 *    any other inner message it cannot process a protected 4.00 (§8.3 asks for protection,
 *    not for a code): a repeated Accept, a Proxy-Uri;
 *  - a plain request gets 404, as if the route did not exist without OSCORE.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { coapCode, OscoreError, protectResponse, sequenceNumber, verifyRequest, type InnerMessage, type RequestBinding, type SecurityContext } from '@oscore-http/core';
import { createContextSet, decodeOscoreHeader, decodeRequest, decodeResponse, ECHO_OPTION, encodeOscoreHeader, encodeResponse, type ContextConfig } from '@oscore-http/http';
import { HTTP_TESTS, runHttpSuite, type HttpSuiteResult } from '../src/index.js';

const SECRET = { hex: '0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff' };
const SALT = { hex: '5c2f9e1a' };
const ID_CONTEXT = '7a3b2c1d';

const SERVER_CONTEXTS: ContextConfig[] = [
  { name: 'alt', masterSecret: SECRET, masterSalt: SALT, idContext: ID_CONTEXT, senderId: '', recipientId: '5a', replayWindow: 32 },
];
const CLIENT_CONTEXTS: ContextConfig[] = [{ name: 'alt-client', masterSecret: SECRET, masterSalt: SALT, idContext: ID_CONTEXT, senderId: '5a', recipientId: '' }];

/** Critical options an RFC 7252 / RFC 8132 server knows (Uri-*, If-*, Accept, Proxy-*). */
const KNOWN_CRITICAL = new Set([1, 3, 5, 7, 11, 15, 17, 35, 39]);
const OUTER_PATH = '/coap';
const MAX_OUTER_BODY = 128 * 1024;

interface AltServer {
  readonly url: string;
  readonly challenges: number;
}

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  servers = [];
});

interface AltOptions {
  /**
   * How OSCORE errors are answered: `mapped` (the suggested codes as RFC 8075 maps them),
   * `uniform` ("use the same error code for all errors") or `silent` ("avoid responding
   * altogether": the connection is closed), RFC 8613 Appendix D.5.3.
   */
  readonly errors?: 'mapped' | 'uniform' | 'silent';
  /** A defect, for the negative check: unknown critical inner options are ignored (RFC 7252 §5.4.1 violated). */
  readonly ignoreCriticalOptions?: boolean;
  /** A defect: the Echo challenge reuses the request nonce (Appendix B.1.2 requires the server's own Partial IV), and so does the next response. */
  readonly challengeWithoutPartialIV?: boolean;
  /** Only the RFC 7252 methods: FETCH, PATCH and iPATCH (RFC 8132, optional) get a protected 4.05 (RFC 7252 §5.8). */
  readonly withoutRfc8132?: boolean;
  /** A smaller outer body limit, above which the answer is an unprotected 413 (RFC 8075 §7 for 4.13). Default: 128 KiB, then the connection is closed. */
  readonly bodyLimit413?: number;
  /** A defect: every response carries Partial IV 0 — one nonce for all (RFC 8613 §7.2). */
  readonly responsePartialIVZero?: boolean;
  /** A defect: the echo's response fields also go outside, in clear (§4.1: Class E). */
  readonly echoFieldsOutside?: boolean;
  /** A defect: a verified request for anything but the echo gets a plain 404 (§8.3: protected). */
  readonly notFoundInClear?: boolean;
}

async function startAlternativeServer(options: AltOptions = {}): Promise<AltServer> {
  const errors = options.errors ?? 'mapped';
  // The defect of responsePartialIVZero: a Sender Sequence Number that never moves.
  const state0 = options.responsePartialIVZero === true ? { state: () => ({ senderSequence: { next: () => sequenceNumber(0) } }) } : {};
  const lookup = createContextSet(SERVER_CONTEXTS, { store: 'memory', ...state0 }).registry;
  const fresh = new Set<SecurityContext>();
  const issued = new Map<SecurityContext, Uint8Array>();
  let count = 0;
  const state = { challenges: 0 };

  function oscoreError(res: ServerResponse, outcome: string | undefined): void {
    if (errors === 'silent') {
      res.socket?.destroy();
      return;
    }
    if (errors === 'uniform') return plain(res, 400, undefined);
    return plain(res, outcome === '4.01' ? 403 : 400, outcome);
  }

  function plain(res: ServerResponse, status: number, outcome: string | undefined): void {
    // 4.01 → 403 (RFC 8075 §7), nothing said; the others with a problem document.
    if (status === 403) {
      res.writeHead(403, { 'content-length': '0' }).end();
      return;
    }
    const body = JSON.stringify({ type: 'about:blank', title: 'OSCORE processing failed', outcome });
    res.writeHead(status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) }).end(body);
  }

  async function protectedAnswer(res: ServerResponse, binding: RequestBinding, message: InnerMessage): Promise<void> {
    const { option, payload } = await protectResponse(binding, message, { partialIV: !options.challengeWithoutPartialIV });
    const leaked = options.echoFieldsOutside === true ? Object.fromEntries(decodeResponse(message).headers.filter(([n]) => n.startsWith('x-echo-'))) : {};
    res.writeHead(200, { ...leaked, 'content-type': 'application/oscore', oscore: encodeOscoreHeader(option), 'content-length': payload.length }).end(payload);
  }

  function application(method: string, target: string, type: string | undefined, body: Uint8Array): InnerMessage {
    count += 1;
    const headers: [string, string][] = [
      ['x-echo-method', method],
      ['x-echo-target', target],
      ['x-echo-count', String(count)],
    ];
    if (type !== undefined) headers.push(['content-type', type]);
    return encodeResponse({ status: 200, headers, body: method === 'HEAD' ? new Uint8Array(0) : body }, {}, method);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: Uint8Array): Promise<void> {
    if (req.headers.oscore === undefined) {
      if (req.headers['content-type'] === 'application/oscore') return oscoreError(res, '4.02');
      return plain(res, 404, undefined);
    }
    if ((req.url ?? '/').split('?')[0] !== OUTER_PATH || req.method !== 'POST') return plain(res, 404, undefined);
    let verified;
    try {
      verified = await verifyRequest(lookup, decodeOscoreHeader(req.headers.oscore), body);
    } catch (err) {
      if (!(err instanceof OscoreError)) throw err;
      return oscoreError(res, err.outcome);
    }
    const { context, binding, message } = verified;
    if (!fresh.has(context)) {
      const echo = message.options.find((o) => o.number === ECHO_OPTION)?.value;
      const expected = issued.get(context);
      if (echo === undefined || expected === undefined || echo.length !== expected.length || !timingSafeEqual(echo, expected)) {
        const value = randomBytes(8);
        issued.set(context, value);
        state.challenges += 1;
        return protectedAnswer(res, binding, { code: coapCode(4, 1), options: [{ number: ECHO_OPTION, value }], payload: new Uint8Array(0) });
      }
      fresh.add(context);
    }
    if (!options.ignoreCriticalOptions && message.options.some((o) => o.number % 2 === 1 && !KNOWN_CRITICAL.has(o.number))) {
      return protectedAnswer(res, binding, { code: coapCode(4, 2), options: [], payload: new Uint8Array(0) });
    }
    if (options.withoutRfc8132 === true && message.code >= 5 && message.code <= 7) {
      return protectedAnswer(res, binding, { code: coapCode(4, 5), options: [], payload: new Uint8Array(0) });
    }
    if (message.code < 1 || message.code > 7) {
      return protectedAnswer(res, binding, { code: coapCode(5, 1), options: [], payload: new Uint8Array(0) });
    }
    let parts;
    try {
      parts = decodeRequest({ ...message, options: message.options.filter((o) => o.number % 2 === 0 || KNOWN_CRITICAL.has(o.number)) });
    } catch (err) {
      if (!(err instanceof OscoreError)) throw err;
      return protectedAnswer(res, binding, { code: coapCode(4, 0), options: [], payload: new Uint8Array(0) });
    }
    if (options.notFoundInClear === true && !parts.target.startsWith('/conformance/echo')) return plain(res, 404, undefined);
    const type = parts.headers.find(([n]) => n === 'content-type')?.[1];
    return protectedAnswer(res, binding, application(parts.method, parts.target, type, parts.body));
  }

  const server = createServer((req, res) => {
    if (options.bodyLimit413 !== undefined && Number(req.headers['content-length'] ?? 0) > options.bodyLimit413) {
      req.resume();
      res.writeHead(413, { connection: 'close', 'content-length': '0' }).end();
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > MAX_OUTER_BODY) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    get challenges() {
      return state.challenges;
    },
  };
}

const failures = (r: HttpSuiteResult) => r.tests.filter((t) => t.status === 'failed').map((t) => `${t.id}: ${t.detail}`);
const noted = (r: HttpSuiteResult) => r.tests.filter((t) => t.notes.length > 0).map((t) => t.id);
const run = (server: AltServer) => runHttpSuite({ target: server.url, contexts: CLIENT_CONTEXTS, outerPath: OUTER_PATH, sequenceStart: 5_000, timeoutMs: 5_000 });

describe('an RFC 8613 server that makes other allowed choices', () => {
  it('passes every test of the suite; where it differs from what the RFCs suggest, the tests say so in notes', { timeout: 60_000 }, async () => {
    const server = await startAlternativeServer();
    const result = await run(server);
    expect(server.challenges).toBe(1);
    expect(result.preflight.map((r) => [r.label, r.response.innerStatus])).toEqual([
      ['preflight', 401],
      ['preflight (Echo)', 200],
    ]);
    expect(result.warnings).toEqual([]);
    expect(result.target).toMatchObject({ outerPath: OUTER_PATH, echo: true });
    expect(result.tests.map((t) => t.id)).toEqual(HTTP_TESTS.map((t) => t.id));
    expect(failures(result)).toEqual([]);
    expect(noted(result)).toEqual([
      'method.head',
      'method.options',
      'method.purge',
      'content-type.missing',
      'content-type.wrong',
      'unprotected.get',
      'unprotected.post',
      // Its echo answers every target: a success where a 4.04 is suggested, and protected.
      'inner.not-found',
      'inner.method-code',
      'inner.repeated-option',
      'inner.proxy-uri',
    ]);
    const proxy = result.tests.find((t) => t.id === 'inner.proxy-uri')!;
    expect(proxy.notes).toEqual([expect.stringMatching(/5\.05 Proxying Not Supported inside .*, got 4\.00 inside \(HTTP 400\)$/)]);
    const purge = result.tests.find((t) => t.id === 'method.purge')!;
    expect(purge.observed).toMatch(/note: #1: the HTTP-Code option .* \(advisory\): suggested .*, got 4\.02 inside \(HTTP 400\): not supported$/);
    const unprotected = result.tests.find((t) => t.id === 'unprotected.get')!;
    expect(unprotected.notes).toEqual(['#1: status (advisory): suggested 401/403 (4.01) — suggested, not required (RFC 8613 Appendix D.5.3), got 404']);
    expect(unprotected.checks.find((c) => c.name === 'application not run')?.passed).toBe(true);
  });

  it('passes with the same error code for every OSCORE error (Appendix D.5.3)', { timeout: 60_000 }, async () => {
    const result = await run(await startAlternativeServer({ errors: 'uniform' }));
    expect(failures(result)).toEqual([]);
    expect(result.tests.find((t) => t.id === 'replay.identical')!.notes).toEqual([
      'replay of #1: status (advisory): suggested 401/403 (4.01) — suggested, not required (RFC 8613 Appendix D.5.3), got 400',
    ]);
  });

  it('passes when it does not answer OSCORE errors at all (Appendix D.5.3: "avoid responding altogether")', { timeout: 60_000 }, async () => {
    const result = await run(await startAlternativeServer({ errors: 'silent' }));
    expect(failures(result)).toEqual([]);
    const replay = result.tests.find((t) => t.id === 'replay.identical')!;
    expect(replay.requests[1]!.response.status).toBeUndefined();
    expect(replay.checks.find((c) => c.name === 'application not run')?.passed).toBe(true);
  });

  it('still fails a server that ignores an unrecognized critical inner option: the application ran', { timeout: 60_000 }, async () => {
    const result = await run(await startAlternativeServer({ ignoreCriticalOptions: true }));
    // The critical HTTP-Code option is ignored too: HEAD, OPTIONS and PURGE reach the application as POST.
    expect(failures(result)).toEqual([
      expect.stringMatching(/^method\.head: #1: echo: .*, got 200, method POST/),
      expect.stringMatching(/^method\.options: #1: echo: .*, got 200, method POST/),
      expect.stringMatching(/^method\.purge: #1: echo: .*, got 200, method POST/),
      'inner.critical-option: request: an error inside: expected a 4.xx or 5.xx code inside, got 2.05 inside (HTTP 200)',
    ]);
    const critical = result.tests.find((t) => t.id === 'inner.critical-option')!;
    expect(critical.checks.find((c) => c.name === 'application not run')?.passed).toBe(false);
  });

  it('passes without the RFC 8132 methods and with a body limit below 60,000 bytes, with notes', { timeout: 60_000 }, async () => {
    const result = await run(await startAlternativeServer({ withoutRfc8132: true, bodyLimit413: 16 * 1024 }));
    expect(failures(result)).toEqual([]);
    const notes = Object.fromEntries(result.tests.filter((t) => ['method.fetch', 'method.patch', 'body.large', 'size.oversized'].includes(t.id)).map((t) => [t.id, t.notes]));
    expect(notes).toEqual({
      'method.fetch': [expect.stringMatching(/^#1: the RFC 8132 method .* \(advisory\): suggested .*, got 4\.05 inside \(HTTP 405\): not supported$/)],
      'method.patch': [expect.stringMatching(/got 4\.05 inside \(HTTP 405\): not supported$/)],
      'body.large': ['#1: body accepted (advisory): suggested a 60,000-byte body accepted, got unprotected 413'],
      'size.oversized': [],
    });
  });

  it('an Echo challenge without its own Partial IV: a warning and a note, not a failure (Appendix B.1.2 binds a server that lost its state; this one challenges with its window intact)', { timeout: 60_000 }, async () => {
    const result = await runHttpSuite({ target: (await startAlternativeServer({ challengeWithoutPartialIV: true })).url, contexts: CLIENT_CONTEXTS, outerPath: OUTER_PATH, only: ['method.get', 'binding.response-nonces'], sequenceStart: 5_000 });
    expect(result.preflight.map((r) => r.response.innerStatus)).toEqual([401, 200]);
    expect(result.warnings).toEqual([
      'The Echo challenge of the preflight request carried no Partial IV: RFC 8613 Appendix B.1.2 requires the server to use its own Partial IV and to include it.',
    ]);
    expect(failures(result)).toEqual([]);
    expect(result.tests.find((t) => t.id === 'binding.response-nonces')!.notes).toEqual([expect.stringMatching(/^Echo challenges \(advisory\): suggested each with the server's own Partial IV .*, got 1 without one$/)]);
  });

  it.each([
    ['responsePartialIVZero', ['binding.response-nonces'], /^response Partial IVs: expected each new .*, got repeated: 0$/],
    // Every accepted request shows it: the GET, and the four of binding.response-nonces.
    ['echoFieldsOutside', ['method.get', 'binding.response-nonces'], /^#1: inner fields only inside: expected no x-echo-\* field in the outer response .*, got outer x-echo-method, x-echo-target, x-echo-count$/],
    ['notFoundInClear', ['inner.not-found'], /^request: protected response: expected a protected response that verifies .*, got unprotected 404$/],
  ] as const)('still fails a server with the defect %s, on %j', { timeout: 60_000 }, async (defect, ids, detail) => {
    const result = await runHttpSuite({ target: (await startAlternativeServer({ [defect]: true })).url, contexts: CLIENT_CONTEXTS, outerPath: OUTER_PATH, only: ['method.get', 'inner.not-found', 'binding.response-nonces'], sequenceStart: 5_000 });
    expect(failures(result).map((f) => f.split(':')[0])).toEqual(ids);
    expect(result.tests.find((t) => t.id === ids[0])!.detail).toMatch(detail);
  });
});
