/**
 * `oscore-http doctor <contexts-file>` — checks a context file (docs/context-file.md) for
 * every mistake it can find, and says how to fix each.
 */

import { parseCommandArgs } from '../args.js';
import { readContextFileText } from '../context-file.js';
import { checkContextFile, type Finding, type Level } from '../doctor/checks.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { colorEnabled, createStyle, type Style } from '../style.js';
import { writeJson } from './output.js';
import type { Command } from './types.js';

const HELP = 'doctor';

const usage = `Usage: oscore-http doctor [options] <contexts-file | ->

Checks a context file for every mistake it can find, and says how to fix each: JSON and
schema errors, unknown settings, secrets that are missing (unset environment variables,
unreadable files), inline, short or not random-looking, IDs that are too long for the
algorithm, equal or reused across contexts, peers that are not origins or repeated,
replay windows out of range, usage limits above the recommendations, and notes on the
algorithm. Secrets are resolved from the environment and files as the service would,
to check them; no secret value is ever printed. "-" reads the file from standard input
(relative { "file" } secrets then start at the working directory).

One line per finding on stdout: level (error, warning, info), place, problem, fix;
then a summary line.

Options:
  --json        Write one JSON document (oscore-http-doctor/1) to stdout
  -h, --help    Show this help

Exit codes: 0 no errors (warnings and info allowed), 1 errors found, 2 usage error,
3 the file cannot be read or is not JSON.

Example:
  OSCORE_SHOP_SECRET=… oscore-http doctor orders.contexts.json
`;

const LEVELS: readonly Level[] = ['error', 'warning', 'info'];

function paint(style: Style, level: Level, text: string): string {
  return level === 'error' ? style.fail(text) : level === 'warning' ? style.skip(text) : style.dim(text);
}

function count(n: number, level: Level): string {
  return `${n} ${level === 'info' ? 'info' : n === 1 ? level : `${level}s`}`;
}

/** The `doctor` command. */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'Check a context file for mistakes, and say how to fix each',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs({ args: [...argv], strict: true, allowPositionals: true, options: { json: { type: 'boolean' } } }, HELP);
    if (positionals.length === 0) throw new UsageError('give the context file to check', HELP);
    if (positionals.length > 1) throw new UsageError(`give one context file, not ${positionals.length}`, HELP);
    const file = await readContextFileText(positionals[0]!, io, '');
    const label = file.label;
    const result = checkContextFile(file, io.env);
    const totals = Object.fromEntries(LEVELS.map((l) => [l, result.findings.filter((f) => f.level === l).length])) as Record<Level, number>;
    if (values.json === true) {
      writeJson(io, {
        format: 'oscore-http-doctor/1',
        file: label,
        contexts: result.contexts,
        findings: result.findings,
        summary: { errors: totals.error, warnings: totals.warning, info: totals.info },
      });
    } else {
      const style = createStyle(colorEnabled(io.stdout, io.env));
      const line = (f: Finding) => `${paint(style, f.level, f.level.padEnd(7))} ${f.path}: ${f.message} — fix: ${f.fix}`;
      for (const f of result.findings) io.stdout.write(`${line(f)}\n`);
      const verdict = totals.error > 0 ? style.fail('FAIL') : style.pass('OK');
      const contexts = `${result.contexts} ${result.contexts === 1 ? 'context' : 'contexts'}`;
      io.stdout.write(`${result.findings.length > 0 ? '\n' : ''}${verdict} ${label} (${contexts}): ${LEVELS.map((l) => count(totals[l], l)).join(', ')}\n`);
    }
    return totals.error > 0 ? ExitCode.FAILURES : ExitCode.OK;
  },
};
