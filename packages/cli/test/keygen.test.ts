/**
 * `oscore-http keygen`, run as the real built binary in temporary directories: the pair
 * it writes loads as context files and works (a request protected with one file verifies
 * with the other, and its response back), files are 0600, nothing is ever overwritten or
 * half-written, and wrong options are usage errors that write nothing.
 */

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coapCode, protectRequest, protectResponse, toHex, verifyRequest, verifyResponse } from '@oscore-http/core';
import { loadContextFile } from '@oscore-http/http';
import { runCli } from './support/cli.js';

let root: string;
let n = 0;
/** A fresh, empty directory for one test. */
const freshDir = () => mkdtempSync(join(root, `t${n++}-`));

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'oscore-keygen-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

interface ContextEntry {
  name?: string;
  peer?: string;
  aeadAlgorithm: string;
  masterSecret: { hex: string };
  masterSalt: { hex: string };
  senderId: string;
  recipientId: string;
  idContext?: string;
}

function readPair(file: string): ContextEntry {
  const data = JSON.parse(readFileSync(file, 'utf8')) as { format: string; contexts: ContextEntry[] };
  expect(data.format).toBe('oscore-http-contexts/1');
  expect(data.contexts).toHaveLength(1);
  return data.contexts[0]!;
}

/** A GET protected with the client's file verifies with the server's, and the response back. */
async function expectWorkingPair(clientFile: string, serverFile: string): Promise<void> {
  const client = loadContextFile(clientFile, { store: 'memory' }).contexts[0]!;
  const server = loadContextFile(serverFile, { store: 'memory' }).contexts[0]!;
  const request = await protectRequest(client, { code: coapCode(0, 1), options: [], payload: new Uint8Array([1, 2, 3]) });
  const received = await verifyRequest(server, request.option, request.payload);
  expect([...received.message.payload]).toEqual([1, 2, 3]);
  const response = await protectResponse(received.binding, { code: coapCode(2, 5), options: [], payload: new Uint8Array([4]) });
  expect([...(await verifyResponse(request.binding, response.option, response.payload)).message.payload]).toEqual([4]);
}

describe('oscore-http keygen', () => {
  it('writes a working pair with the defaults: 0600, mirrored IDs, 32-byte secret, 8-byte salt; says so on stderr only', async () => {
    const dir = freshDir();
    const run = await runCli(['keygen'], {}, { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(readdirSync(dir).sort()).toEqual(['client.contexts.json', 'server.contexts.json']);
    const serverFile = join(dir, 'server.contexts.json');
    const clientFile = join(dir, 'client.contexts.json');
    for (const file of [serverFile, clientFile]) expect(statSync(file).mode & 0o777).toBe(0o600);

    const server = readPair(serverFile);
    const client = readPair(clientFile);
    expect(server).toMatchObject({ name: 'client', aeadAlgorithm: 'AES-CCM-16-64-128', senderId: '01', recipientId: '02' });
    expect(client).toMatchObject({ name: 'server', aeadAlgorithm: 'AES-CCM-16-64-128', senderId: '02', recipientId: '01' });
    expect(client.peer).toBeUndefined();
    expect(server.masterSecret.hex).toMatch(/^[0-9a-f]{64}$/);
    expect(server.masterSalt.hex).toMatch(/^[0-9a-f]{16}$/);
    expect(client.masterSecret).toEqual(server.masterSecret);
    expect(client.masterSalt).toEqual(server.masterSalt);
    await expectWorkingPair(clientFile, serverFile);

    // One line per file, then the hint; never the secret.
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('wrote server.contexts.json (mode 0600): the server\'s context "client", Sender ID 01, Recipient ID 02, AES-CCM-16-64-128');
    expect(lines[1]).toBe('wrote client.contexts.json (mode 0600): the client\'s context "server", Sender ID 02, Recipient ID 01, AES-CCM-16-64-128, no peer (add "peer": the server\'s origin)');
    expect(lines[2]).toMatch(/^The Master Secret is inline in both files\. To deploy, move it .*"masterSecret": \{ "env": "OSCORE_CLIENT_SECRET" \}.*\{ "file": .*docs\/context-file\.md/);
    expect(run.stderr).not.toContain(server.masterSecret.hex);
    expect(run.stderr).not.toContain(server.masterSalt.hex);
  });

  it('takes names, IDs, an algorithm by COSE number, an ID Context and the peer; creates --out-dir', async () => {
    const dir = freshDir();
    const run = await runCli(
      ['keygen', '--peer', 'HTTP://Orders.Internal:8080/', '--server-name', 'orders', '--client-name', 'shop', '--server-id', 'A1', '--client-id', '', '--alg', '3', '--id-context', '5C1D', '--out-dir', 'secrets/prod'],
      {},
      { cwd: dir },
    );
    expect(run.stderr).toContain('wrote secrets/prod/orders.contexts.json (mode 0600): the server\'s context "shop", Sender ID a1, Recipient ID (empty), A256GCM, ID Context 5c1d');
    expect(run.stderr).toContain('wrote secrets/prod/shop.contexts.json (mode 0600): the client\'s context "orders", Sender ID (empty), Recipient ID a1, A256GCM, ID Context 5c1d, peer http://orders.internal:8080');
    expect(run.code).toBe(0);
    const serverFile = join(dir, 'secrets/prod/orders.contexts.json');
    const clientFile = join(dir, 'secrets/prod/shop.contexts.json');
    expect(readPair(serverFile)).toMatchObject({ name: 'shop', aeadAlgorithm: 'A256GCM', senderId: 'a1', recipientId: '', idContext: '5c1d' });
    expect(readPair(clientFile)).toMatchObject({ name: 'orders', peer: 'http://orders.internal:8080', aeadAlgorithm: 'A256GCM', senderId: '', recipientId: 'a1', idContext: '5c1d' });
    expect(statSync(join(dir, 'secrets/prod')).mode & 0o777).toBe(0o700);
    await expectWorkingPair(clientFile, serverFile);
    // The client finds its context by the peer's origin, and sends the ID Context as kid context.
    const set = loadContextFile(clientFile, { store: 'memory' });
    const ctx = set.forOrigin('http://orders.internal:8080')!;
    expect(ctx.sendKidContext).toBe(true);
    expect(toHex(ctx.idContext!)).toBe('5c1d');

    // Algorithm names are accepted in any case.
    const named = await runCli(['keygen', '--alg', 'chacha20/poly1305'], {}, { cwd: freshDir() });
    expect(named.code).toBe(0);
    expect(named.stderr).toContain('ChaCha20/Poly1305');
  });

  it('--exp writes the expiration time into both files; one that has passed or is not a date-time with offset is a usage error', async () => {
    const dir = freshDir();
    const run = await runCli(['keygen', '--exp', '2099-01-01T00:00:00Z'], {}, { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(', expires 2099-01-01T00:00:00Z');
    for (const side of ['server', 'client']) {
      const file = join(dir, `${side}.contexts.json`);
      expect(readPair(file)).toMatchObject({ exp: '2099-01-01T00:00:00Z' });
      expect(loadContextFile(file, { store: 'memory' }).contexts[0]!.exp).toBe(4_070_908_800); // 2099-01-01T00:00:00Z
    }
    for (const [exp, message] of [
      ['2020-01-01T00:00:00Z', /--exp 2020-01-01T00:00:00Z has passed/],
      ['2099-01-01', /exp: must be a date-time with its offset/],
    ] as const) {
      const empty = freshDir();
      const refused = await runCli(['keygen', '--exp', exp], {}, { cwd: empty });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(message);
      expect(readdirSync(empty)).toEqual([]);
    }
  });

  it('draws a new secret and salt every time', async () => {
    const a = freshDir();
    const b = freshDir();
    expect((await runCli(['keygen'], {}, { cwd: a })).code).toBe(0);
    expect((await runCli(['keygen'], {}, { cwd: b })).code).toBe(0);
    const sa = readPair(join(a, 'server.contexts.json'));
    const sb = readPair(join(b, 'server.contexts.json'));
    expect(sa.masterSecret.hex).not.toBe(sb.masterSecret.hex);
    expect(sa.masterSalt.hex).not.toBe(sb.masterSalt.hex);
  });

  it('refuses to overwrite: exit 3, names the file, writes neither file, leaves the existing one unchanged', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'shop.contexts.json'), 'precious');
    const run = await runCli(['keygen', '--server-name', 'orders', '--client-name', 'shop'], {}, { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stderr).toBe('oscore-http: shop.contexts.json already exists; keygen never overwrites a context file (remove it, or choose another --out-dir or names)\n');
    expect(run.stdout).toBe('');
    expect(readdirSync(dir)).toEqual(['shop.contexts.json']);
    expect(readFileSync(join(dir, 'shop.contexts.json'), 'utf8')).toBe('precious');

    // A second run over a complete pair names both.
    const again = freshDir();
    expect((await runCli(['keygen'], {}, { cwd: again })).code).toBe(0);
    const before = readFileSync(join(again, 'server.contexts.json'), 'utf8');
    const second = await runCli(['keygen'], {}, { cwd: again });
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/server\.contexts\.json and client\.contexts\.json already exist; keygen never overwrites/);
    expect(readFileSync(join(again, 'server.contexts.json'), 'utf8')).toBe(before);
  });

  it('leaves nothing behind when the second file cannot be written (exit 3)', async () => {
    const dir = freshDir();
    const run = await runCli(['keygen', '--server-file', 'orders.json', '--client-file', 'missing-dir/shop.json'], {}, { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^oscore-http: cannot write .*missing-dir\/shop\.json \(ENOENT\); nothing was written\n$/);
    expect(existsSync(join(dir, 'orders.json'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    [['--alg', 'AES-GCM-9'], /--alg: unknown AEAD algorithm "AES-GCM-9"; use one of AES-CCM-16-64-128 \(10\), .*ChaCha20\/Poly1305 \(24\)/],
    [['--alg', '12'], /--alg: unknown AEAD algorithm "12"/],
    [['--server-id', 'zz'], /--server-id must be hex \(an even number of 0-9a-f digits\), not "zz"/],
    [['--client-id', '123'], /--client-id must be hex/],
    [['--server-id', '02'], /--server-id and --client-id are both "02"; the two sides need distinct Sender IDs/],
    [['--alg', 'A128GCM', '--client-id', '01020304050607'], /--client-id is 7 bytes but A128GCM allows at most 6 \(nonce length − 6, RFC 8613 §3\.3\)/],
    [['--id-context', 'x1'], /--id-context must be hex/],
    [['--peer', 'http://orders.internal:8080/api'], /--peer must be an origin like http:\/\/orders\.internal:8080 \(scheme, host, port; no path\), not "http:\/\/orders\.internal:8080\/api"/],
    [['--peer', 'orders.internal'], /--peer must be an origin/],
    [['--peer', 'ftp://orders.internal'], /--peer must be an origin/],
    [['--server-name', 'a', '--client-name', 'a'], /both files would be .*a\.contexts\.json; give the two sides different names/],
    [['--server-name', '../etc/x'], /--server-name must be letters, digits, "\.", "_" or "-" \(it names a file\)/],
    [['--id-context', 'ab'.repeat(250)], /these options give an invalid server context: .*do not fit the 255-byte OSCORE option/],
    [['extra'], /keygen takes no arguments, only options \(got "extra"\)/],
    [['--force'], /Unknown option '--force'/],
  ])('usage error %j: exit 2, nothing written', async (args, message) => {
    const dir = freshDir();
    const run = await runCli(['keygen', ...args], {}, { cwd: dir });
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/Run "oscore-http keygen --help" for usage\.\n$/);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--help prints the usage on stdout', async () => {
    const run = await runCli(['keygen', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: oscore-http keygen \[options\]\n/);
    for (const option of ['--peer', '--server-name', '--client-name', '--server-id', '--client-id', '--alg', '--id-context', '--out-dir', '--server-file', '--client-file']) {
      expect(run.stdout).toContain(`  ${option} `);
    }
    expect(run.stdout).toContain('Exit codes: 0 both files written, 2 usage error, 3 a file exists or cannot be written.');
    expect(run.stderr).toBe('');
  });
});
