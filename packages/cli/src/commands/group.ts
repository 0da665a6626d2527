/**
 * A command made of subcommands (`oscore-http conformance vectors`): it prints its help,
 * or hands the rest of the command line to the subcommand named first.
 */

import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import type { Command } from './types.js';

/** Options of {@link commandGroup}. */
export interface CommandGroupOptions {
  readonly name: string;
  /** The command path shown in usage lines, e.g. `oscore-http conformance`. */
  readonly path: string;
  readonly summary: string;
  readonly description: string;
  readonly commands: readonly Command[];
  /** Extra lines after the list of commands (options, exit codes). */
  readonly footer?: string;
  /** Handles options of the group itself (e.g. `--version`); returns an exit code if it handled `argv`. */
  readonly own?: (argv: readonly string[], io: CliIo) => number | undefined;
}

function helpOf(options: CommandGroupOptions): string {
  const width = Math.max(...options.commands.map((c) => c.name.length)) + 3;
  return [
    `Usage: ${options.path} <command> [options]`,
    '',
    options.description,
    '',
    'Commands:',
    ...options.commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run "${options.path} <command> --help" for a command's options.`,
    ...(options.footer === undefined ? [] : ['', options.footer]),
    '',
  ].join('\n');
}

/** Creates a command that dispatches to `commands`. */
export function commandGroup(options: CommandGroupOptions): Command {
  const usage = helpOf(options);
  const subPath = options.path.replace(/^oscore-http ?/, '');
  return {
    name: options.name,
    summary: options.summary,
    usage,
    commands: options.commands,
    async run(argv, io) {
      const [first, ...rest] = argv;
      if (first === undefined) {
        io.stderr.write(usage);
        return ExitCode.USAGE;
      }
      if (first === '--help' || first === '-h' || first === 'help') {
        const topic = first === 'help' ? options.commands.find((c) => c.name === rest[0]) : undefined;
        // `help nope` is the same mistake as `nope`: a usage error, not the general help and success.
        if (first === 'help' && rest[0] !== undefined && topic === undefined) {
          throw new UsageError(`unknown command "${rest[0]}"; commands: ${options.commands.map((c) => c.name).join(', ')}`, subPath);
        }
        io.stdout.write(topic?.usage ?? usage);
        return ExitCode.OK;
      }
      const handled = options.own?.(argv, io);
      if (handled !== undefined) return handled;
      const command = options.commands.find((c) => c.name === first);
      if (command === undefined) {
        const what = first.startsWith('-') ? `unknown option "${first}"` : `unknown command "${first}"`;
        throw new UsageError(`${what}; commands: ${options.commands.map((c) => c.name).join(', ')}`, subPath);
      }
      // `--` ends the options: `doctor -- --help` names a file called --help.
      const end = rest.indexOf('--');
      const optionArgs = end === -1 ? rest : rest.slice(0, end);
      if (command.commands === undefined && (optionArgs.includes('--help') || optionArgs.includes('-h'))) {
        io.stdout.write(command.usage);
        return ExitCode.OK;
      }
      return command.run(rest, io);
    },
  };
}
