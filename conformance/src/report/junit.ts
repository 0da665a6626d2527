/**
 * JUnit XML, the test report format CI systems read (Jenkins, GitLab, GitHub Actions
 * reporters, Azure Pipelines): `<testsuites>` of `<testsuite>` of `<testcase>`, each
 * with `<failure>`, `<error>` or `<skipped>` when it did not pass, and the details in
 * `<system-out>`. Written by hand with full escaping (./xml.ts); no dependency.
 */

import { escapeAttribute, escapeText } from './xml.js';

/** One test case. */
export interface JUnitCase {
  readonly name: string;
  readonly classname: string;
  readonly timeSeconds: number;
  /** `failed`: the implementation is wrong; `error`: the case could not be run. */
  readonly status: 'passed' | 'failed' | 'error' | 'skipped';
  /** One line: why it failed or was skipped. */
  readonly message?: string | undefined;
  /** Failure type, e.g. an error code. */
  readonly type?: string | undefined;
  /** The failure's full text. */
  readonly details?: string | undefined;
  /** What the case did and saw, for the report reader. */
  readonly output?: string | undefined;
}

/** One test suite. */
export interface JUnitSuite {
  readonly name: string;
  readonly timestamp?: string | undefined;
  readonly properties?: readonly (readonly [string, string])[] | undefined;
  readonly cases: readonly JUnitCase[];
}

function seconds(value: number): string {
  return (Math.round(value * 1000) / 1000).toFixed(3);
}

function counts(cases: readonly JUnitCase[]) {
  return {
    tests: cases.length,
    failures: cases.filter((c) => c.status === 'failed').length,
    errors: cases.filter((c) => c.status === 'error').length,
    skipped: cases.filter((c) => c.status === 'skipped').length,
    time: cases.reduce((sum, c) => sum + c.timeSeconds, 0),
  };
}

function renderCase(c: JUnitCase): string {
  const open = `    <testcase name="${escapeAttribute(c.name)}" classname="${escapeAttribute(c.classname)}" time="${seconds(c.timeSeconds)}"`;
  const body: string[] = [];
  const message = c.message === undefined ? '' : ` message="${escapeAttribute(c.message)}"`;
  const type = c.type === undefined ? '' : ` type="${escapeAttribute(c.type)}"`;
  if (c.status === 'failed' || c.status === 'error') {
    const tag = c.status === 'failed' ? 'failure' : 'error';
    body.push(`      <${tag}${message}${type}>${escapeText(c.details ?? c.message ?? '')}</${tag}>`);
  } else if (c.status === 'skipped') {
    body.push(`      <skipped${message}/>`);
  }
  if (c.output !== undefined && c.output !== '') body.push(`      <system-out>${escapeText(c.output)}</system-out>`);
  return body.length === 0 ? `${open}/>` : `${open}>\n${body.join('\n')}\n    </testcase>`;
}

/**
 * Renders a JUnit XML document.
 *
 * @example
 * ```ts
 * writeFileSync('report.xml', renderJUnit('oscore-http conformance', [{ name: 'vectors', cases }]));
 * ```
 */
export function renderJUnit(name: string, suites: readonly JUnitSuite[]): string {
  const all = counts(suites.flatMap((s) => s.cases));
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeAttribute(name)}" tests="${all.tests}" failures="${all.failures}" errors="${all.errors}" skipped="${all.skipped}" time="${seconds(all.time)}">`,
  ];
  for (const [id, suite] of suites.entries()) {
    const c = counts(suite.cases);
    const timestamp = suite.timestamp === undefined ? '' : ` timestamp="${escapeAttribute(suite.timestamp.replace(/\.\d+Z$/, '').replace(/Z$/, ''))}"`;
    lines.push(
      `  <testsuite name="${escapeAttribute(suite.name)}" id="${id}" tests="${c.tests}" failures="${c.failures}" errors="${c.errors}" skipped="${c.skipped}" time="${seconds(c.time)}"${timestamp}>`,
    );
    if (suite.properties !== undefined && suite.properties.length > 0) {
      lines.push('    <properties>');
      for (const [key, value] of suite.properties) lines.push(`      <property name="${escapeAttribute(key)}" value="${escapeAttribute(value)}"/>`);
      lines.push('    </properties>');
    }
    for (const c of suite.cases) lines.push(renderCase(c));
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
