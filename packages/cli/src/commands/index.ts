/**
 * The commands of `oscore-http`, in the order `--help` lists them. A new command is a
 * module exporting a {@link Command}, added here.
 */

import { conformanceCommand } from './conformance.js';
import type { Command } from './types.js';

/** Every top-level command. */
export const COMMANDS: readonly Command[] = Object.freeze([conformanceCommand]);
