/**
 * @oscore-http/cli — the `oscore-http` command line, usable in-process.
 *
 * Commands: `keygen` (a pair of context files), `doctor` (check a context file),
 * `inspect` (decode, and with a context file decrypt, a captured OSCORE message) and
 * `conformance` (test vectors and the black-box HTTP suite); docs/cli.md.
 *
 * The executable is `oscore-http` (bin.ts). From code, `main(argv, io)` runs any command
 * with injected streams and environment and returns its exit code; commands are
 * {@link Command} objects listed in {@link COMMANDS}.
 *
 * @example
 * ```ts
 * import { main, processIo } from '@oscore-http/cli';
 * process.exitCode = await main(['conformance', 'vectors', 'conformance/vectors'], processIo());
 * ```
 *
 * @packageDocumentation
 */

export { main } from './main.js';
export { processIo, type CliIo, type OutputStream } from './io.js';
export { ExitCode, type ExitCodeValue } from './exit-codes.js';
export { CliError, InputError, UsageError } from './errors.js';
export { COMMANDS } from './commands/index.js';
export { commandGroup, type CommandGroupOptions } from './commands/group.js';
export type { Command } from './commands/types.js';
export { colorEnabled, createStyle, type Style } from './style.js';
export { cliVersion } from './version.js';
