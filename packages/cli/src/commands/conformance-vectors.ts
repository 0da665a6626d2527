/**
 * `oscore-http conformance vectors <file-or-dir>...` — runs vector files of the
 * `oscore-vectors/1` format against the @oscore-http/core engine, in both directions:
 * protecting must reproduce the expected bytes, verifying must yield the inner message
 * or the named error.
 */

import { stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import {
  findVectorFiles,
  runVectorFiles,
  succeeded,
  vectorsJUnit,
  vectorsReport,
  vectorsSummary,
  type FileResult,
} from '@oscore-http/conformance';
import { nobleBackend, nodeBackend, type CryptoBackend } from '@oscore-http/core';
import { choiceOption, parseCommandArgs } from '../args.js';
import { InputError, UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { createProgress } from '../progress.js';
import { renderVectorsTables } from '../report/vectors-table.js';
import { colorEnabled, createStyle } from '../style.js';
import { cliVersion } from '../version.js';
import { checkJUnitFile, formatDuration, tableWidth, writeJson, writeJUnitFile } from './output.js';
import type { Command } from './types.js';

const HELP = 'conformance vectors';

const usage = `Usage: oscore-http conformance vectors <file-or-dir>... [options]

Runs test-vector files of the oscore-vectors/1 format (conformance/vectors/
oscore-vectors.schema.json) against the @oscore-http/core engine, in both directions:
protecting must reproduce the expected bytes; verifying the expected bytes must yield
the inner message, or the named error for rejection vectors.

Arguments:
  <file-or-dir>     A vector file, or a directory: every *.json in it except *.schema.json

Options:
  --backend <name>  The engine's crypto backend: node (default; node:crypto, every
                    algorithm), noble (@noble/ciphers; AES-CCM cases are skipped) or
                    openssl (@oscore-http/openssl, when installed; every algorithm)
  --json            Write the JSON report (oscore-conformance-report/1) to stdout
                    instead of the table
  --junit <file>    Also write a JUnit XML report to <file>
  -h, --help        Show this help

Exit codes: 0 no case failed, 1 a case failed, 2 usage error, 3 a path cannot be read or
a file is not a valid vector file.

Example:
  oscore-http conformance vectors conformance/vectors --junit vectors.xml
`;

/** The optional OpenSSL backend package, by a name TypeScript does not resolve: the CLI does not depend on it. */
const OPENSSL_PACKAGE: string = '@oscore-http/openssl';

async function backendOf(name: 'node' | 'noble' | 'openssl'): Promise<CryptoBackend> {
  if (name === 'noble') return nobleBackend;
  if (name === 'openssl') {
    let module: { opensslBackend(): CryptoBackend };
    try {
      module = (await import(OPENSSL_PACKAGE)) as typeof module;
    } catch (err) {
      throw new InputError('--backend openssl needs the @oscore-http/openssl package installed next to the CLI', { cause: err });
    }
    try {
      return module.opensslBackend();
    } catch (err) {
      throw new InputError(err instanceof Error ? err.message : String(err), { cause: err });
    }
  }
  const node = nodeBackend();
  if (node === undefined) throw new InputError('the node:crypto backend is not available in this runtime; use --backend noble');
  return node;
}

async function filesOf(paths: readonly string[], io: CliIo): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const absolute = resolve(io.cwd, path);
    try {
      await stat(absolute);
    } catch (err) {
      throw new InputError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
    const found = await findVectorFiles(absolute);
    if (found.length === 0) throw new InputError(`${path} holds no vector file (*.json)`);
    // Report paths as the user wrote them, relative to the working directory.
    files.push(...found.map((f) => relative(io.cwd, f) || f));
  }
  return files;
}

/** The `conformance vectors` command. */
export const vectorsCommand: Command = {
  name: 'vectors',
  summary: 'Run test-vector files against the engine, in both directions',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      {
        args: [...argv],
        strict: true,
        allowPositionals: true,
        options: {
          backend: { type: 'string' },
          json: { type: 'boolean' },
          junit: { type: 'string' },
        },
      },
      HELP,
    );
    if (positionals.length === 0) throw new UsageError('give a vector file or a directory of them', HELP);
    const backendName = choiceOption(values.backend, 'backend', HELP, ['node', 'noble', 'openssl'] as const) ?? 'node';
    const backend = await backendOf(backendName);
    const files = (await filesOf(positionals, io)).map((f) => resolve(io.cwd, f));
    if (values.junit !== undefined) checkJUnitFile(io, values.junit);
    const shown = (f: string) => relative(io.cwd, f) || f;

    const progress = createProgress(io.stderr);
    const startedAt = new Date().toISOString();
    const started = performance.now();
    let done = 0;
    const raw = await runVectorFiles(files, {
      backend,
      onCase: (file, result) => progress.update(`[${++done}] ${shown(file)} ${result.id}`),
    });
    progress.done();
    const durationMs = Math.round(performance.now() - started);
    const results: FileResult[] = raw.map((f) => ({ ...f, file: shown(f.file) }));
    const summary = vectorsSummary(results);

    if (values.json === true) {
      writeJson(io, vectorsReport(results, { tool: { name: 'oscore-http', version: cliVersion() }, backend: backend.name, startedAt, durationMs }));
    } else {
      const style = createStyle(colorEnabled(io.stdout, io.env));
      io.stdout.write(renderVectorsTables(results, style, tableWidth(io)));
      const verdict = succeeded(summary) ? style.pass('PASS') : style.fail('FAIL');
      io.stdout.write(
        `\n${verdict} ${summary.total} cases in ${results.length} ${results.length === 1 ? 'file' : 'files'} (backend ${backend.name}): ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped` +
          `${summary.errors > 0 ? `, ${summary.errors} files could not be run` : ''} (${formatDuration(durationMs)})\n`,
      );
    }
    if (values.junit !== undefined) writeJUnitFile(io, values.junit, vectorsJUnit(results, { backend: backend.name, startedAt }));
    if (summary.errors > 0) {
      for (const f of results.filter((r) => r.error !== undefined)) io.stderr.write(`oscore-http: ${f.error!.message}\n`);
      return ExitCode.INPUT;
    }
    return summary.failed > 0 ? ExitCode.FAILURES : ExitCode.OK;
  },
};
