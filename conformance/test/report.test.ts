/**
 * The report writers: JUnit XML stays well-formed whatever the strings in it (server
 * diagnostics, error messages), and its counts match its cases.
 */

import { XMLParser } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { renderJUnit, vectorsJUnit, VectorFileError, type FileResult } from '../src/index.js';
import { escapeAttribute, escapeText, xmlSafe } from '../src/report/xml.js';

function wellFormednessErrors(xml: string): string[] {
  const errors: string[] = [];
  const parser = new SaxesParser();
  parser.on('error', (err) => errors.push(err.message));
  parser.write(xml).close();
  return errors;
}

const NASTY = 'a<b>&c"d\'e ]]> \u0001\u0008\u000b\u001f \ud800 \uffff tab\there\nline\r\nend 😀 é';

describe('XML escaping', () => {
  it('replaces what XML 1.0 cannot carry and escapes markup', () => {
    expect(xmlSafe('\u0000a\u0009\u000a\u000d\ud800\udc00\ud800\ufffe')).toBe('\ufffda\t\n\r\ud800\udc00\ufffd\ufffd');
    expect(escapeText('<a & b> ]]>')).toBe('&lt;a &amp; b&gt; ]]&gt;');
    expect(escapeAttribute('"x"\t\n\r')).toBe('&quot;x&quot;&#9;&#10;&#13;');
  });

  it('keeps a JUnit document well-formed whatever its strings, and they read back', () => {
    const xml = renderJUnit(NASTY, [
      {
        name: NASTY,
        timestamp: '2026-01-02T03:04:05.678Z',
        properties: [[NASTY, NASTY]],
        cases: [
          { name: NASTY, classname: 'x', timeSeconds: 0.0123, status: 'failed', message: NASTY, type: 'mismatch', details: NASTY, output: NASTY },
          { name: 'ok', classname: 'x', timeSeconds: 0, status: 'passed' },
          { name: 'skip', classname: 'x', timeSeconds: 0, status: 'skipped', message: 'no CCM' },
          { name: 'error', classname: 'x', timeSeconds: 0, status: 'error', message: 'unreadable' },
        ],
      },
    ]);
    expect(wellFormednessErrors(xml)).toEqual([]);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', trimValues: false }).parse(xml);
    const suite = doc.testsuites.testsuite;
    expect(doc.testsuites).toMatchObject({ tests: '4', failures: '1', errors: '1', skipped: '1', time: '0.012' });
    expect(suite).toMatchObject({ tests: '4', failures: '1', errors: '1', skipped: '1', timestamp: '2026-01-02T03:04:05' });
    const failed = suite.testcase[0];
    const safe = xmlSafe(NASTY);
    expect(failed.failure['#text']).toBe(safe.replace(/\r\n/g, '\n'));
    expect(failed['system-out']).toBe(safe.replace(/\r\n/g, '\n'));
    expect(failed.name).toContain('a<b>&c"d\'e ]]>');
  });

  it('writes a vector file that could not be loaded as an <error> case', () => {
    const files: FileResult[] = [{ file: 'bad.json', error: new VectorFileError('bad.json', ['/vectors/0: must have required property \'expect\'']), cases: [] }];
    const xml = vectorsJUnit(files, { backend: 'node:crypto', startedAt: new Date(0).toISOString() });
    expect(wellFormednessErrors(xml)).toEqual([]);
    expect(xml).toContain('<error message="bad.json is not a valid oscore-vectors/1 file: /vectors/0: must have required property \'expect\'" type="ERR_VECTOR_FILE">');
  });
});
