/**
 * What a command reads and writes, passed in rather than taken from `process`, so that
 * tests run commands in-process and see exactly what a user would.
 *
 * Unix conventions: data (tables, JSON) on stdout; diagnostics and progress on stderr.
 */

/** A place to write text. */
export interface OutputStream {
  write(text: string): void;
  /** Whether it is a terminal (colour, progress, width). */
  readonly isTTY: boolean;
  /** The terminal's width in columns, when it is one. */
  readonly columns?: number | undefined;
}

/** The environment of one command run. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  /** Environment variables (`NO_COLOR`, `FORCE_COLOR`, `TERM`, secrets referenced by context files). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory that relative paths are resolved against. */
  readonly cwd: string;
}

function streamOf(stream: NodeJS.WriteStream): OutputStream {
  return {
    write: (text) => void stream.write(text),
    get isTTY() {
      return stream.isTTY === true;
    },
    get columns() {
      return stream.isTTY === true ? stream.columns : undefined;
    },
  };
}

/** The real process's streams, environment and working directory. */
export function processIo(): CliIo {
  return { stdout: streamOf(process.stdout), stderr: streamOf(process.stderr), env: process.env, cwd: process.cwd() };
}
