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
  /** Reads standard input to its end (for a `-` file argument); absent where there is none. */
  readonly readStdin?: () => Promise<Uint8Array>;
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

async function readAll(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.length);
}

/** The real process's streams, environment and working directory. */
export function processIo(): CliIo {
  return { stdout: streamOf(process.stdout), stderr: streamOf(process.stderr), env: process.env, cwd: process.cwd(), readStdin: () => readAll(process.stdin) };
}
