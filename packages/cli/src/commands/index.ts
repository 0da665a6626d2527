/**
 * The commands of `oscore-http`, in the order `--help` lists them. A new command is a
 * module exporting a {@link Command}, added here.
 */

import { conformanceCommand } from './conformance.js';
import { doctorCommand } from './doctor.js';
import { inspectCommand } from './inspect.js';
import { keygenCommand } from './keygen.js';
import type { Command } from './types.js';

/** Every top-level command. */
export const COMMANDS: readonly Command[] = Object.freeze([keygenCommand, doctorCommand, inspectCommand, conformanceCommand]);
