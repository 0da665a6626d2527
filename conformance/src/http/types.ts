/**
 * What the black-box HTTP suite records: one {@link HttpTestResult} per test, each with
 * the requests it sent, what it expected and what it saw. These objects are the JSON
 * report's `tests` (docs/conformance.md §5), so their shape is part of the suite's contract.
 */

import type { Check } from '../vectors/run.js';

export type { Check };

/**
 * A check of an HTTP test. An advisory check compares with what the RFC suggests but
 * does not require — an error code it makes OPTIONAL (RFC 8613 Appendix D.5.3), the
 * code RFC 7252 gives a CoAP error, an extension of this project: when it fails, the
 * test still passes, and the result's `notes` (and `observed`) say what differed.
 */
export interface HttpCheck extends Check {
  readonly advisory?: boolean | undefined;
}

/** What a test exercises; reports group by it (docs/conformance.md §4). */
export type HttpTestCategory =
  | 'method'
  | 'body'
  | 'replay'
  | 'reorder'
  | 'tamper'
  | 'kid'
  | 'kid-context'
  | 'header'
  | 'content-type'
  | 'size'
  | 'unprotected'
  | 'binding'
  | 'inner';

/** Every category, in report order. */
export const HTTP_TEST_CATEGORIES: readonly HttpTestCategory[] = Object.freeze([
  'method',
  'body',
  'replay',
  'reorder',
  'tamper',
  'kid',
  'kid-context',
  'header',
  'content-type',
  'size',
  'unprotected',
  'binding',
  'inner',
]);

/** The answer to one request, as the suite saw it. */
export interface ResponseSummary {
  /** HTTP status; absent when no response arrived. */
  readonly status?: number | undefined;
  /** Why no response arrived (a network error code such as `ECONNRESET`). */
  readonly error?: string | undefined;
  /** Whether the response has the framing of a protected response (RFC 8613 §11.1: 200, `application/oscore`, `OSCORE`). */
  readonly protected: boolean;
  readonly contentType?: string | undefined;
  /** An unprotected response's reason: printable ASCII, at most 80 characters, unauthenticated. */
  readonly diagnostic?: string | undefined;
  /** Protected only: whether it verified against the request it answers (RFC 8613 §8.4). */
  readonly verified?: boolean | undefined;
  /** Protected only: the error code when verification failed. */
  readonly verifyError?: string | undefined;
  /** Verified only: the inner (protected) HTTP status. */
  readonly innerStatus?: number | undefined;
  /** Verified only: the echo route's `x-echo-count`, when present. */
  readonly echoCount?: number | undefined;
  /** Time from sending to the complete response, in milliseconds. */
  readonly durationMs: number;
}

/** One request the suite sent. */
export interface SentRequest {
  /** Its name within the test, e.g. `#1`, `replay of #1`, `witness`. */
  readonly label: string;
  /** Outer method and path, as they went on the wire. */
  readonly method: string;
  readonly path: string;
  /** Outer header fields the suite set (the HTTP client adds Host, Content-Length, Connection). */
  readonly headers: readonly (readonly [string, string])[];
  readonly bodySize: number;
  /** Hex of the first 16 body bytes. */
  readonly bodyPrefix: string;
  /** For an OSCORE request: the inner request that was protected, and its Sender Sequence Number. */
  readonly inner?: { readonly method: string; readonly target: string; readonly sequenceNumber: number } | undefined;
  /** What the suite altered, for a tampered or replayed request. */
  readonly note?: string | undefined;
  readonly response: ResponseSummary;
}

/** The result of one test. */
export interface HttpTestResult {
  /** Stable identifier, `<category>.<name>`, e.g. `replay.identical`. */
  readonly id: string;
  readonly title: string;
  /** The RFC sections the test checks, e.g. `RFC 8613 §7.4`. */
  readonly rfc: string;
  readonly category: HttpTestCategory;
  readonly status: 'passed' | 'failed';
  /** The outcome required, in words. */
  readonly expected: string;
  /** The outcome seen, in words: one clause per request. */
  readonly observed: string;
  readonly requests: readonly SentRequest[];
  readonly checks: readonly HttpCheck[];
  /** Advisory checks that failed (see {@link HttpCheck}): allowed, but not what the RFC suggests. */
  readonly notes: readonly string[];
  /** The first failed check that is not advisory, or the unexpected error that ended the test. */
  readonly detail?: string | undefined;
  readonly durationMs: number;
}

/** Whether the target implements the echo contract (docs/conformance.md §3). */
export type EchoMode = 'auto' | 'on' | 'off';

/** The whole run. */
export interface HttpSuiteResult {
  /** The target's origin and the settings the run used. */
  readonly target: {
    readonly origin: string;
    readonly outerPath: string;
    readonly path: string;
    /** Name (or index) of the client context used. */
    readonly context: string;
    /** Whether echo checks were applied. */
    readonly echo: boolean;
    /** The first Sender Sequence Number the run used. */
    readonly sequenceStart: number;
    readonly maxReplayWindow: number;
  };
  /**
   * The first protected request, sent before the tests (a target that fails it fails most
   * tests), and its repetition with the Echo value if the target challenged it.
   */
  readonly preflight: readonly SentRequest[];
  /** Notes for the reader (e.g. the preflight did not succeed). */
  readonly warnings: readonly string[];
  readonly tests: readonly HttpTestResult[];
  readonly startedAt: string;
  readonly durationMs: number;
}
