/**
 * Typed errors of the command line. Each carries a stable `code` and the exit code the
 * process ends with; `main` prints the message on stderr.
 */

import { ExitCode } from './exit-codes.js';

/** Base of the errors a command throws on purpose. */
export abstract class CliError extends Error {
  /** Stable identifier, e.g. `ERR_CLI_USAGE`. */
  abstract readonly code: string;
  /** The process exit code for this error. */
  abstract readonly exitCode: number;
}

/** The command line is wrong. `help` names the command whose usage helps. */
export class UsageError extends CliError {
  readonly code = 'ERR_CLI_USAGE';
  readonly exitCode = ExitCode.USAGE;
  /** The command path to suggest `--help` for, e.g. `conformance http`. */
  readonly help: string | undefined;
  constructor(message: string, help?: string) {
    super(message);
    this.name = 'UsageError';
    this.help = help;
  }
}

/** An input cannot be used: a file that is missing or invalid, a target that does not answer. */
export class InputError extends CliError {
  readonly code = 'ERR_CLI_INPUT';
  readonly exitCode = ExitCode.INPUT;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputError';
  }
}

/** An output the user asked for cannot be written: a report file in a missing or read-only directory, a full disk. */
export class OutputError extends CliError {
  readonly code = 'ERR_CLI_OUTPUT';
  readonly exitCode = ExitCode.OUTPUT;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutputError';
  }
}
