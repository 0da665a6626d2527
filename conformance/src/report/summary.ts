/**
 * Counts shared by the JSON report and the terminal summary.
 */

/** How many cases ended how. `errors` counts inputs that could not be run at all (e.g. an invalid vector file). */
export interface ReportSummary {
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly errors: number;
}

/** Counts cases by status; `errors` is added as given. */
export function summarize(cases: readonly { readonly status: 'passed' | 'failed' | 'skipped' }[], errors = 0): ReportSummary {
  return {
    total: cases.length,
    passed: cases.filter((c) => c.status === 'passed').length,
    failed: cases.filter((c) => c.status === 'failed').length,
    skipped: cases.filter((c) => c.status === 'skipped').length,
    errors,
  };
}

/** Whether a run with this summary succeeded: nothing failed and every input could be run. */
export function succeeded(summary: ReportSummary): boolean {
  return summary.failed === 0 && summary.errors === 0;
}
