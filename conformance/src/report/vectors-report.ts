/**
 * Reports of a vector run: the JSON document (docs/conformance.md §5) and JUnit XML.
 */

import { basename } from 'node:path';
import type { CaseResult, Check } from '../vectors/run.js';
import type { FileResult } from '../vectors/run-files.js';
import { renderJUnit, type JUnitCase, type JUnitSuite } from './junit.js';
import { summarize, type ReportSummary } from './summary.js';

/** Format identifier of the JSON reports. */
export const REPORT_FORMAT = 'oscore-conformance-report/1';

/** The program that wrote a report. */
export interface ToolInfo {
  readonly name: string;
  readonly version: string;
}

/** A check in the JSON report: expected and actual values only where it failed. */
export interface ReportedCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly expected?: string;
  readonly actual?: string;
}

/** The JSON report of a vector run. */
export interface VectorsReport {
  readonly format: typeof REPORT_FORMAT;
  readonly suite: 'vectors';
  readonly tool: ToolInfo;
  /** The crypto backend of the engine under test. */
  readonly backend: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly summary: ReportSummary;
  readonly files: readonly {
    readonly file: string;
    readonly title?: string | undefined;
    readonly error?: { readonly code: string; readonly message: string; readonly problems: readonly string[] } | undefined;
    readonly summary: ReportSummary;
    readonly cases: readonly (Omit<CaseResult, 'checks'> & { readonly checks: readonly ReportedCheck[] })[];
  }[];
}

/** The summary of a vector run: cases by status, and files that could not be run as errors. */
export function vectorsSummary(files: readonly FileResult[]): ReportSummary {
  return summarize(files.flatMap((f) => f.cases), files.filter((f) => f.error !== undefined).length);
}

function reportedCheck(c: Check): ReportedCheck {
  return c.passed ? { name: c.name, passed: true } : { name: c.name, passed: false, expected: c.expected, actual: c.actual };
}

/** Builds the JSON report of a vector run. */
export function vectorsReport(files: readonly FileResult[], meta: { tool: ToolInfo; backend: string; startedAt: string; durationMs: number }): VectorsReport {
  return {
    format: REPORT_FORMAT,
    suite: 'vectors',
    tool: meta.tool,
    backend: meta.backend,
    startedAt: meta.startedAt,
    durationMs: meta.durationMs,
    summary: vectorsSummary(files),
    files: files.map((f) => ({
      file: f.file,
      title: f.title,
      error: f.error === undefined ? undefined : { code: f.error.code, message: f.error.message, problems: f.error.problems },
      summary: summarize(f.cases, f.error === undefined ? 0 : 1),
      cases: f.cases.map((c) => ({ ...c, checks: c.checks.map(reportedCheck) })),
    })),
  };
}

/** Shortens a long hex value for one-line messages. */
export function abbreviate(value: string, max = 48): string {
  return value.length <= max ? value : `${value.slice(0, max - 12)}…(${value.length} chars)`;
}

/** Why a case failed, in one line: its error, or its first failed check. */
export function firstMismatch(c: CaseResult): string | undefined {
  if (c.status === 'skipped') return c.detail;
  const failed = c.checks.find((k) => !k.passed);
  if (failed !== undefined) return `${failed.name}: expected ${abbreviate(failed.expected)}, got ${abbreviate(failed.actual)}`;
  return c.status === 'failed' ? (c.detail ?? 'no check ran') : undefined;
}

function junitCase(file: string, c: CaseResult): JUnitCase {
  const classname = `oscore-http.conformance.vectors.${basename(file).replace(/\.json$/, '')}`;
  const output = [`kind: ${c.kind}`, `reference: ${c.reference}`, ...(c.description === undefined ? [] : [`description: ${c.description}`])].join('\n');
  if (c.status === 'passed') return { name: c.id, classname, timeSeconds: 0, status: 'passed', output };
  if (c.status === 'skipped') return { name: c.id, classname, timeSeconds: 0, status: 'skipped', message: c.detail, output };
  const details = [
    ...(c.detail === undefined ? [] : [c.detail]),
    ...c.checks.filter((k) => !k.passed).map((k) => `${k.name}:\n  expected ${k.expected}\n  actual   ${k.actual}`),
  ].join('\n');
  return { name: c.id, classname, timeSeconds: 0, status: 'failed', message: firstMismatch(c), type: 'mismatch', details, output };
}

/** Renders a vector run as JUnit XML: one test suite per file. */
export function vectorsJUnit(files: readonly FileResult[], meta: { backend: string; startedAt: string }): string {
  const suites: JUnitSuite[] = files.map((f) => ({
    name: f.file,
    timestamp: meta.startedAt,
    properties: [
      ['backend', meta.backend],
      ...(f.title === undefined ? [] : ([['title', f.title]] as const)),
    ],
    cases:
      f.error === undefined
        ? f.cases.map((c) => junitCase(f.file, c))
        : [
            {
              name: '(load)',
              classname: `oscore-http.conformance.vectors.${basename(f.file).replace(/\.json$/, '')}`,
              timeSeconds: 0,
              status: 'error',
              message: f.error.message,
              type: f.error.code,
              details: f.error.problems.join('\n'),
            },
          ],
  }));
  return renderJUnit('oscore-http conformance vectors', suites);
}
