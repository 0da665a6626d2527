/**
 * The terminal report of a vector run: per file, a table of its cases (result, id, kind,
 * reference, first mismatch); then the details of every failure.
 */

import { firstMismatch, type CaseResult, type FileResult } from '@oscore-http/conformance';
import type { Style } from '../style.js';
import { renderTable } from './table.js';

const LABEL: Record<CaseResult['status'], string> = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' };

function paintResult(style: Style, text: string): string {
  if (text.startsWith('PASS')) return style.pass(text);
  if (text.startsWith('FAIL') || text.startsWith('ERROR')) return style.fail(text);
  if (text.startsWith('SKIP')) return style.skip(text);
  return text;
}

/** Renders the tables and the failure details of a vector run. */
export function renderVectorsTables(files: readonly FileResult[], style: Style, maxWidth: number | undefined): string {
  const out: string[] = [];
  for (const f of files) {
    out.push(style.bold(`${f.file}${f.title === undefined ? '' : ` — ${f.title}`}`));
    if (f.error !== undefined) {
      out.push(`${style.fail('ERROR')}  ${f.error.message}`, ...f.error.problems.slice(0, 10).map((p) => `       ${p}`), '');
      continue;
    }
    const rows = f.cases.map((c) => [LABEL[c.status], c.id, c.kind, c.reference, firstMismatch(c) ?? '']);
    out.push(
      renderTable(
        [{ header: 'RESULT' }, { header: 'CASE', flex: true, min: 16 }, { header: 'KIND' }, { header: 'REFERENCE', flex: true, min: 12 }, { header: 'FIRST MISMATCH', flex: true, min: 20 }],
        rows,
        { maxWidth, paint: (col, row, text) => (row === -1 ? style.dim(text) : col === 0 ? paintResult(style, text) : text) },
      ),
    );
  }
  const failed = files.flatMap((f) => f.cases.filter((c) => c.status === 'failed').map((c) => ({ file: f.file, c })));
  if (failed.length > 0) {
    out.push(style.bold('Failures'));
    for (const { file, c } of failed) {
      out.push(`${style.fail('FAIL')} ${c.id} (${c.kind}, ${c.reference}) in ${file}`);
      if (c.detail !== undefined) out.push(`  ${c.detail}`);
      for (const k of c.checks.filter((k) => !k.passed)) out.push(`  ${k.name}`, `    expected ${k.expected}`, `    actual   ${k.actual}`);
      out.push('');
    }
  }
  return out.join('\n');
}
