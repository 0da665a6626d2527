/**
 * The command line itself, run in-process with injected streams: help, version, usage
 * errors and their exit codes, the colour and progress rules, and input errors; and the
 * same help, version and usage errors through the real binary, spawned.
 */

import { createServer, type Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { HTTP_TESTS } from '@oscore-http/conformance';
import { main } from '../src/main.js';
import { colorEnabled } from '../src/style.js';
import { CLIENT_CONTEXTS, runCli } from './support/cli.js';
import { fakeIo } from './support/io.js';

const ESC = '\x1b[';
const APPENDIX_C = 'conformance/vectors/rfc8613-appendix-c.json';

describe('help and version', () => {
  it('prints the commands, the exit codes and the version', async () => {
    const f = fakeIo();
    expect(await main(['--help'], f.io)).toBe(0);
    expect(f.stdout()).toMatch(/^Usage: oscore-http <command> \[options\]/);
    expect(f.stdout()).toMatch(/^ {2}conformance +Check an OSCORE implementation against RFC 8613/m);
    expect(f.stdout()).toContain('Exit codes: 0 success, 1 checks failed, 2 usage error, 3 unusable input or unreachable target.');
    const v = fakeIo();
    expect(await main(['--version'], v.io)).toBe(0);
    expect(v.stdout()).toBe('0.1.0\n');
  });

  it('prints each command\'s usage with --help, on stdout', async () => {
    for (const [argv, first] of [
      [['conformance', '--help'], 'Usage: oscore-http conformance <command>'],
      [['conformance', 'vectors', '--help'], 'Usage: oscore-http conformance vectors <file-or-dir>...'],
      [['conformance', 'http', '--help'], 'Usage: oscore-http conformance http --target <url> --contexts <file>'],
      [['help', 'conformance'], 'Usage: oscore-http conformance <command>'],
    ] as const) {
      const f = fakeIo();
      expect(await main(argv, f.io), argv.join(' ')).toBe(0);
      expect(f.stdout().startsWith(first), argv.join(' ')).toBe(true);
      expect(f.stderr()).toBe('');
    }
  });

  it('lists the HTTP tests with their categories and RFC sections', async () => {
    const f = fakeIo();
    expect(await main(['conformance', 'http', '--list'], f.io)).toBe(0);
    const rows = f.stdout().trim().split('\n').slice(1);
    expect(rows).toHaveLength(HTTP_TESTS.length);
    expect(f.stdout()).toMatch(/^replay\.identical +replay +RFC 8613 §7\.4, §8\.2 step 3 +An accepted request sent again is rejected$/m);
    const only = fakeIo();
    expect(await main(['conformance', 'http', '--list', '--only', 'kid,binding.cross-request'], only.io)).toBe(0);
    expect(only.stdout().trim().split('\n').slice(1).map((r) => r.split(/\s+/)[0])).toEqual(['kid.unknown', 'kid.missing', 'binding.cross-request']);
    const skip = fakeIo();
    expect(await main(['conformance', 'http', '--list', '--only', 'method', '--skip', 'method.head,method.options,method.purge'], skip.io)).toBe(0);
    expect(skip.stdout().trim().split('\n').slice(1).map((r) => r.split(/\s+/)[0])).toEqual(['method.get', 'method.post', 'method.put', 'method.delete', 'method.fetch', 'method.patch']);
  });
});

describe('usage errors exit 2 with a message and a pointer to --help on stderr', () => {
  it.each([
    [[], /^Usage: oscore-http <command>/],
    [['nope'], /^oscore-http: unknown command "nope"; commands: keygen, doctor, inspect, conformance\nRun "oscore-http --help" for usage\.\n$/],
    [['--nope'], /unknown option "--nope"/],
    [['conformance', 'vectors'], /^oscore-http: give a vector file or a directory of them\nRun "oscore-http conformance vectors --help"/],
    [['conformance', 'vectors', APPENDIX_C, '--backend', 'wolfssl'], /--backend must be one of node, noble, openssl, not "wolfssl"/],
    [['conformance', 'vectors', APPENDIX_C, '--colour'], /Unknown option '--colour'/],
    [['conformance', 'http', '--contexts', CLIENT_CONTEXTS], /--target is required/],
    [['conformance', 'http', '--target', 'http://127.0.0.1:1'], /--contexts is required/],
    [['conformance', 'http', '--target', 'http://127.0.0.1:1', '--contexts', CLIENT_CONTEXTS, '--echo', 'maybe'], /--echo must be one of auto, on, off/],
    [['conformance', 'http', '--target', 'http://127.0.0.1:1', '--contexts', CLIENT_CONTEXTS, '--timeout', '10s'], /--timeout must be an integer of at least 1, not "10s"/],
    [['conformance', 'http', '--list', '--only', 'replay.nope'], /Unknown test or category: replay\.nope/],
    [['conformance', 'http', '--target', 'http://127.0.0.1:1', '--contexts', CLIENT_CONTEXTS, '--skip', 'nope'], /Unknown test or category: nope/],
  ])('%j', async (argv, message) => {
    const f = fakeIo();
    expect(await main(argv, f.io)).toBe(2);
    expect(f.stderr()).toMatch(message);
    expect(f.stdout()).toBe('');
  });
});

describe('the installed binary (spawned): help on every command, the version, usage errors', () => {
  it('--help of every command, and `help <command>`, print its usage on stdout and exit 0', async () => {
    for (const [argv, first] of [
      [['--help'], 'Usage: oscore-http <command> [options]'],
      [['-h'], 'Usage: oscore-http <command> [options]'],
      [['keygen', '--help'], 'Usage: oscore-http keygen [options]'],
      [['doctor', '--help'], 'Usage: oscore-http doctor [options] <contexts-file | ->'],
      [['inspect', '--help'], 'Usage: oscore-http inspect [options] <message-file | ->'],
      [['conformance', '--help'], 'Usage: oscore-http conformance <command> [options]'],
      [['conformance', 'vectors', '--help'], 'Usage: oscore-http conformance vectors <file-or-dir>... [options]'],
      [['conformance', 'http', '--help'], 'Usage: oscore-http conformance http --target <url> --contexts <file> [options]'],
      [['help', 'inspect'], 'Usage: oscore-http inspect [options] <message-file | ->'],
    ] as const) {
      const run = await runCli(argv);
      expect(run.code, argv.join(' ')).toBe(0);
      expect(run.stdout.split('\n')[0], argv.join(' ')).toBe(first);
      expect(run.stderr, argv.join(' ')).toBe('');
    }
    const version = await runCli(['--version']);
    expect(version).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });

  it.each([
    [[], /^Usage: oscore-http <command>/],
    [['nope'], /^oscore-http: unknown command "nope"; commands: keygen, doctor, inspect, conformance\nRun "oscore-http --help" for usage\.\n$/],
    [['keygen', '--bogus'], /Unknown option '--bogus'[\s\S]*\nRun "oscore-http keygen --help" for usage\.\n$/],
    [['conformance', 'vectors'], /^oscore-http: give a vector file or a directory of them\nRun "oscore-http conformance vectors --help"/],
  ])('%j exits 2, the message on stderr, nothing on stdout', async (argv, message) => {
    const run = await runCli(argv);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });
});

describe('unusable input exits 3', () => {
  it('an unreachable target', async () => {
    // A port that was just free: nothing listens there.
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const f = fakeIo();
    expect(await main(['conformance', 'http', '--target', `http://127.0.0.1:${port}`, '--contexts', CLIENT_CONTEXTS], f.io)).toBe(3);
    expect(f.stderr()).toBe(`oscore-http: The target http://127.0.0.1:${port} did not answer (ECONNREFUSED); check that the server is running and the URL is right.\n`);
  });

  it('a target URL with a path, a missing contexts file, an unknown context name', async () => {
    const cases: [string[], RegExp][] = [
      [['--target', 'http://127.0.0.1:1/api', '--contexts', CLIENT_CONTEXTS], /has a path; give the origin only/],
      [['--target', 'http://127.0.0.1:1', '--contexts', 'nowhere.json'], /nowhere\.json: \(file\): cannot be read \(ENOENT\)/],
      [['--target', 'http://127.0.0.1:1', '--contexts', CLIENT_CONTEXTS, '--context', 'other'], /no context named "other"; it has: conformance-suite, conformance-suite-idctx/],
    ];
    for (const [args, message] of cases) {
      const f = fakeIo();
      expect(await main(['conformance', 'http', ...args], f.io), args.join(' ')).toBe(3);
      expect(f.stderr()).toMatch(message);
    }
  });
});

describe('colour and progress', () => {
  it('colours only a terminal, unless NO_COLOR or TERM=dumb; FORCE_COLOR decides when set', () => {
    const tty = { write() {}, isTTY: true };
    const pipe = { write() {}, isTTY: false };
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(pipe, {})).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled(tty, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: '' })).toBe(true);
    expect(colorEnabled(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled(tty, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(true);
  });

  it('a terminal gets colour and stderr progress; a pipe gets plain text and no progress', async () => {
    const tty = fakeIo({ stdoutTTY: true, stderrTTY: true, columns: 100 });
    expect(await main(['conformance', 'vectors', APPENDIX_C], tty.io)).toBe(0);
    expect(tty.stdout()).toContain(`${ESC}32mPASS`);
    expect(tty.stderr()).toContain('\r\x1b[2K[11] conformance/vectors/rfc8613-appendix-c.json c8-response-with-partial-iv');
    expect(tty.stderr().endsWith('\r\x1b[2K')).toBe(true);
    expect(Math.max(...tty.stdout().split('\n').map((l) => l.replace(/\x1b\[\d+m/g, '').length))).toBeLessThanOrEqual(100);

    const pipe = fakeIo();
    expect(await main(['conformance', 'vectors', APPENDIX_C], pipe.io)).toBe(0);
    expect(pipe.stdout()).not.toContain(ESC);
    expect(pipe.stderr()).toBe('');

    const noColor = fakeIo({ stdoutTTY: true, env: { NO_COLOR: '1' } });
    await main(['conformance', 'vectors', APPENDIX_C], noColor.io);
    expect(noColor.stdout()).not.toContain(ESC);
  });

  it('the real binary honours FORCE_COLOR on a pipe, and NO_COLOR', async () => {
    const forced = await runCli(['conformance', 'vectors', APPENDIX_C], { FORCE_COLOR: '1' });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`${ESC}32mPASS`);
    const plain = await runCli(['conformance', 'vectors', APPENDIX_C], { NO_COLOR: '1' });
    expect(plain.stdout).not.toContain(ESC);
    expect(plain.stderr).toBe('');
  });

  it('--json writes only JSON on stdout', async () => {
    const f = fakeIo({ stdoutTTY: true });
    expect(await main(['conformance', 'vectors', APPENDIX_C, '--json'], f.io)).toBe(0);
    const report = JSON.parse(f.stdout()) as { suite: string; backend: string; summary: { total: number; passed: number } };
    expect(report).toMatchObject({ suite: 'vectors', backend: 'node:crypto', summary: { total: 11, passed: 11 } });
  });
});
