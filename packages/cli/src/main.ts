/**
 * The entry point of `oscore-http`: global options, command dispatch, and the one place
 * where errors become messages on stderr and exit codes.
 */

import { COMMANDS } from './commands/index.js';
import { commandGroup } from './commands/group.js';
import { CliError, UsageError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { cliVersion } from './version.js';

const root = commandGroup({
  name: 'oscore-http',
  path: 'oscore-http',
  summary: '',
  description: 'OSCORE (RFC 8613) end-to-end protection for HTTP microservices: tools for operators and auditors.',
  commands: COMMANDS,
  footer: [
    'Options:',
    '  -h, --help     Show this help',
    '  -v, --version  Print the version',
    '',
    'Exit codes: 0 success, 1 checks failed, 2 usage error, 3 unusable input or unreachable target.',
  ].join('\n'),
  own(argv, io) {
    if (argv[0] === '--version' || argv[0] === '-v') {
      io.stdout.write(`${cliVersion()}\n`);
      return ExitCode.OK;
    }
    return undefined;
  },
});

/**
 * Runs `oscore-http` with `argv` (the arguments after the program name).
 * @returns the exit code: 0 ok, 1 failures found, 2 usage error, 3 unusable input, 70 internal error (74 and 141, output failures, are set where the output fails: io.ts).
 *
 * @example
 * ```ts
 * process.exitCode = await main(['conformance', 'vectors', 'conformance/vectors'], processIo());
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await root.run(argv, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`oscore-http: ${err.message}\n`);
      if (err instanceof UsageError) io.stderr.write(`Run "oscore-http ${err.help === undefined || err.help === '' ? '' : `${err.help} `}--help" for usage.\n`);
      return err.exitCode;
    }
    io.stderr.write(`oscore-http: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.INTERNAL;
  }
}
