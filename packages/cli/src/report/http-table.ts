/**
 * The terminal report of an HTTP run: one row per test (result, id, RFC section, the
 * requests sent, expected and observed outcome), then each failure in full.
 */

import { describeRequest, type HttpSuiteResult, type HttpTestResult } from '@oscore-http/conformance';
import type { Style } from '../style.js';
import { renderTable } from './table.js';

/**
 * The requests of a test in a few words: the inner method (and target, when it is not
 * just the probe path) and what was altered; the witness is left out.
 */
function requestsCell(t: HttpTestResult, path: string): string {
  return t.requests
    .filter((r) => r.label !== 'witness')
    .map((r) => {
      const target = r.inner?.target ?? r.path;
      const what = `${r.inner?.method ?? r.method}${target === path ? '' : ` ${target.startsWith(path) ? target.slice(path.length) : target}`}`;
      return `${r.label} ${what}${r.note === undefined ? '' : ` (${r.note})`}`;
    })
    .join('; ');
}

/** An RFC reference for the table: RFC 8613 is implied, explanations in parentheses are left to the details. */
function rfcCell(rfc: string): string {
  return rfc.replace(/\s*\([^)]*\)/g, '').replace(/RFC 8613 /g, '');
}

/** Renders the table and the failure details of an HTTP run. */
export function renderHttpTable(result: HttpSuiteResult, style: Style, maxWidth: number | undefined): string {
  const rows = result.tests.map((t) => [t.status === 'passed' ? 'PASS' : 'FAIL', t.id, rfcCell(t.rfc), requestsCell(t, result.target.path), t.expected, t.observed]);
  const out: string[] = [
    renderTable(
      [
        { header: 'RESULT' },
        { header: 'TEST' },
        { header: 'RFC 8613', flex: true, min: 12 },
        { header: 'REQUESTS SENT', flex: true, min: 16 },
        { header: 'EXPECTED', flex: true, min: 16 },
        { header: 'OBSERVED', flex: true, min: 20 },
      ],
      rows,
      {
        maxWidth,
        paint: (col, row, text) => (row === -1 ? style.dim(text) : col === 0 ? (text.startsWith('PASS') ? style.pass(text) : style.fail(text)) : text),
      },
    ),
  ];
  const failed = result.tests.filter((t) => t.status === 'failed');
  if (failed.length > 0) {
    out.push(style.bold('Failures'));
    for (const t of failed) {
      out.push(`${style.fail('FAIL')} ${t.id} — ${t.title} (${t.rfc})`);
      out.push('  requests:');
      for (const r of t.requests) {
        out.push(`    ${describeRequest(r)}`);
        out.push(style.dim(`      ${r.headers.map(([n, v]) => `${n}: ${v}`).join(', ') || '(no header fields set)'}; body starts ${r.bodyPrefix || '(empty)'}`));
      }
      out.push(`  expected: ${t.expected}`, `  observed: ${t.observed}`, '  failed checks:');
      // Advisory checks never fail a test; their differences are in `observed` as notes.
      const failing = t.checks.filter((c) => !c.passed && c.advisory !== true);
      for (const c of failing) out.push(`    - ${c.name}: expected ${c.expected}; got ${c.actual}`);
      if (t.detail !== undefined && failing.length === 0) out.push(`    - ${t.detail}`);
      out.push('');
    }
  }
  return out.join('\n');
}
