/**
 * Hardening of the command line found in review, each run as the real built binary on
 * real files: a closed stdout (EPIPE), unbounded inputs, JSON errors that quoted a
 * Master Secret, context files that can only be read once (pipes, stdin), `--` and
 * `help <unknown>`, curl dumps starting with curl's "Note:" line, and keygen pairs for
 * every algorithm.
 */

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AEAD_ALGORITHMS, coapCode, protectRequest, protectResponse, verifyRequest, verifyResponse } from '@oscore-http/core';
import { loadContextFile } from '@oscore-http/http';
import type { Finding } from '../src/doctor/checks.js';
import { BIN, runCli } from './support/cli.js';
import { makeExchange, rawRequest, type Exchange } from './support/messages.js';

let dir: string;
const at = (name: string) => join(dir, name);
const write = (name: string, content: Uint8Array | string) => {
  writeFileSync(at(name), content);
  return at(name);
};
const cli = (args: string[], options: { input?: Uint8Array | string; env?: Record<string, string> } = {}) =>
  runCli(args, options.env ?? {}, { cwd: dir, ...(options.input === undefined ? {} : { input: options.input }) });

let secret: string;
let exchange: Exchange;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oscore-hardening-'));
  const run = await runCli(['keygen', '--server-name', 'orders', '--client-name', 'shop'], {}, { cwd: dir });
  expect(run.code, run.stderr).toBe(0);
  secret = (JSON.parse(readFileSync(at('orders.contexts.json'), 'utf8')) as { contexts: { masterSecret: { hex: string } }[] }).contexts[0]!.masterSecret.hex;
  exchange = await makeExchange(at('shop.contexts.json'), at('orders.contexts.json'), { method: 'GET', target: '/orders/1', headers: [], body: new Uint8Array(0) }, { status: 200, headers: [], body: Buffer.from('ok') });
  write('req.http', rawRequest(exchange.request.header, exchange.request.body));
  write('resp.bin', exchange.response.body);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the binary with its stdout already closed, as `oscore-http … | head` once head has exited. */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a closed stdout (EPIPE, as piped into head)', () => {
  it.each([[['--help']], [['conformance', 'http', '--list']], [['doctor', 'orders.contexts.json']]])('%j exits quietly with 141, no stack trace', async (args) => {
    const run = await runWithClosedStdout(args);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(141);
  });
});

describe('a stdout that cannot be written (> /dev/full)', () => {
  it.each([[['--version']], [['doctor', 'orders.contexts.json']], [['doctor', '--json', 'orders.contexts.json']]])('%j exits 74 with one line on stderr, no stack trace', async (args) => {
    const full = openSync('/dev/full', 'w');
    try {
      const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', full, 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(run.stderr).toBe('oscore-http: cannot write the output (ENOSPC); it is incomplete\n');
      expect(run.code).toBe(74);
    } finally {
      closeSync(full);
    }
  });
});

describe('inputs are read with a bound', () => {
  it('inspect stops reading an endless standard input and exits 3 without waiting for its end', async () => {
    const child = spawn(process.execPath, [BIN, 'inspect', '-'], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin!.on('error', () => {});
    const chunk = Buffer.alloc(1 << 20);
    let exited = false;
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => ((exited = true), resolve(code))));
    // Up to 256 MiB, four times the limit; the binary must give up long before.
    let written = 0;
    while (!exited && written < 256) {
      const ok = child.stdin!.write(chunk);
      written++;
      if (!ok) await new Promise((r) => (child.stdin!.once('drain', r), child.once('close', r)));
    }
    const closedBeforeExit = !exited;
    child.stdin!.end();
    expect(await done).toBe(3);
    expect(stderr).toMatch(/^oscore-http: stdin: more than 67108864 bytes; is this one HTTP message\?\n$/);
    expect(closedBeforeExit).toBe(false);
  }, 60_000);

  it('inspect and doctor on a device that never ends (/dev/zero): exit 3, promptly', async () => {
    const inspect = await cli(['inspect', '/dev/zero']);
    expect(inspect.code).toBe(3);
    expect(inspect.stderr).toMatch(/^oscore-http: \/dev\/zero: more than 67108864 bytes/);
    const doctor = await cli(['doctor', '/dev/zero']);
    expect(doctor.code).toBe(3);
    expect(doctor.stderr).toMatch(/^oscore-http: \/dev\/zero: more than \d+ bytes; is this a context file\?\n$/);
  }, 60_000);
});

describe('JSON errors never quote the file (it may be a Master Secret)', () => {
  // A smart quote pasted from a document, or single quotes: V8 quotes ten characters around it.
  const broken = () => readFileSync(at('orders.contexts.json'), 'utf8').replace(`"hex": "${secret}"`, `"hex": \u201c${secret}\u201d`);

  it('doctor: exit 3, the line and column, no excerpt', async () => {
    write('smart.json', broken());
    const run = await cli(['doctor', 'smart.json']);
    expect(run.code).toBe(3);
    expect(run.stderr).not.toContain(secret.slice(0, 6));
    expect(run.stderr).toMatch(/^oscore-http: smart\.json is not valid JSON: unexpected character '\u201c' at line 8, column 16\n$/);
  });

  it('inspect --context and conformance http --contexts: exit 3, no excerpt', async () => {
    write('smart.json', broken());
    const inspect = await cli(['inspect', '--context', 'smart.json', 'req.http']);
    expect(inspect.code).toBe(3);
    expect(inspect.stderr).not.toContain(secret.slice(0, 6));
    expect(inspect.stderr).toMatch(/smart\.json.* is not valid JSON: unexpected character '\u201c' at line 8, column 16/);
    const http = await cli(['conformance', 'http', '--target', 'http://127.0.0.1:1', '--contexts', 'smart.json']);
    expect(http.code).toBe(3);
    expect(http.stderr).toContain('is not valid JSON');
    expect(http.stderr).not.toContain(secret.slice(0, 6));
  });

  it('a secret-looking character is not shown either', async () => {
    write('bare.json', readFileSync(at('orders.contexts.json'), 'utf8').replace(`"hex": "${secret}"`, `"hex": x${secret}`));
    const run = await cli(['doctor', 'bare.json']);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe('oscore-http: bare.json is not valid JSON: unexpected character at line 8, column 16\n');
  });
});

describe('a context file that can be read only once: a pipe, process substitution, stdin', () => {
  it('doctor - reads standard input', async () => {
    const run = await cli(['doctor', '-'], { input: readFileSync(at('orders.contexts.json')) });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^OK stdin \(1 context\): 0 errors, 1 warning, 1 info$/m);
  });

  it('doctor and inspect --context read a FIFO once', async () => {
    // What `doctor <(vault read …)` gives: a path that yields its content one time.
    const fifo = (name: string) => {
      const path = at(name);
      rmSync(path, { force: true });
      execFileSync('mkfifo', [path]);
      return path;
    };
    const feed = (path: string) => {
      const writer = spawn('sh', ['-c', `cat "${at('orders.contexts.json')}" > "${path}"`]);
      return new Promise((r) => writer.on('close', r));
    };
    const p1 = fifo('ctx.fifo');
    const [doctor] = await Promise.all([cli(['doctor', 'ctx.fifo']), feed(p1)]);
    expect(doctor.stdout).not.toMatch(/^error/m);
    expect(doctor.code).toBe(0);
    const p2 = fifo('ctx2.fifo');
    const [inspect] = await Promise.all([cli(['inspect', '--context', 'ctx2.fifo', 'req.http']), feed(p2)]);
    expect(inspect.stderr).toBe('');
    expect(inspect.stdout).toContain('VERIFIED with contexts[0] "shop" of ctx2.fifo');
    expect(inspect.code).toBe(0);
  });

  it('inspect --context - reads the context file from standard input', async () => {
    const run = await cli(['inspect', '--context', '-', 'req.http'], { input: readFileSync(at('orders.contexts.json')) });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('VERIFIED with contexts[0] "shop" of stdin');
    expect(run.code).toBe(0);
    const twice = await cli(['inspect', '--context', '-', '-']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/only one input can be "-"/);
  });
});

describe('the command line', () => {
  it('"--" ends the options: "doctor -- --help" checks a file named --help', async () => {
    const run = await cli(['doctor', '--', '--help']);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('oscore-http: cannot read --help (ENOENT)\n');
    expect(run.code).toBe(3);
    const keygen = await cli(['keygen', '--', '--help']);
    expect(keygen.code).toBe(2);
    expect(keygen.stderr).toMatch(/keygen takes no arguments, only options \(got "--help"\)/);
  });

  it('"help <unknown>" is a usage error, as "<unknown>" is', async () => {
    const run = await cli(['help', 'nope']);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^oscore-http: unknown command "nope"; commands: keygen, doctor, inspect, conformance\n/);
    expect(run.code).toBe(2);
    const sub = await cli(['help', 'keygen']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/^Usage: oscore-http keygen/);
  });
});

describe('inspect: what operators paste', () => {
  it('a curl -v dump that starts with curl\'s "Note:" line (curl -v -X POST -d …)', async () => {
    const dump = [
      'Note: Unnecessary use of -X or --request, POST is already inferred.',
      '*   Trying 127.0.0.1:8080...',
      '> POST /oscore HTTP/1.1',
      '> Host: orders.internal:8080',
      '> Content-Type: application/oscore',
      `> OSCORE: ${exchange.request.header}`,
      '> ',
      '< HTTP/1.1 200 OK',
      '< Content-Type: application/oscore',
      `< OSCORE: ${exchange.response.header}`,
      '< ',
      '',
    ].join('\n');
    write('note.txt', dump);
    const run = await cli(['inspect', '--context', 'shop.contexts.json', '--body', 'resp.bin', 'note.txt']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^OSCORE response \(curl -v dump, note\.txt\)/);
    expect(run.stdout).toContain('VERIFIED');
    expect(run.code).toBe(0);
  });
});

describe('keygen: every algorithm gives a working pair', () => {
  it.each(AEAD_ALGORITHMS.map((a) => [a.name, a.id] as const))('%s (%i)', async (_name, id) => {
    const out = mkdtempSync(join(dir, 'alg-'));
    const run = await runCli(['keygen', '--alg', String(id)], {}, { cwd: out });
    expect(run.code, run.stderr).toBe(0);
    const client = loadContextFile(join(out, 'client.contexts.json'), { store: 'memory' }).contexts[0]!;
    const server = loadContextFile(join(out, 'server.contexts.json'), { store: 'memory' }).contexts[0]!;
    expect(client.aead.id).toBe(id);
    const request = await protectRequest(client, { code: coapCode(0, 1), options: [], payload: new Uint8Array([7]) });
    const received = await verifyRequest(server, request.option, request.payload);
    expect([...received.message.payload]).toEqual([7]);
    const response = await protectResponse(received.binding, { code: coapCode(2, 5), options: [], payload: new Uint8Array([8]) });
    expect([...(await verifyResponse(request.binding, response.option, response.payload)).message.payload]).toEqual([8]);
  });
});

describe('keygen: modes do not depend on the umask', () => {
  it.each([['022'], ['277']])('umask %s: --out-dir and its missing parents 0700, files 0600', async (umask) => {
    const out = mkdtempSync(join(dir, 'umask-'));
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, BIN, 'keygen', '--out-dir', 'a/b'], { cwd: out, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(run.code, run.stderr).toBe(0);
    for (const d of ['a', 'a/b']) expect(statSync(join(out, d)).mode & 0o777, d).toBe(0o700);
    for (const f of ['a/b/server.contexts.json', 'a/b/client.contexts.json']) expect(statSync(join(out, f)).mode & 0o777, f).toBe(0o600);
  });
});

describe('doctor: the checks no other test reached, each with its fix', () => {
  const S1 = 'f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddee11';
  const S2 = '0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddee22';
  const entry = (extra: Record<string, unknown>) => ({ masterSecret: { hex: S1 }, senderId: '01', recipientId: '02', ...extra });
  const doc = (contexts: unknown[]) => JSON.stringify({ format: 'oscore-http-contexts/1', contexts });
  it.each([
    ['alg.ccm-size', 'info', [entry({ aeadAlgorithm: 'AES-CCM-16-128-128' })], 'contexts[0].aeadAlgorithm', /A128GCM/],
    ['id.missing', 'error', [{ masterSecret: { hex: S1 }, senderId: '01' }], 'contexts[0].recipientId', /Recipient ID in hex/],
    ['kid-context.invalid', 'error', [entry({ sendKidContext: 'yes' })], 'contexts[0].sendKidContext', /true or false/],
    ['kid-context.without-id-context', 'error', [entry({ sendKidContext: true })], 'contexts[0].sendKidContext', /set idContext on both sides/],
    ['name.invalid', 'error', [entry({ name: '' })], 'contexts[0].name', /name the peer/],
    ['peer.invalid', 'error', [entry({ peer: 'not a url' })], 'contexts[0].peer', /scheme, host and port/],
    ['secret.missing', 'error', [{ name: 'shop', senderId: '01', recipientId: '02' }], 'contexts[0].masterSecret', /OSCORE_SHOP_SECRET/],
    ['secret.shared', 'warning', [entry({ name: 'a' }), entry({ name: 'b', senderId: '03', recipientId: '04' })], 'contexts[1].masterSecret', /its own Master Secret/],
    ['secret.shorter-than-key', 'warning', [entry({ aeadAlgorithm: 'A256GCM', masterSecret: { hex: S2.slice(0, 48) } })], 'contexts[0].masterSecret', /oscore-http keygen/],
    ['suffix.invalid', 'error', [entry({ recipientIdSuffix: 3 })], 'contexts[0].recipientIdSuffix', /use 1 for up to 256/],
    ['suffix.no-peer', 'error', [entry({ senderIdSuffix: 1 })], 'contexts[0].senderIdSuffix', /add "peer"/],
    ['usage-limits.invalid', 'error', [entry({ usageLimits: { q: -1 } })], 'contexts[0].usageLimits.q', /positive integer/],
  ] as const)('%s (%s)', async (check, level, contexts, path, fix) => {
    write('check.json', doc(contexts as unknown[]));
    const run = await cli(['doctor', '--json', 'check.json']);
    expect(run.code).toBe(level === 'error' ? 1 : 0);
    const findings = (JSON.parse(run.stdout) as { findings: Finding[] }).findings;
    const found = findings.find((f) => f.check === check);
    expect(found, JSON.stringify(findings, null, 1)).toMatchObject({ level, path });
    expect(found!.fix).toMatch(fix);
    expect(run.stdout).not.toContain(S1);
    expect(run.stdout).not.toContain(S2.slice(0, 48));
  });

  it('a file it cannot read (a directory): exit 3, not "problems found"', async () => {
    const directory = await cli(['doctor', '.']);
    expect(directory.code).toBe(3);
    expect(directory.stderr).toBe('oscore-http: cannot read . (EISDIR)\n');
  });
});
