/**
 * `oscore-http conformance http --target <url> --contexts <file>` — the black-box suite
 * (@oscore-http/conformance) against any running server that implements RFC 8613 §11.
 */

import { resolve } from 'node:path';
import {
  DEFAULT_MAX_REPLAY_WINDOW,
  DEFAULT_OVERSIZE,
  DEFAULT_PROBE_PATH,
  DEFAULT_TIMEOUT_MS,
  HTTP_TESTS,
  httpJUnit,
  httpReport,
  MAX_OVERSIZE,
  runHttpSuite,
  selectTests,
  summarize,
  SuiteInputError,
  TargetUnreachableError,
  type HttpSuiteResult,
} from '@oscore-http/conformance';
import { choiceOption, integerOption, parseCommandArgs } from '../args.js';
import { withoutJsonExcerpt } from '@oscore-http/http';
import { InputError, UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { createProgress } from '../progress.js';
import { renderHttpTable } from '../report/http-table.js';
import { renderTable } from '../report/table.js';
import { colorEnabled, createStyle } from '../style.js';
import { cliVersion } from '../version.js';
import { checkJUnitFile, formatDuration, tableWidth, writeJson, writeJUnitFile } from './output.js';
import type { Command } from './types.js';

const HELP = 'conformance http';

const usage = `Usage: oscore-http conformance http --target <url> --contexts <file> [options]

Runs the black-box conformance suite against a running HTTP server that implements
OSCORE over HTTP (RFC 8613 §11): methods and bodies, replay and reordering, tampering,
unknown kid and kid context, malformed OSCORE field, Content-Type, oversized body,
unprotected access and response binding. The server needs only a URL and a context it
shares with the client side given here; nothing of oscore-http. See docs/conformance.md.

Required:
  --target <url>           The server's origin, e.g. http://127.0.0.1:8613
  --contexts <file>        The client side's context file (docs/context-file.md). Use a
                           context dedicated to this suite: a run moves the server's
                           replay window for it far ahead.

Options:
  --context <name>         The context to use (default: the one whose "peer" is the
                           target, else the first)
  --outer-path <path>      Where the server takes OSCORE requests (default /oscore)
  --path <path>            Inner path the requests address (default ${DEFAULT_PROBE_PATH})
  --echo <auto|on|off>     Check what the application saw through the echo contract
                           (default auto: if the server's answer shows it)
  --only <list>            Comma-separated test ids or categories to run
  --skip <list>            Comma-separated test ids or categories to leave out
  --list                   List the tests with their RFC sections, and exit
  --oversize <bytes>       Body of the oversized request; must exceed the server's
                           limit (default ${DEFAULT_OVERSIZE})
  --max-replay-window <n>  Largest replay window the server may use (default ${DEFAULT_MAX_REPLAY_WINDOW})
  --sequence-start <n>     First Sender Sequence Number (default: from the clock)
  --timeout <ms>           Per-request timeout (default ${DEFAULT_TIMEOUT_MS})
  --json                   Write the JSON report (oscore-conformance-report/1) to stdout
                           instead of the table
  --junit <file>           Also write a JUnit XML report to <file>
  -h, --help               Show this help

Exit codes: 0 every test passed, 1 a test failed, 2 usage error, 3 the contexts file
cannot be used or the target does not answer.

Example:
  oscore-http conformance http --target http://127.0.0.1:8613 \\
    --contexts examples/conformance-server/contexts.client.json --junit http.xml
`;

function listTests(only: readonly string[] | undefined, skip: readonly string[] | undefined, maxWidth: number | undefined): string {
  const tests = selectTests(only, skip);
  return renderTable(
    [{ header: 'TEST' }, { header: 'CATEGORY' }, { header: 'RFC', flex: true, min: 14 }, { header: 'TITLE', flex: true, min: 20 }],
    tests.map((t) => [t.id, t.category, t.rfc, t.title]),
    { maxWidth },
  );
}

/** The `conformance http` command. */
export const httpCommand: Command = {
  name: 'http',
  summary: 'Run the black-box suite against a running OSCORE-over-HTTP server',
  usage,
  async run(argv, io) {
    const { values } = parseCommandArgs(
      {
        args: [...argv],
        strict: true,
        options: {
          target: { type: 'string' },
          contexts: { type: 'string' },
          context: { type: 'string' },
          'outer-path': { type: 'string' },
          path: { type: 'string' },
          echo: { type: 'string' },
          only: { type: 'string' },
          skip: { type: 'string' },
          list: { type: 'boolean' },
          oversize: { type: 'string' },
          'max-replay-window': { type: 'string' },
          'sequence-start': { type: 'string' },
          timeout: { type: 'string' },
          json: { type: 'boolean' },
          junit: { type: 'string' },
        },
      },
      HELP,
    );
    const list = (value: string | undefined) => value?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const only = list(values.only);
    const skip = list(values.skip);
    try {
      selectTests(only, skip);
      if (values.list === true) {
        // One line per test on a pipe, for grep; fitted to the width on a terminal.
        io.stdout.write(listTests(only, skip, io.stdout.isTTY ? tableWidth(io) : undefined));
        return ExitCode.OK;
      }
    } catch (err) {
      if (err instanceof SuiteInputError) throw new UsageError(err.message, HELP);
      throw err;
    }
    if (values.target === undefined) throw new UsageError('--target is required (the server\'s origin, e.g. http://127.0.0.1:8613)', HELP);
    if (values.contexts === undefined) throw new UsageError('--contexts is required (the client side\'s context file)', HELP);
    const echo = choiceOption(values.echo, 'echo', HELP, ['auto', 'on', 'off'] as const);
    const oversize = integerOption(values.oversize, 'oversize', HELP, 1, MAX_OVERSIZE);
    const maxReplayWindow = integerOption(values['max-replay-window'], 'max-replay-window', HELP, 1);
    const sequenceStart = integerOption(values['sequence-start'], 'sequence-start', HELP, 0);
    const timeoutMs = integerOption(values.timeout, 'timeout', HELP, 1);
    if (values.junit !== undefined) checkJUnitFile(io, values.junit);

    const progress = createProgress(io.stderr);
    let result: HttpSuiteResult;
    try {
      result = await runHttpSuite({
        target: values.target,
        contexts: resolve(io.cwd, values.contexts),
        context: values.context,
        outerPath: values['outer-path'],
        path: values.path,
        echo,
        only,
        skip,
        oversize,
        maxReplayWindow,
        sequenceStart,
        timeoutMs,
        onTestStart: (test, index, total) => progress.update(`[${index + 1}/${total}] ${test.id} — ${test.title}`),
      });
    } catch (err) {
      // The contexts file's JSON error comes from loadContextFile with V8's excerpt of the
      // file, which can be the first characters of a Master Secret: drop the excerpt.
      if (err instanceof SuiteInputError || err instanceof TargetUnreachableError) throw new InputError(withoutJsonExcerpt(err.message), { cause: err });
      throw err;
    } finally {
      progress.done();
    }
    for (const warning of result.warnings) io.stderr.write(`oscore-http: warning: ${warning}\n`);

    const summary = summarize(result.tests);
    if (values.json === true) {
      writeJson(io, httpReport(result, { tool: { name: 'oscore-http', version: cliVersion() } }));
    } else {
      const style = createStyle(colorEnabled(io.stdout, io.env));
      const t = result.target;
      io.stdout.write(
        style.dim(`target ${t.origin} · OSCORE at ${t.outerPath} · probes ${t.path} · context ${t.context} · echo checks ${t.echo ? 'on' : 'off'} · first sequence number ${t.sequenceStart}`) + '\n\n',
      );
      io.stdout.write(renderHttpTable(result, style, tableWidth(io)));
      const verdict = summary.failed === 0 ? style.pass('PASS') : style.fail('FAIL');
      const selected = result.tests.length === HTTP_TESTS.length ? `${summary.total} tests` : `${summary.total} of ${HTTP_TESTS.length} tests`;
      io.stdout.write(`\n${verdict} ${selected}: ${summary.passed} passed, ${summary.failed} failed (${formatDuration(result.durationMs)})\n`);
    }
    if (values.junit !== undefined) writeJUnitFile(io, values.junit, httpJUnit(result));
    return summary.failed > 0 ? ExitCode.FAILURES : ExitCode.OK;
  },
};
