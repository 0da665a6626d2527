/**
 * @oscore-http/conformance — the OSCORE (RFC 8613) conformance suite.
 *
 * - Vector files in the `oscore-vectors/1` format (JSON Schema in `vectors/`), and a
 *   runner that checks an engine against them in both directions.
 * - A black-box suite for any HTTP server that implements RFC 8613 §11: it needs only
 *   the server's URL and the client side's context file (docs/conformance.md).
 * - Reports: a JSON document (`oscore-conformance-report/1`) and JUnit XML.
 *
 * @example
 * ```ts
 * import { findVectorFiles, runVectorFiles, runHttpSuite, httpJUnit } from '@oscore-http/conformance';
 * const results = await runVectorFiles(await findVectorFiles('conformance/vectors'));
 * const http = await runHttpSuite({ target: 'http://127.0.0.1:8613', contexts: 'contexts.client.json' });
 * writeFileSync('junit.xml', httpJUnit(http));
 * ```
 *
 * @packageDocumentation
 */

export type * from './vectors/format.js';
export { findVectorFiles, loadVectorFile, MAX_VECTOR_STRING, VECTOR_SCHEMA_URL, VectorFileError } from './vectors/load.js';
export { runVector, type CaseResult, type Check, type RunVectorOptions } from './vectors/run.js';
export { runVectorFiles, type FileResult, type RunFilesOptions } from './vectors/run-files.js';

export {
  HTTP_TEST_CATEGORIES,
  type EchoMode,
  type HttpSuiteResult,
  type HttpTestCategory,
  type HttpTestResult,
  type ResponseSummary,
  type SentRequest,
} from './http/types.js';
export { SuiteInputError, TargetUnreachableError } from './http/errors.js';
export { initialSequenceNumber, SEQUENCE_NUMBERS_PER_SECOND } from './http/sequence.js';
export {
  DEFAULT_MAX_REPLAY_WINDOW,
  DEFAULT_OVERSIZE,
  DEFAULT_PROBE_PATH,
  DEFAULT_TIMEOUT_MS,
  MAX_OVERSIZE,
  runHttpSuite,
  selectTests,
  type HttpSuiteOptions,
} from './http/run.js';
export { describeResponse, type HttpTestDefinition } from './http/test-run.js';
export { HTTP_TESTS } from './http/tests/index.js';

export { renderJUnit, type JUnitCase, type JUnitSuite } from './report/junit.js';
export { summarize, succeeded, type ReportSummary } from './report/summary.js';
export {
  abbreviate,
  firstMismatch,
  REPORT_FORMAT,
  vectorsJUnit,
  vectorsReport,
  vectorsSummary,
  type ReportedCheck,
  type ToolInfo,
  type VectorsReport,
} from './report/vectors-report.js';
export { describeRequest, httpJUnit, httpReport, type HttpReport } from './report/http-report.js';
