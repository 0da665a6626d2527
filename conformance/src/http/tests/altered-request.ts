/**
 * The shape most black-box tests share: protect a valid request, let an intermediary
 * change one thing, send it, and expect the documented rejection with no application
 * effect (ARCHITECTURE.md, invariant 1: no application code before verification).
 */

import { describeRejection, type Rejection } from '../outcomes.js';
import type { InnerRequest, OuterRequest, ProtectedRequest } from '../client.js';
import type { HttpTestCategory } from '../types.js';
import type { HttpTestDefinition, TestRun } from '../test-run.js';

/** What an altered-request test is made of. */
export interface AlteredRequestTest {
  readonly id: string;
  readonly category: HttpTestCategory;
  readonly title: string;
  readonly rfc: string;
  readonly rejection: Rejection;
  /**
   * Set when the RFC lets a server ignore the change and process the request: a protected
   * response that verifies then passes too, with a note saying why it is allowed.
   */
  readonly mayProcess?: string;
  /** The request protected before the change. Default: `GET` of the test's target. */
  readonly inner?: (t: TestRun) => InnerRequest;
  /** The change, and a note saying what it was (shown in reports). */
  readonly alter: (t: TestRun, request: ProtectedRequest) => Promise<{ outer: OuterRequest; note: string }> | { outer: OuterRequest; note: string };
}

/** A test that sends one altered request and expects it refused with nothing run. */
export function alteredRequestTest(spec: AlteredRequestTest): HttpTestDefinition {
  const { id, category, title, rfc, rejection } = spec;
  return {
    id,
    title,
    rfc,
    category,
    expected: spec.mayProcess === undefined ? `${describeRejection(rejection)}; application not run` : `${describeRejection(rejection)}, or processed (${spec.mayProcess}); application run at most once`,
    async run(t) {
      const request = await t.protect(spec.inner?.(t) ?? { method: 'GET', target: t.target() });
      const { outer, note } = await spec.alter(t, request);
      // A protected answer is judged against the request it would answer (§8.4).
      const x = await t.send('#1', outer, { request, note, verifyWith: request.binding });
      if (spec.mayProcess === undefined) t.expectRejected(x, rejection);
      else t.expectRejectedOrAccepted(x, rejection, spec.mayProcess);
      await t.expectNoApplicationEffect();
    },
  };
}
