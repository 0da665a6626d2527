/**
 * Running the real, built `oscore-http` binary (node packages/cli/dist/bin.js) as a child
 * process, and starting the example conformance server with its one command.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** The built executable. */
export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
/** The example server's client contexts. */
export const CLIENT_CONTEXTS = fileURLToPath(new URL('../../../../examples/conformance-server/contexts.client.json', import.meta.url));
export const SERVER_CONTEXTS = fileURLToPath(new URL('../../../../examples/conformance-server/contexts.server.json', import.meta.url));

/** What a run of the binary produced. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where and with what standard input {@link runCli} runs the binary. */
export interface RunOptions {
  /** Working directory (default the repository root). */
  readonly cwd?: string;
  /** Bytes written to the binary's standard input (default none: stdin is closed). */
  readonly input?: Uint8Array | string;
}

/**
 * Runs `oscore-http args...` from the repository root (or `options.cwd`), with a plain
 * environment (no colour variables unless `env` sets them). Resolves with the exit code;
 * never rejects for a non-zero exit.
 */
export function runCli(args: readonly string[], env: Record<string, string> = {}, options: RunOptions = {}): Promise<CliRun> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '' };
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: { ...base, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
    child.stdin!.end(options.input ?? '');
  });
}

/** A running example server. */
export interface ExampleServer {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `node examples/conformance-server/server.mjs --port 0` and waits for the URL it
 * prints. Its state store (the file store, as in production) lives in `stateDir`.
 */
export function startExampleServer(stateDir: string): Promise<ExampleServer> {
  const child = spawn(process.execPath, ['examples/conformance-server/server.mjs', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, OSCORE_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`the example server did not start: ${err}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the example server exited with ${code}: ${err}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0]!;
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve({
        url: line.trim(),
        process: child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
