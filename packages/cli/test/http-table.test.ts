/** The terminal table of an HTTP run: what it lists under a failure. */

import { describe, expect, it } from 'vitest';
import type { HttpSuiteResult, HttpTestResult } from '@oscore-http/conformance';
import { renderHttpTable } from '../src/report/http-table.js';
import { createStyle } from '../src/style.js';

const failedTest: HttpTestResult = {
  id: 'replay.identical',
  title: 'An accepted request sent again is rejected',
  rfc: 'RFC 8613 §7.4',
  category: 'replay',
  status: 'failed',
  expected: '#1 accepted; replay rejected',
  observed: '#1: protected 200; replay: unprotected 400; note: status (advisory)',
  requests: [],
  checks: [
    { name: '#1: protected response', expected: 'protected 200', actual: 'protected 200', passed: true },
    { name: 'replay: status (advisory)', expected: 'unprotected 401/403 (4.01)', actual: '400', passed: false, advisory: true },
    { name: 'application not run', expected: 'witness sees x-echo-count 3', actual: 'x-echo-count 4', passed: false },
  ],
  notes: ['replay: status (advisory): suggested unprotected 401/403 (4.01), got 400'],
  detail: 'application not run: expected witness sees x-echo-count 3; got x-echo-count 4',
  durationMs: 5,
};

const result: HttpSuiteResult = {
  target: { origin: 'http://127.0.0.1:1', outerPath: '/oscore', path: '/conformance/echo', context: 'suite', echo: true, sequenceStart: 1, maxReplayWindow: 1024 },
  preflight: [],
  warnings: [],
  tests: [failedTest],
  startedAt: new Date(0).toISOString(),
  durationMs: 5,
};

describe('renderHttpTable', () => {
  it('lists the failed required checks of a failed test, not its advisory ones (those are notes)', () => {
    const text = renderHttpTable(result, createStyle(false), 200);
    const failures = text.slice(text.indexOf('Failures'));
    expect(failures).toContain('- application not run: expected witness sees x-echo-count 3; got x-echo-count 4');
    expect(failures).not.toContain('- replay: status (advisory)');
  });
});
