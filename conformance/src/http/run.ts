/**
 * Runs the black-box HTTP suite against a target: a preflight request (is the target
 * there, does it implement the echo contract?), then every selected test in order.
 */

import { DEFAULT_OUTER_PATH } from '@oscore-http/http';
import type { ContextConfig } from '@oscore-http/http';
import { echoChallengeOf, SuiteClient } from './client.js';
import { SuiteInputError, TargetUnreachableError } from './errors.js';
import { initialSequenceNumber, SEQUENCE_NUMBERS_PER_SECOND, SuiteSequence } from './sequence.js';
import { chooseContext, targetOrigin } from './target.js';
import { newResponseNonces, TestRun, type HttpTestDefinition, type SuiteEnvironment } from './test-run.js';
import { HTTP_TESTS } from './tests/index.js';
import { HTTP_TEST_CATEGORIES, type EchoMode, type HttpSuiteResult, type HttpTestResult } from './types.js';

/** Default inner path of the probes: the example server's echo route. */
export const DEFAULT_PROBE_PATH = '/conformance/echo';
/** Default body size of the oversized request: 8 MiB. */
export const DEFAULT_OVERSIZE = 8 * 1024 * 1024;
/** Largest body of the oversized request: it is built in memory. */
export const MAX_OVERSIZE = 256 * 1024 * 1024;
/** Default largest replay window assumed for the out-of-window test. */
export const DEFAULT_MAX_REPLAY_WINDOW = 1024;
/** Default per-request timeout, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Options of {@link runHttpSuite}. */
export interface HttpSuiteOptions {
  /** The target's base URL (origin only), e.g. `http://127.0.0.1:8613`. */
  readonly target: string;
  /** The client side's context file (docs/context-file.md), or its context configurations. */
  readonly contexts: string | readonly ContextConfig[];
  /** Name of the context to use; default the one whose `peer` is the target, else the first. */
  readonly context?: string | undefined;
  /** Outer request target of OSCORE requests. Default `/oscore`. */
  readonly outerPath?: string | undefined;
  /** Inner path the probes address. Default `/conformance/echo`. */
  readonly path?: string | undefined;
  /** Whether to apply the echo checks: `auto` (default) when the preflight answer shows the contract. */
  readonly echo?: EchoMode | undefined;
  /** Body size of the oversized request, in bytes; must exceed the target's limit. Default 8 MiB. */
  readonly oversize?: number | undefined;
  /** Largest replay window the target may use. Default 1,024. */
  readonly maxReplayWindow?: number | undefined;
  /** First Sender Sequence Number. Default from the clock ({@link initialSequenceNumber}). */
  readonly sequenceStart?: number | undefined;
  /** Per-request timeout, in milliseconds. Default 10,000. */
  readonly timeoutMs?: number | undefined;
  /** Run only these tests: ids (`replay.identical`) or categories (`replay`). */
  readonly only?: readonly string[] | undefined;
  /** Leave these tests out: ids or categories. */
  readonly skip?: readonly string[] | undefined;
  /** Called before each test, e.g. for progress. */
  readonly onTestStart?: ((test: HttpTestDefinition, index: number, total: number) => void) | undefined;
  /** Called after each test. */
  readonly onTestEnd?: ((result: HttpTestResult, index: number, total: number) => void) | undefined;
}

/**
 * The tests `only` selects (all when absent or empty), less those `skip` names, in suite
 * order. Both take ids (`replay.identical`) and categories (`replay`).
 * @throws {SuiteInputError} for an unknown id or category.
 */
export function selectTests(only: readonly string[] | undefined, skip: readonly string[] = []): readonly HttpTestDefinition[] {
  const unknown = [...(only ?? []), ...skip].filter((o) => !HTTP_TESTS.some((t) => t.id === o) && !(HTTP_TEST_CATEGORIES as readonly string[]).includes(o));
  if (unknown.length > 0) {
    throw new SuiteInputError(`Unknown test or category: ${unknown.join(', ')}. Categories: ${HTTP_TEST_CATEGORIES.join(', ')}.`);
  }
  const named = (names: readonly string[]) => (t: HttpTestDefinition) => names.includes(t.id) || names.includes(t.category);
  const selected = only === undefined || only.length === 0 ? HTTP_TESTS : HTTP_TESTS.filter(named(only));
  return selected.filter((t) => !named(skip)(t));
}

function positiveInteger(value: number, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new SuiteInputError(`${name} must be an integer from ${min} to ${max}, not ${value}.`);
  return value;
}

/**
 * Runs the suite. Each test's failure is a result; only unusable input or a target that
 * does not answer at all throws.
 *
 * @throws {SuiteInputError} for an invalid URL, option or contexts file.
 * @throws {TargetUnreachableError} if the preflight request gets no HTTP response.
 *
 * @example
 * ```ts
 * const result = await runHttpSuite({ target: 'http://127.0.0.1:8613', contexts: 'contexts.client.json' });
 * const failed = result.tests.filter((t) => t.status === 'failed');
 * ```
 */
export async function runHttpSuite(options: HttpSuiteOptions): Promise<HttpSuiteResult> {
  const startedAt = new Date();
  const started = performance.now();
  const origin = targetOrigin(options.target);
  const tests = selectTests(options.only, options.skip);
  const outerPath = options.outerPath ?? DEFAULT_OUTER_PATH;
  const path = options.path ?? DEFAULT_PROBE_PATH;
  for (const [name, value] of [['outer path', outerPath], ['path', path]] as const) {
    if (!value.startsWith('/')) throw new SuiteInputError(`The ${name} must start with "/", not "${value}".`);
  }
  const oversize = positiveInteger(options.oversize ?? DEFAULT_OVERSIZE, 'oversize', 1, MAX_OVERSIZE);
  const maxReplayWindow = positiveInteger(options.maxReplayWindow ?? DEFAULT_MAX_REPLAY_WINDOW, 'maxReplayWindow');
  const timeoutMs = positiveInteger(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs');
  const sequenceStart = positiveInteger(options.sequenceStart ?? initialSequenceNumber(), 'sequenceStart', 0);
  const sequence = new SuiteSequence(sequenceStart);
  const { context, label } = chooseContext(options.contexts, origin, sequence, options.context);
  const client = new SuiteClient({ origin, outerPath, context, sequence, timeoutMs });

  try {
    const env: SuiteEnvironment = { client, path, echo: false, lastEchoCount: undefined, maxReplayWindow, oversize, responseNonces: newResponseNonces() };
    // Preflight: one protected GET. Its answer says whether the target is there and
    // whether it implements the echo contract.
    const preflight = new TestRun(env);
    let probe = await preflight.exchange('preflight', { method: 'GET', target: path });
    if (probe.verification?.kind === 'none') throw new TargetUnreachableError(origin, probe.verification.error);
    // A server that lost its replay window first proves the client's freshness with an
    // Echo challenge (RFC 8613 Appendix B.1.2; RFC 9175 §2.4): answer it once.
    const challenge = probe.verification;
    const echoValue = challenge === undefined ? undefined : echoChallengeOf(challenge);
    // "The server MUST use its Partial IV when generating the AEAD nonce and MUST include the Partial IV in the response" (Appendix B.1.2).
    const challengeWarning =
      echoValue !== undefined && challenge?.kind === 'protected' && challenge.verified && challenge.option.partialIV === undefined
        ? 'The Echo challenge of the preflight request carried no Partial IV: RFC 8613 Appendix B.1.2 requires the server to use its own Partial IV and to include it.'
        : undefined;
    if (echoValue !== undefined) probe = await preflight.exchange('preflight (Echo)', { method: 'GET', target: path, echo: echoValue });
    const sentRequests = preflight.requests();
    const sent = sentRequests.at(-1);
    const verified = probe.verification?.kind === 'protected' && probe.verification.verified ? probe.verification : undefined;
    const hasEcho = verified !== undefined && verified.response.headers.some(([name]) => name === 'x-echo-method');
    const mode = options.echo ?? 'auto';
    const echo = mode === 'on' || (mode === 'auto' && hasEcho);
    const warnings: string[] = challengeWarning === undefined ? [] : [challengeWarning];
    if (verified === undefined) {
      warnings.push(
        `The preflight request (a protected GET ${path}) did not get a protected response that verifies: ${sent!.response.status ?? ''} ${sent!.response.diagnostic ?? sent!.response.verifyError ?? ''}`.trim() +
          (sent!.response.protected
            ? '. The target answered with OSCORE, so it accepted the request: its response does not verify — check the response AAD (request kid and Partial IV), nonce and OSCORE field, or that --contexts is the right pair.'
            : '. Check that --contexts holds the client side of a context the target has, and the outer path.'),
      );
    } else if (mode === 'auto' && !hasEcho) {
      warnings.push(`${path} does not implement the echo contract (no x-echo-method): only OSCORE-level outcomes are checked, not what the application saw.`);
    }
    const runEnv: SuiteEnvironment = { ...env, echo };
    const results: HttpTestResult[] = [];
    for (const [index, test] of tests.entries()) {
      options.onTestStart?.(test, index, tests.length);
      const t = new TestRun(runEnv);
      const testStarted = performance.now();
      let error: unknown;
      try {
        await test.run(t);
      } catch (err) {
        error = err;
      }
      const result = t.result(test, performance.now() - testStarted, error);
      results.push(result);
      options.onTestEnd?.(result, index, tests.length);
    }
    // Runs started a second apart get start numbers this far apart: a run that used more
    // overlaps the next one, whose first requests the target would then refuse as replays.
    const used = sequence.upcoming - sequenceStart;
    if (options.sequenceStart === undefined && used > SEQUENCE_NUMBERS_PER_SECOND) {
      const seconds = Math.ceil(used / SEQUENCE_NUMBERS_PER_SECOND);
      warnings.push(`This run used ${used} sequence numbers, more than the ${SEQUENCE_NUMBERS_PER_SECOND} a second of clock gives each run: start the next run against this target at least ${seconds} s after this one began, or give --sequence-start ${sequence.upcoming}.`);
    }
    return {
      target: { origin, outerPath, path, context: label, echo, sequenceStart, maxReplayWindow },
      preflight: sentRequests,
      warnings,
      tests: results,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await client.close();
  }
}
