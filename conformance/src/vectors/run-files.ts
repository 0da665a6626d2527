/**
 * Runs whole vector files and directories.
 */

import { loadVectorFile, VectorFileError } from './load.js';
import { runVector, type CaseResult, type RunVectorOptions } from './run.js';

/** The results of one file: its cases, or the reason it could not be run. */
export interface FileResult {
  readonly file: string;
  readonly title?: string | undefined;
  readonly error?: VectorFileError | undefined;
  readonly cases: readonly CaseResult[];
}

/** Options of {@link runVectorFiles}. */
export interface RunFilesOptions extends RunVectorOptions {
  /** Called after each case, for progress display. */
  readonly onCase?: (file: string, result: CaseResult) => void;
}

/** Loads and runs each file in turn. Never throws for a bad file: it is reported in its result. */
export async function runVectorFiles(files: readonly string[], options: RunFilesOptions = {}): Promise<FileResult[]> {
  const results: FileResult[] = [];
  for (const file of files) {
    let loaded;
    try {
      loaded = await loadVectorFile(file);
    } catch (err) {
      results.push({ file, error: err instanceof VectorFileError ? err : new VectorFileError(file, [String(err)]), cases: [] });
      continue;
    }
    const cases: CaseResult[] = [];
    for (const vector of loaded.vectors) {
      const result = await runVector(vector, options);
      cases.push(result);
      options.onCase?.(file, result);
    }
    results.push({ file, title: loaded.title, cases });
  }
  return results;
}
