/**
 * Reports of a black-box HTTP run: the JSON document (docs/conformance.md §5) and JUnit XML.
 */

import type { HttpSuiteResult, HttpTestResult, SentRequest } from '../http/types.js';
import { HTTP_TEST_CATEGORIES } from '../http/types.js';
import { renderJUnit, type JUnitSuite } from './junit.js';
import { summarize, type ReportSummary } from './summary.js';
import { REPORT_FORMAT, type ToolInfo } from './vectors-report.js';

/** The JSON report of an HTTP run. */
export interface HttpReport extends Omit<HttpSuiteResult, 'tests'> {
  readonly format: typeof REPORT_FORMAT;
  readonly suite: 'http';
  readonly tool: ToolInfo;
  readonly summary: ReportSummary;
  readonly tests: readonly HttpTestResult[];
}

/** Builds the JSON report of an HTTP run. */
export function httpReport(result: HttpSuiteResult, meta: { tool: ToolInfo }): HttpReport {
  return { format: REPORT_FORMAT, suite: 'http', tool: meta.tool, ...result, summary: summarize(result.tests) };
}

/** One request in one line: outer method and path, what it carried, what it got. */
export function describeRequest(r: SentRequest): string {
  const inner = r.inner === undefined ? '' : ` [inner ${r.inner.method} ${r.inner.target}, seq ${r.inner.sequenceNumber}]`;
  const note = r.note === undefined ? '' : ` (${r.note})`;
  return `${r.label}: ${r.method} ${r.path}${inner}, ${r.bodySize} B body${note}`;
}

function output(t: HttpTestResult): string {
  return [
    `rfc: ${t.rfc}`,
    `expected: ${t.expected}`,
    `observed: ${t.observed}`,
    'requests:',
    ...t.requests.map((r) => `  ${describeRequest(r)}\n    headers: ${r.headers.map(([n, v]) => `${n}: ${v}`).join(', ')}\n    body starts: ${r.bodyPrefix || '(empty)'}`),
  ].join('\n');
}

/** Renders an HTTP run as JUnit XML: one test suite per category. */
export function httpJUnit(result: HttpSuiteResult): string {
  const suites: JUnitSuite[] = [];
  for (const category of HTTP_TEST_CATEGORIES) {
    const tests = result.tests.filter((t) => t.category === category);
    if (tests.length === 0) continue;
    suites.push({
      name: `http.${category}`,
      timestamp: result.startedAt,
      properties: [
        ['target', result.target.origin],
        ['outerPath', result.target.outerPath],
        ['path', result.target.path],
        ['context', result.target.context],
        ['echo', String(result.target.echo)],
      ],
      cases: tests.map((t) => ({
        name: `${t.id}: ${t.title} [${t.rfc}]`,
        classname: `oscore-http.conformance.http.${category}`,
        timeSeconds: t.durationMs / 1000,
        status: t.status,
        message: t.detail,
        type: t.status === 'failed' ? 'nonconformance' : undefined,
        details: t.status === 'failed' ? [t.detail ?? '', ...t.checks.filter((c) => !c.passed).map((c) => `${c.name}: expected ${c.expected}, got ${c.actual}`)].join('\n') : undefined,
        output: output(t),
      })),
    });
  }
  return renderJUnit('oscore-http conformance http', suites);
}
