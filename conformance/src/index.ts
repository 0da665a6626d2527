/**
 * @oscore-http/conformance — the OSCORE (RFC 8613) conformance suite.
 *
 * - Vector files in the `oscore-vectors/1` format (JSON Schema in `vectors/`), and a
 *   runner that checks an engine against them in both directions.
 *
 * @example
 * ```ts
 * import { findVectorFiles, runVectorFiles } from '@oscore-http/conformance';
 * const results = await runVectorFiles(await findVectorFiles('conformance/vectors'));
 * ```
 *
 * @packageDocumentation
 */

export type * from './vectors/format.js';
export { findVectorFiles, loadVectorFile, VECTOR_SCHEMA_URL, VectorFileError } from './vectors/load.js';
export { runVector, type CaseResult, type Check, type RunVectorOptions } from './vectors/run.js';
export { runVectorFiles, type FileResult, type RunFilesOptions } from './vectors/run-files.js';
