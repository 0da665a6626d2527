/**
 * Exit codes of `oscore-http`, the same for every command (docs/conformance.md §5).
 */
export const ExitCode = Object.freeze({
  /** Everything ran and nothing failed. */
  OK: 0,
  /** Something was checked and failed (a vector case, an HTTP test). */
  FAILURES: 1,
  /** The command line is wrong: unknown command or option, missing argument. */
  USAGE: 2,
  /** The input cannot be used: a missing or invalid file, an unreachable target. */
  INPUT: 3,
  /** A defect in oscore-http itself (sysexits EX_SOFTWARE). */
  INTERNAL: 70,
  /** stdout or stderr cannot be written (a full disk, an I/O error; sysexits EX_IOERR). */
  OUTPUT: 74,
  /** stdout or stderr was closed by its reader (EPIPE, `| head`): 128 + SIGPIPE, as a C tool killed by it. */
  BROKEN_PIPE: 141,
});

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
