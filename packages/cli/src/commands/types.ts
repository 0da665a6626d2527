/**
 * The shape of a command. Each command is one module exporting one of these; the
 * registry (./index.ts) lists them. Commands parse their own options.
 */

import type { CliIo } from '../io.js';

/** A command of `oscore-http`. */
export interface Command {
  /** The word that selects it, e.g. `conformance`. */
  readonly name: string;
  /** One line for the list of commands in `--help`. */
  readonly summary: string;
  /** The full help text, printed by `oscore-http <command> --help`. */
  readonly usage: string;
  /** Its subcommands, when it is a group of them (it then handles `--help` itself). */
  readonly commands?: readonly Command[];
  /**
   * Runs the command with the arguments after its name.
   * @returns the exit code (see exit-codes.ts).
   * @throws {UsageError} / {InputError} for a wrong command line or unusable input.
   */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}
