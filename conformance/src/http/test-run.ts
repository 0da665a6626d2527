/**
 * One test while it runs: it sends requests through the suite client, records each
 * request and response for the report, and collects the checks that decide the result.
 * The test definitions (./tests/) say what to send and which outcome to require; this
 * module says how an outcome is judged.
 */

import { bindingForCapturedRequest, partialIVToSequenceNumber, toHex, type RequestBinding } from '@oscore-http/core';
import { echoChallengeOf, fieldOf, looksProtected, type InnerRequest, type OuterRequest, type ProtectedRequest, type RawResponse, type SuiteClient, type Verification } from './client.js';
import { describeSuggestion, type Rejection } from './outcomes.js';
import type { HttpCheck, HttpTestCategory, HttpTestResult, ResponseSummary, SentRequest } from './types.js';

/** What every test of one run shares. */
export interface SuiteEnvironment {
  readonly client: SuiteClient;
  /** The inner path the probes address (`--path`). */
  readonly path: string;
  /** Whether the echo checks apply (docs/conformance.md §3). */
  readonly echo: boolean;
  /** The last `x-echo-count` seen in a verified response; the witness compares against it. */
  lastEchoCount: number | undefined;
  /** The largest replay window the target may use; the out-of-window test jumps further. */
  readonly maxReplayWindow: number;
  /** Body size of the oversized request. */
  readonly oversize: number;
  /** The server's Partial IVs in the responses of the run (RFC 8613 §7.2: a nonce is used once). */
  readonly responseNonces: ResponseNonces;
}

/** What the run saw of the nonces the server chose for its responses. */
export interface ResponseNonces {
  /** Partial IVs seen in verified responses, as sequence numbers. */
  readonly seen: Set<number>;
  /** Those seen a second time (each time again). */
  readonly repeated: number[];
  /** Echo challenges that carried no Partial IV (Appendix B.1.2 requires one). */
  challengesWithoutPartialIV: number;
}

/** An empty record for a new run. */
export function newResponseNonces(): ResponseNonces {
  return { seen: new Set(), repeated: [], challengesWithoutPartialIV: 0 };
}

/** A test of the suite. */
export interface HttpTestDefinition {
  /** `<category>.<name>`, stable across versions. */
  readonly id: string;
  readonly title: string;
  /** The RFC sections it checks. */
  readonly rfc: string;
  readonly category: HttpTestCategory;
  /** The outcome required, in words. */
  readonly expected: string;
  run(t: TestRun): Promise<void>;
}

/** One request sent by a test, and what came back. */
export interface Exchange {
  readonly label: string;
  readonly outer: OuterRequest;
  readonly request: ProtectedRequest | undefined;
  readonly note: string | undefined;
  readonly response: RawResponse;
  /** Set once the response has been judged. */
  verification: Verification | undefined;
}

const PRINTABLE = /[^\x20-\x7e]/g;

/** The short, printable reason of an unprotected text response (unauthenticated; never trusted). */
function diagnosticOf(response: RawResponse): string | undefined {
  const type = fieldOf(response.headers, 'content-type') ?? '';
  if (!type.startsWith('text/') || response.body.length === 0) return undefined;
  const text = Buffer.from(response.body.subarray(0, 200)).toString('latin1').replace(PRINTABLE, ' ').trim();
  return text === '' ? undefined : text.slice(0, 80);
}

function echoCountOf(v: Verification | undefined): number | undefined {
  if (v?.kind !== 'protected' || !v.verified) return undefined;
  const field = v.response.headers.find(([name]) => name === 'x-echo-count');
  const count = field === undefined ? Number.NaN : Number(field[1]);
  return Number.isSafeInteger(count) ? count : undefined;
}

function summaryOf(x: Exchange): ResponseSummary {
  const r = x.response;
  const v = x.verification;
  const contentType = fieldOf(r.headers, 'content-type');
  const isProtected = v?.kind === 'protected' || (r.status !== undefined && looksProtected(r));
  return {
    status: r.status,
    error: r.error,
    protected: isProtected,
    contentType,
    diagnostic: isProtected ? undefined : diagnosticOf(r),
    verified: v?.kind === 'protected' ? v.verified : undefined,
    verifyError: v?.kind === 'protected' && !v.verified ? v.error : undefined,
    innerStatus: v?.kind === 'protected' && v.verified ? v.response.status : undefined,
    echoCount: echoCountOf(v),
    durationMs: Math.round(r.durationMs * 10) / 10,
  };
}

/** A response in words, e.g. `unprotected 401 "Replay detected"` or `protected 200 → inner 200, echo count 7`. */
export function describeResponse(r: ResponseSummary): string {
  if (r.status === undefined) return `no response (${r.error ?? 'unknown error'})`;
  if (r.protected) {
    if (r.verified === true) return `protected ${r.status} → inner ${r.innerStatus}${r.echoCount === undefined ? '' : `, echo count ${r.echoCount}`}`;
    if (r.verified === false) return `protected ${r.status}, not verified (${r.verifyError})`;
    return `protected ${r.status}`;
  }
  return `unprotected ${r.status}${r.diagnostic === undefined ? '' : ` "${r.diagnostic}"`}${r.error === undefined ? '' : ` (body incomplete: ${r.error})`}`;
}

function describeVerification(v: Verification): string {
  switch (v.kind) {
    case 'none':
      return `no response (${v.error})`;
    case 'unprotected':
      return `unprotected ${v.status}`;
    case 'protected':
      return v.verified ? `protected, verified, inner ${v.response.status}` : `protected, not verified (${v.error})`;
  }
}

/** A CoAP code as `c.dd`. */
function codeText(code: number): string {
  return `${code >>> 5}.${String(code & 31).padStart(2, '0')}`;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function echoDescription(status: number | string, method: string, target: string, bodySize: number, type: string | undefined): string {
  return `${status}, method ${method}, target ${target}, body ${bodySize} B${type === undefined ? '' : `, ${type}`}`;
}

/** The state of one running test. */
export class TestRun {
  readonly env: SuiteEnvironment;
  readonly #exchanges: Exchange[] = [];
  #sent = 0;
  readonly #checks: HttpCheck[] = [];
  /** The echo count before this test sent anything. */
  readonly #countAtStart: number | undefined;
  /** The exchanges this test requires to be accepted: each may run the application once. */
  readonly #accepted = new Set<Exchange>();

  constructor(env: SuiteEnvironment) {
    this.env = env;
    this.#countAtStart = env.lastEchoCount;
  }

  /** The probe target: the configured path, plus `query` if given. */
  target(query?: string): string {
    if (query === undefined) return this.env.path;
    return `${this.env.path}${this.env.path.includes('?') ? '&' : '?'}${query}`;
  }

  /** Protects `inner` (optionally with a reserved sequence number) without sending it. */
  protect(inner: InnerRequest, sequenceNumber?: number): Promise<ProtectedRequest> {
    return this.env.client.protect(inner, sequenceNumber);
  }

  /**
   * Sends `outer` and records it. The answer is judged at once — against `verifyWith`
   * if given — unless `defer` is set and it looks protected: then the test verifies it
   * later with {@link verify}.
   */
  async send(label: string, outer: OuterRequest, options: { request?: ProtectedRequest; note?: string; verifyWith?: RequestBinding; defer?: boolean } = {}): Promise<Exchange> {
    // Recorded in the order sent, also when requests run concurrently.
    const slot = this.#sent++;
    const response = await this.env.client.send(outer);
    const exchange: Exchange = { label, outer, request: options.request, note: options.note, response, verification: undefined };
    this.#exchanges[slot] = exchange;
    if (options.defer !== true || response.status === undefined || !looksProtected(response)) {
      await this.verify(exchange, options.verifyWith);
    }
    return exchange;
  }

  /**
   * Judges an exchange's response against `binding` (RFC 8613 §8.4) and records the verdict.
   * Without one, a protected answer to a replayed request is judged against a copy of the
   * request's binding: one that verifies shows the replay was processed, which the report
   * should say in so many words rather than "no request to verify it against".
   */
  async verify(exchange: Exchange, binding: RequestBinding | undefined): Promise<Verification> {
    const request = exchange.request;
    const judge = binding ?? (request === undefined ? undefined : bindingForCapturedRequest(this.env.client.context, request.binding.kid, request.binding.partialIV));
    const verification = await this.env.client.verify(exchange.response, judge);
    exchange.verification = verification;
    const count = echoCountOf(verification);
    if (count !== undefined) this.env.lastEchoCount = Math.max(count, this.env.lastEchoCount ?? 0);
    this.#recordNonce(verification);
    return verification;
  }

  #recordNonce(v: Verification): void {
    if (v.kind !== 'protected' || !v.verified) return;
    const nonces = this.env.responseNonces;
    const piv = v.option.partialIV;
    if (piv === undefined) {
      if (echoChallengeOf(v) !== undefined) nonces.challengesWithoutPartialIV++;
      return;
    }
    // Each verified response answers another request, so a number seen twice is one nonce
    // under two plaintexts and AADs (the same bytes could not verify against both).
    const seq = partialIVToSequenceNumber(piv);
    if (nonces.seen.has(seq)) nonces.repeated.push(seq);
    else nonces.seen.add(seq);
  }

  /** Protects `inner`, sends it and verifies the answer against it. */
  async exchange(label: string, inner: InnerRequest, options: { sequenceNumber?: number; verify?: boolean } = {}): Promise<Exchange> {
    const request = await this.protect(inner, options.sequenceNumber);
    return this.send(label, request.outer, options.verify === false ? { request, defer: true } : { request, verifyWith: request.binding });
  }

  /** Adds a check; an advisory one never fails the test (see {@link HttpCheck}). */
  check(name: string, passed: boolean, expected: string, actual: string, advisory = false): void {
    this.#checks.push(advisory ? { name, expected, actual, passed, advisory: true } : { name, expected, actual, passed });
  }

  /**
   * Requires a protected answer that verifies against its request (RFC 8613 §8.4) and,
   * with the echo contract, the inner request as the application saw it.
   */
  expectAccepted(x: Exchange, options: { extension?: string } = {}): void {
    this.#accepted.add(x);
    const v = x.verification;
    const actual = v === undefined ? 'not judged' : describeVerification(v);
    this.check(`${x.label}: protected response`, v?.kind === 'protected', 'protected 200 (application/oscore, OSCORE; RFC 8613 §11.1)', actual);
    if (v?.kind !== 'protected') return;
    this.check(`${x.label}: verifies against its request`, v.verified, 'verified (RFC 8613 §8.4)', actual);
    if (!v.verified || x.request === undefined) return;
    if (options.extension !== undefined && v.message.code >>> 5 >= 4) {
      // The request needs an extension the RFCs do not define; a protected error is the
      // answer of a target without it (e.g. 4.02 for an unrecognized critical option).
      this.check(`${x.label}: ${options.extension} (advisory)`, false, `${options.extension} understood: a success inside`, `${codeText(v.message.code)} inside (HTTP ${v.response.status}): not supported`, true);
      return;
    }
    if (!this.env.echo) return;
    const inner = x.request.inner;
    const headers = v.response.headers;
    const field = (name: string) => headers.find(([n]) => n === name)?.[1];
    const sentType = inner.headers?.find(([n]) => n === 'content-type')?.[1];
    const sentBody = inner.method === 'HEAD' ? new Uint8Array(0) : (inner.body ?? new Uint8Array(0));
    const expected = echoDescription(200, inner.method, inner.target, sentBody.length, sentType);
    const seen = echoDescription(v.response.status, field('x-echo-method') ?? '(none)', field('x-echo-target') ?? '(none)', v.response.body.length, sentType === undefined ? undefined : (field('content-type') ?? '(none)'));
    const same = seen === expected && bytesEqual(v.response.body, sentBody);
    this.check(`${x.label}: echo`, same, expected, same || seen !== expected ? seen : `${seen}, different bytes`);
    // The echo's fields are the inner response's: none may also travel in clear (§4.1: Class E).
    const leaked = Object.keys(x.response.headers).filter((name) => name.startsWith('x-echo-'));
    this.check(`${x.label}: inner fields only inside`, leaked.length === 0, 'no x-echo-* field in the outer response (RFC 8613 §4.1, §11.1)', leaked.length === 0 ? 'none' : `outer ${leaked.join(', ')}`);
  }

  /**
   * Requires an error from the CoAP processing of a request that verified: "protected"
   * (RFC 8613 §8.3), verifying against its request, with the inner code `code` (advisory).
   * With `errorAdvisory`, a success inside passes too, with a note (the application ran);
   * with `protectedAdvisory`, so does any answer (for a test that judges something else).
   */
  expectProtectedError(x: Exchange, code: number, name: string, why: string, options: { errorAdvisory?: boolean; protectedAdvisory?: boolean } = {}): void {
    const v = x.verification;
    const actual = v === undefined ? 'not judged' : describeVerification(v);
    const soft = options.protectedAdvisory === true;
    this.check(`${x.label}: protected response${soft ? ' (advisory)' : ''}`, v?.kind === 'protected' && v.verified, 'a protected response that verifies (RFC 8613 §8.3, §8.4)', actual, soft);
    if (v?.kind !== 'protected' || !v.verified) return;
    const seen = `${codeText(v.message.code)} inside (HTTP ${v.response.status})`;
    // RFC 8613 requires only that the error of CoAP processing be protected (§8.3).
    const isError = v.message.code >>> 5 >= 4;
    this.check(`${x.label}: an error inside${options.errorAdvisory === true ? ' (advisory)' : ''}`, isError, 'a 4.xx or 5.xx code inside', seen, options.errorAdvisory === true);
    // Where a success is allowed, the application answered it: it ran once, as for an accepted request.
    if (!isError && options.errorAdvisory === true) this.#accepted.add(x);
    this.check(`${x.label}: inner code (advisory)`, v.message.code === code, `${name} inside — ${why}`, seen, true);
  }

  /**
   * Requires the request to be refused by OSCORE processing: an unprotected error with an
   * acceptable status (RFC 8613 §8.3), never a protected answer.
   */
  expectRejected(x: Exchange, rejection: Rejection): void {
    const v: Verification = x.verification ?? { kind: 'protected', verified: false, error: 'not verified' };
    const noResponse = v.kind === 'none';
    const status = x.response.status;
    this.check(
      `${x.label}: refused without OSCORE processing`,
      (v.kind === 'unprotected' && v.status >= 400 && v.status <= 599) || (noResponse && rejection.oscoreError),
      rejection.oscoreError
        ? 'an unprotected error response (RFC 8613 §8.3), or none (Appendix D.5.3)'
        : 'an unprotected error response (RFC 8613 §9: unprotected access is not supported)',
      describeVerification(v),
    );
    if (v.kind !== 'unprotected' && !noResponse) return;
    this.check(
      `${x.label}: status (advisory)`,
      (status !== undefined && rejection.statuses.includes(status)) || (noResponse && rejection.closeSuggested === true),
      describeSuggestion(rejection),
      status === undefined ? describeVerification(v) : String(status),
      true,
    );
  }

  /**
   * For a request whose alteration the RFC lets a server either refuse or ignore: passes
   * when refused as {@link expectRejected} says, or when answered with a protected
   * response that verifies against the request (then counted as accepted, with a note).
   */
  expectRejectedOrAccepted(x: Exchange, rejection: Rejection, why: string): void {
    const v = x.verification;
    if (v?.kind === 'protected' && v.verified) {
      this.#accepted.add(x);
      this.check(`${x.label}: refused (advisory)`, false, `${describeSuggestion(rejection)}; or processed, ${why}`, `processed: ${describeVerification(v)}`, true);
      return;
    }
    this.expectRejected(x, rejection);
  }

  /**
   * With the echo contract, proves that the application ran only for the requests this
   * test required to be accepted: a fresh protected request (the witness) must see the
   * count the test started with, plus one per accepted request, plus one for itself.
   */
  async expectNoApplicationEffect(): Promise<void> {
    const start = this.#countAtStart;
    if (!this.env.echo || start === undefined) return;
    const runs = [...this.#accepted].filter((x) => x.verification?.kind === 'protected' && x.verification.verified).length;
    const witness = await this.exchange('witness', { method: 'GET', target: this.env.path });
    const count = echoCountOf(witness.verification);
    const expected = start + runs + 1;
    this.check(
      'application not run',
      count === expected,
      `witness sees x-echo-count ${expected} (${start} + ${runs} accepted + itself)`,
      count === undefined ? `witness not answered by the echo (${describeVerification(witness.verification!)})` : `x-echo-count ${count}`,
    );
  }

  /** The recorded requests, for the report. */
  requests(): SentRequest[] {
    return this.#exchanges.map((x) => ({
      label: x.label,
      method: x.outer.method,
      path: x.outer.path,
      headers: x.outer.headers,
      bodySize: x.outer.body.length,
      bodyPrefix: toHex(x.outer.body.subarray(0, 16)),
      inner: x.request === undefined ? undefined : { method: x.request.inner.method, target: x.request.inner.target, sequenceNumber: x.request.sequenceNumber },
      note: x.note,
      response: summaryOf(x),
    }));
  }

  /** Builds the result of the test `def` once it ran (or threw `error`). */
  result(def: HttpTestDefinition, durationMs: number, error?: unknown): HttpTestResult {
    const requests = this.requests();
    const checks = [...this.#checks];
    const failed = checks.find((c) => !c.passed && c.advisory !== true);
    const notes = checks.filter((c) => !c.passed && c.advisory === true).map((c) => `${c.name}: suggested ${c.expected}, got ${c.actual}`);
    const detail =
      error !== undefined
        ? `the test stopped: ${error instanceof Error ? error.message : String(error)}`
        : failed === undefined
          ? checks.length === 0 ? 'the test made no check' : undefined
          : `${failed.name}: expected ${failed.expected}, got ${failed.actual}`;
    return {
      id: def.id,
      title: def.title,
      rfc: def.rfc,
      category: def.category,
      status: detail === undefined ? 'passed' : 'failed',
      expected: def.expected,
      observed: [
        ...requests.map((r) => (r.label === 'witness' && r.response.echoCount !== undefined ? `witness: echo count ${r.response.echoCount}` : `${r.label}: ${describeResponse(r.response)}`)),
        ...notes.map((n) => `note: ${n}`),
      ].join('; '),
      requests,
      checks,
      notes,
      detail,
      durationMs: Math.round(durationMs * 10) / 10,
    };
  }
}
