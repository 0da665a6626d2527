/**
 * What a command reads and writes, passed in rather than taken from `process`, so that
 * tests run commands in-process and see exactly what a user would.
 *
 * Unix conventions: data (tables, JSON) on stdout; diagnostics and progress on stderr.
 */

import { ExitCode } from './exit-codes.js';

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
  /**
   * Reads standard input to its end (for a `-` file argument); absent where there is none.
   * With `limit`, it stops once more than `limit` bytes have arrived and returns them (the
   * caller sees `length > limit`), so an endless or huge input never fills memory.
   */
  readonly readStdin?: (limit?: number) => Promise<Uint8Array>;
}

function streamOf(stream: NodeJS.WriteStream): OutputStream {
  // `oscore-http … | head`: once the reader has gone, every write fails with EPIPE, which
  // Node emits as an 'error' event and, unhandled, reports as a stack trace. Exit quietly
  // instead, as a Unix tool killed by SIGPIPE does (no message: stderr may be the pipe).
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.BROKEN_PIPE);
    // Any other failure (`> /dev/full`, a full disk, EIO): the output is incomplete, which
    // is neither "checks failed" (1) nor a stack trace; say so once, where it can be said.
    if (stream !== process.stderr) {
      try {
        process.stderr.write(`oscore-http: cannot write the output (${err.code ?? err.message}); it is incomplete\n`);
      } catch {
        // stderr is gone too: the exit code says it
      }
    }
    process.exit(ExitCode.OUTPUT);
  });
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

async function readAll(stream: NodeJS.ReadableStream, limit = Infinity): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(bytes);
    total += bytes.length;
    // Stop at the limit rather than after the end: the input may never end (`yes |`), or be huge.
    if (total > limit) break;
  }
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.length);
}

/** The real process's streams, environment and working directory. */
export function processIo(): CliIo {
  return { stdout: streamOf(process.stdout), stderr: streamOf(process.stderr), env: process.env, cwd: process.cwd(), readStdin: (limit) => readAll(process.stdin, limit) };
}
