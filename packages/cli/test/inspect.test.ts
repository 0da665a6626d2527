/**
 * `oscore-http inspect`, run as the real built binary on real files: context files made
 * by `oscore-http keygen`, messages protected by the project's libraries and captured on
 * a real TCP connection, as raw HTTP (CRLF and LF), `curl -v` dumps, standard input and
 * `--header`. It decodes without keys; with either side's context file it verifies
 * requests and, against their requests, responses; and it fails with the documented
 * exit codes and messages on everything else.
 */

import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protectRequest, verifyResponse } from '@oscore-http/core';
import { createOscoreHandler, decodeOscoreHeader, decodeResponse, encodeOscoreHeader, encodeRequest, loadContextFile } from '@oscore-http/http';
import { runCli } from './support/cli.js';
import { curlDump, makeExchange, rawHttp, rawRequest, rawResponse, type Exchange } from './support/messages.js';

let dir: string;
const at = (name: string) => join(dir, name);
const write = (name: string, content: Uint8Array | string) => {
  writeFileSync(at(name), content);
  return at(name);
};
/** Runs the binary in the test directory, so paths in messages are as short as a user's. */
const inspect = (args: string[], options: { input?: Uint8Array | string; env?: Record<string, string> } = {}) =>
  runCli(['inspect', ...args], options.env ?? {}, { cwd: dir, ...(options.input === undefined ? {} : { input: options.input }) });

let exchange: Exchange;
/** Every secret of every context file made here: no output may contain one. */
const secrets: string[] = [];
const outputs: string[] = [];
const keep = <T extends { stdout: string; stderr: string }>(run: T): T => {
  outputs.push(run.stdout, run.stderr);
  return run;
};

async function keygen(args: string[]): Promise<void> {
  const run = await runCli(['keygen', ...args], {}, { cwd: dir });
  expect(run.code, run.stderr).toBe(0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oscore-inspect-'));
  await keygen(['--server-name', 'orders', '--client-name', 'shop', '--peer', 'http://orders.internal:8080']);
  // The same IDs under another secret, and a pair with other IDs.
  await keygen(['--server-name', 'orders-other', '--client-name', 'shop-other']);
  await keygen(['--server-name', 'billing', '--client-name', 'shop-billing', '--server-id', '05', '--client-id', '06']);
  for (const f of ['orders', 'shop', 'orders-other', 'billing']) secrets.push((JSON.parse(readFileSync(at(`${f}.contexts.json`), 'utf8')) as { contexts: { masterSecret: { hex: string } }[] }).contexts[0]!.masterSecret.hex);

  exchange = await makeExchange(
    at('shop.contexts.json'),
    at('orders.contexts.json'),
    { method: 'PUT', target: '/orders/42?verbose=1', headers: [['content-type', 'application/json'], ['x-request-id', 'r1']], body: Buffer.from('{"item":"book"}') },
    { status: 201, headers: [['content-type', 'application/json'], ['location', '/orders/43']], body: Buffer.from('{"id":43}') },
    20,
  );
  write('req.http', rawRequest(exchange.request.header, exchange.request.body));
  write('resp.http', rawResponse(exchange.response.header, exchange.response.body));
  write('req-lf.http', rawRequest(exchange.request.header, exchange.request.body, '\n'));
  write('resp-lf.http', rawResponse(exchange.response.header, exchange.response.body, '\n'));
  write('req.bin', exchange.request.body);
  write('resp.bin', exchange.response.body);
  write('curl.txt', curlDump(exchange));
});

afterAll(() => {
  // No output of any run contained key material.
  for (const secret of secrets) for (const out of outputs) expect(out).not.toContain(secret);
  rmSync(dir, { recursive: true, force: true });
});

describe('decoding without keys', () => {
  it('shows the outer request, the OSCORE option field by field, and the body size (exit 0)', async () => {
    const run = keep(await inspect(['req.http']));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const header = exchange.request.header;
    expect(run.stdout).toBe(
      [
        'OSCORE request (raw HTTP, req.http)',
        'POST /oscore HTTP/1.1',
        'Host: orders.internal:8080',
        'Content-Type: application/oscore',
        `OSCORE: ${header}`,
        `Content-Length: ${exchange.request.body.length}`,
        '',
        'OSCORE option 09 14 02 (3 bytes)',
        '  flags        0x09: n=1 (Partial IV length), k=1 (kid present), h=0 (kid context absent), reserved=0',
        '  Partial IV   14 (sequence number 20)',
        '  kid          02',
        '  kid context  (absent)',
        `Body ${exchange.request.body.length} bytes (ciphertext and tag; the tag length depends on the algorithm)`,
        '',
      ].join('\n'),
    );
  });

  it('shows a response: the empty option, and that it uses the request nonce', async () => {
    const run = keep(await inspect(['resp.http']));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('OSCORE response (raw HTTP, resp.http)\nHTTP/1.1 200 OK\n');
    expect(run.stdout).toContain('OSCORE option (empty)\n  flags        none (the empty value: no Partial IV, no kid, no kid context)\n');
    expect(run.stdout).toContain("  Partial IV   (absent: the response uses the request's nonce)\n");
  });

  it('--json: the same fields as one document', async () => {
    const run = keep(await inspect(['req.http', '--json']));
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({
      format: 'oscore-http-inspect/1',
      kind: 'request',
      input: { file: 'req.http', form: 'raw' },
      outer: { startLine: 'POST /oscore HTTP/1.1', method: 'POST', target: '/oscore', status: null },
      oscore: { header: exchange.request.header, option: '091402', optionLength: 3, flags: { byte: 9, n: 1, k: 1, h: 0, reserved: 0 }, partialIV: '14', sequenceNumber: 20, kid: '02', kidContext: null },
      body: { size: exchange.request.body.length, ciphertextSize: null, tagLength: null, algorithm: null },
      verification: null,
      inner: null,
      warnings: [],
    });
  });

  it('reads standard input with "-"', async () => {
    const run = keep(await inspect(['-'], { input: readFileSync(at('req.http')) }));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^OSCORE request \(raw HTTP, stdin\)\n/);
    expect(run.stdout).toContain('  Partial IV   14 (sequence number 20)');
  });

  it('--header and --body: the header value alone (a kid makes it a request, else --as response)', async () => {
    const request = keep(await inspect(['--header', exchange.request.header, '--body', 'req.bin']));
    expect(request.code).toBe(0);
    expect(request.stdout).toMatch(/^OSCORE request \(OSCORE header field, --header\)\nOSCORE: /);
    expect(request.stdout).toContain('  kid          02\n');
    const response = keep(await inspect(['--header', 'AA', '--body', 'resp.bin']));
    expect(response.stdout).toMatch(/^OSCORE response /);
    expect(response.code).toBe(0);
  });
});

describe('verifying with --context', () => {
  const innerRequest = [
    'Inner request (CoAP 0.03; options Uri-Path, Uri-Path, Content-Format, Uri-Query, HTTP-Field)',
    'PUT /orders/42?verbose=1',
    'x-request-id: r1',
    'content-type: application/json',
    '',
    '{"item":"book"}',
    '',
  ].join('\n');
  // Location travels as Location-Path options (RFC 7252 §5.10.7) and is rebuilt after the mapped Content-Type.
  const innerResponse = ['Inner response (CoAP 2.01; options Location-Path, Location-Path, Content-Format)', '201 Created', 'content-type: application/json', 'location: /orders/43', '', '{"id":43}', ''].join('\n');

  it("decrypts a request with the server's file (its Recipient ID is the kid)", async () => {
    const run = keep(await inspect(['--context', 'orders.contexts.json', 'req.http']));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Body ${exchange.request.body.length} bytes: ${exchange.request.body.length - 8} bytes of ciphertext + 8-byte tag (AES-CCM-16-64-128)\n`);
    expect(run.stdout).toContain('\nVERIFIED with contexts[0] "shop" of orders.contexts.json (as configured: Recipient ID 02 = kid)\n\n');
    expect(run.stdout.endsWith(innerRequest)).toBe(true);
  });

  it('decrypts with a context that has since expired: inspecting is not using it (the exp of key-limits §2.2.1 binds endpoints)', async () => {
    const file = JSON.parse(readFileSync(at('orders.contexts.json'), 'utf8')) as { contexts: Record<string, unknown>[] };
    file.contexts[0]!.exp = '2020-01-01T00:00:00Z';
    write('orders-expired.contexts.json', JSON.stringify(file));
    const run = keep(await inspect(['--context', 'orders-expired.contexts.json', 'req.http']));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('VERIFIED with contexts[0] "shop" of orders-expired.contexts.json');
    expect(run.stdout.endsWith(innerRequest)).toBe(true);
  });

  it("decrypts a request with the client's file too, mirrored", async () => {
    const run = keep(await inspect(['--context', 'shop.contexts.json', 'req.http']));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('VERIFIED with contexts[0] "orders" of shop.contexts.json (mirrored: a client\'s context, its Sender ID 02 = kid)');
    expect(run.stdout.endsWith(innerRequest)).toBe(true);
  });

  it("decrypts a response against its request, with the client's file or the server's (mirrored)", async () => {
    const client = keep(await inspect(['--context', 'shop.contexts.json', '--request', 'req.http', 'resp.http']));
    expect(client.code).toBe(0);
    expect(client.stdout).toContain('Answers the request with kid 02, Partial IV 14 (sequence number 20) (req.http)\n');
    expect(client.stdout).toContain('VERIFIED with contexts[0] "orders" of shop.contexts.json (as configured: Sender ID 02 = the request\'s kid)');
    expect(client.stdout.endsWith(innerResponse)).toBe(true);
    const server = keep(await inspect(['--context', 'orders.contexts.json', '--request', 'req.http', 'resp.http']));
    expect(server.code).toBe(0);
    expect(server.stdout).toContain('(mirrored: a server\'s context, its Recipient ID 02 = the request\'s kid)');
    expect(server.stdout.endsWith(innerResponse)).toBe(true);
  });

  it('reads LF line endings as well as CRLF', async () => {
    const request = keep(await inspect(['--context', 'orders.contexts.json', 'req-lf.http']));
    expect(request.code).toBe(0);
    expect(request.stdout.endsWith(innerRequest)).toBe(true);
    const response = keep(await inspect(['--context', 'shop.contexts.json', '--request', 'req-lf.http', 'resp-lf.http']));
    expect(response.code).toBe(0);
    expect(response.stdout.endsWith(innerResponse)).toBe(true);
  });

  it('reads a curl -v dump: the response, bound to the request in the same dump; --as request for the request', async () => {
    const response = keep(await inspect(['--context', 'shop.contexts.json', '--body', 'resp.bin', 'curl.txt']));
    expect(response.stderr).toBe('');
    expect(response.code).toBe(0);
    expect(response.stdout).toMatch(/^OSCORE response \(curl -v dump, curl\.txt\)\nHTTP\/1\.1 200 OK\ncontent-type: application\/oscore\n/);
    expect(response.stdout).toContain('Answers the request with kid 02, Partial IV 14 (sequence number 20) (curl.txt, its request)');
    expect(response.stdout.endsWith(innerResponse)).toBe(true);
    const request = keep(await inspect(['--context', 'orders.contexts.json', '--as', 'request', '--body', 'req.bin', 'curl.txt']));
    expect(request.code).toBe(0);
    expect(request.stdout.endsWith(innerRequest)).toBe(true);
    // Without --body it decodes the header and says what is missing.
    const headerOnly = keep(await inspect(['curl.txt']));
    expect(headerOnly.code).toBe(0);
    expect(headerOnly.stderr).toBe('oscore-http: warning: curl.txt: a curl -v dump does not hold the body; give it with --body <file> for its size\noscore-http: warning: the body is empty, but an OSCORE message always carries the ciphertext (RFC 8613 §2)\n');
  });

  it('decodes a chunked body', async () => {
    const body = exchange.response.body;
    const chunked = rawHttp(
      'HTTP/1.1 200 OK',
      [['Content-Type', 'application/oscore'], ['OSCORE', exchange.response.header], ['Transfer-Encoding', 'chunked']],
      Buffer.concat([Buffer.from(`5\r\n`), body.subarray(0, 5), Buffer.from(`\r\n${(body.length - 5).toString(16)}\r\n`), body.subarray(5), Buffer.from('\r\n0\r\n\r\n')]),
    );
    write('resp-chunked.http', chunked);
    const run = keep(await inspect(['--context', 'shop.contexts.json', '--request', 'req.http', 'resp-chunked.http']));
    expect(run.code).toBe(0);
    expect(run.stdout.endsWith(innerResponse)).toBe(true);
  });

  it('--json with --context: the verification and the inner message', async () => {
    const run = keep(await inspect(['--json', '--context', 'orders.contexts.json', '--request', 'req.http', 'resp.http']));
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      kind: 'response',
      body: { size: exchange.response.body.length, ciphertextSize: exchange.response.body.length - 8, tagLength: 8, algorithm: 'AES-CCM-16-64-128' },
      request: { file: 'req.http', kid: '02', kidContext: null, partialIV: '14', sequenceNumber: 20 },
      verification: { contexts: 'orders.contexts.json', verified: true, context: { index: 0, name: 'shop', view: 'mirrored' }, problem: null },
      inner: { status: 201, reason: 'Created', headers: [['content-type', 'application/json'], ['location', '/orders/43']], body: { size: 9, text: '{"id":43}' }, coap: { code: '2.01' }, error: null },
    });
  });

  it('a pair with an ID Context and A128GCM: kid context shown and matched, 16-byte tag', async () => {
    await keygen(['--server-name', 'gcm-server', '--client-name', 'gcm-client', '--alg', 'A128GCM', '--id-context', '5c1d', '--client-id', 'c1']);
    const x = await makeExchange(at('gcm-client.contexts.json'), at('gcm-server.contexts.json'), { method: 'DELETE', target: '/carts/7', headers: [], body: new Uint8Array(0) }, { status: 204, headers: [], body: new Uint8Array(0) });
    write('gcm.request.http', rawRequest(x.request.header, x.request.body));
    write('gcm.response.http', rawResponse(x.response.header, x.response.body));
    const run = keep(await inspect(['--context', 'gcm-server.contexts.json', 'gcm.request.http']));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('  flags        0x19: n=1 (Partial IV length), k=1 (kid present), h=1 (kid context present), reserved=0\n');
    expect(run.stdout).toContain('  kid          c1\n  kid context  5c1d\n');
    expect(run.stdout).toContain(`Body ${x.request.body.length} bytes: ${x.request.body.length - 16} bytes of ciphertext + 16-byte tag (A128GCM)\n`);
    expect(run.stdout).toContain('\nDELETE /carts/7\n\n(no body)\n');
    const response = keep(await inspect(['--context', 'gcm-client.contexts.json', '--request', 'gcm.request.http', 'gcm.response.http']));
    expect(response.code).toBe(0);
    expect(response.stdout).toContain('Answers the request with kid c1, kid context 5c1d, Partial IV 00 (sequence number 0)');
    expect(response.stdout).toContain('\n204 No Content\n');
    // A file without that ID Context has no context for it.
    const other = keep(await inspect(['--context', 'orders.contexts.json', 'gcm.request.http']));
    expect(other.code).toBe(1);
    expect(other.stdout).toContain('NOT VERIFIED: no context in orders.contexts.json has Recipient ID c1 and ID Context 5c1d (a server\'s file) or Sender ID c1 and ID Context 5c1d (a client\'s file)\n');
  });

  it('a message that decrypts to something HTTP cannot carry: shown as CoAP, exit 1', async () => {
    const client = loadContextFile(at('shop.contexts.json'), { store: 'memory' }).contexts[0]!;
    // An unknown critical option (odd number): a server must refuse the request (RFC 7252 §5.4.1).
    const sent = await protectRequest(client, { code: 1, options: [{ number: 65005, value: Uint8Array.of(1) }], payload: new Uint8Array(0) });
    write('critical.http', rawRequest(encodeOscoreHeader(sent.option), sent.payload));
    const run = keep(await inspect(['--context', 'orders.contexts.json', 'critical.http']));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('VERIFIED with contexts[0] "shop"');
    expect(run.stdout).toContain('Inner request (CoAP 0.01; options option 65005)\nnot an HTTP message: ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE: ');
  });

  it('never touches a state directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'oscore-inspect-cwd-'));
    const stateDir = join(cwd, 'state');
    const run = keep(await runCli(['inspect', '--context', at('orders.contexts.json'), at('req.http')], { OSCORE_STATE_DIR: stateDir }, { cwd }));
    expect(run.code).toBe(0);
    expect(existsSync(stateDir)).toBe(false);
    expect(existsSync(join(cwd, '.oscore-state'))).toBe(false);
    rmSync(cwd, { recursive: true, force: true });
    // The same request verifies again: no replay window moved.
    expect((await inspect(['--context', 'orders.contexts.json', 'req.http'])).code).toBe(0);
  });
});

describe('what does not verify exits 1, with the decode still shown', () => {
  it('a body altered in transit', async () => {
    const body = Buffer.from(exchange.request.body);
    body[3]! ^= 0x01;
    write('tampered.http', rawRequest(exchange.request.header, body));
    const run = keep(await inspect(['--context', 'orders.contexts.json', 'tampered.http']));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('  Partial IV   14 (sequence number 20)');
    expect(run.stdout).toContain('NOT VERIFIED: the message does not verify with the contexts in orders.contexts.json\n');
    expect(run.stdout).toContain('  contexts[0] "shop" (as configured: Recipient ID 02 = kid): ERR_OSCORE_DECRYPTION_FAILED: The OSCORE message failed to decrypt');
    expect(run.stdout).not.toContain('Inner request');
  });

  it('the right IDs under another secret', async () => {
    const run = keep(await inspect(['--context', 'orders-other.contexts.json', 'req.http']));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('contexts[0] "shop-other" (as configured: Recipient ID 02 = kid): ERR_OSCORE_DECRYPTION_FAILED');
    const json = JSON.parse(keep(await inspect(['--json', '--context', 'orders-other.contexts.json', 'req.http'])).stdout) as { verification: unknown; inner: unknown };
    expect(json.verification).toMatchObject({ verified: false, context: null, attempts: [{ index: 0, view: 'configured', error: { code: 'ERR_OSCORE_DECRYPTION_FAILED' } }] });
    expect(json.inner).toBeNull();
  });

  it('no context for the kid', async () => {
    const run = keep(await inspect(['--context', 'billing.contexts.json', 'req.http']));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("NOT VERIFIED: no context in billing.contexts.json has Recipient ID 02 (a server's file) or Sender ID 02 (a client's file)\n");
  });

  it('a response checked against another request', async () => {
    const other = await makeExchange(at('shop.contexts.json'), at('orders.contexts.json'), { method: 'GET', target: '/', headers: [], body: new Uint8Array(0) }, { status: 204, headers: [], body: new Uint8Array(0) }, 21);
    write('req-21.http', rawRequest(other.request.header, other.request.body));
    const run = keep(await inspect(['--context', 'shop.contexts.json', '--request', 'req-21.http', 'resp.http']));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Answers the request with kid 02, Partial IV 15 (sequence number 21)');
    expect(run.stdout).toContain('ERR_OSCORE_DECRYPTION_FAILED');
  });

  it('a body shorter than the tag: the decode says so, and it does not verify', async () => {
    const short = exchange.request.body.subarray(0, 5);
    write('short.http', rawRequest(exchange.request.header, short));
    const run = keep(await inspect(['--context', 'orders.contexts.json', 'short.http']));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Body 5 bytes: shorter than the 8-byte tag of AES-CCM-16-64-128 (truncated)\n');
    expect(run.stdout).toContain('ERR_OSCORE_DECRYPTION_FAILED');
    const decoded = keep(await inspect(['short.http']));
    expect(decoded.code).toBe(0);
    expect(decoded.stdout).toContain('Body 5 bytes (shorter than any AEAD tag: truncated)\n');
  });

  it('a capture cut short of its Content-Length: a warning, and no verification', async () => {
    const full = rawRequest(exchange.request.header, exchange.request.body);
    write('cut.http', full.subarray(0, full.length - 10));
    const run = keep(await inspect(['--context', 'orders.contexts.json', 'cut.http']));
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`oscore-http: warning: cut.http: the body is ${exchange.request.body.length - 10} bytes but Content-Length says ${exchange.request.body.length}: the capture is truncated\n`);
  });
});

describe('unusable input exits 3 and says what is wrong', () => {
  it.each([
    ['a missing file', ['nowhere.http'], /^oscore-http: cannot read the message file nowhere\.http \(ENOENT\)\n$/],
    ['a missing --request file', ['--request', 'nowhere.http', 'resp.http'], /^oscore-http: cannot read the request file nowhere\.http \(ENOENT\)\n$/],
    ['a missing context file', ['--context', 'nowhere.json', 'req.http'], /^oscore-http: cannot read the context file nowhere\.json \(ENOENT\)\n$/],
  ])('%s', async (_name, args, message) => {
    const run = keep(await inspect(args));
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
  });

  it.each([
    ['not HTTP', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), /^oscore-http: in\.http: line 1 is neither a request line \("POST \/oscore HTTP\/1\.1"\) nor a status line \("HTTP\/1\.1 200 OK"\): /],
    ['a broken header line', Buffer.from('POST /oscore HTTP/1.1\r\nHost orders\r\n\r\n'), /^oscore-http: in\.http: line 2 is not a header field \("Name: value"\): "Host orders"\n$/],
    ['an empty file', Buffer.from(''), /^oscore-http: in\.http: is empty\n$/],
    ['a plain request', rawHttp('GET /orders/42 HTTP/1.1', [['Host', 'orders']], new Uint8Array(0)), /^oscore-http: in\.http: not an OSCORE message \(RFC 8613 §11\.1\): no OSCORE header field, no Content-Type \(application\/oscore\)\n$/],
    ['the wrong Content-Type', rawHttp('POST /oscore HTTP/1.1', [['Content-Type', 'text/plain'], ['OSCORE', 'CRQC']], new Uint8Array(9)), /not an OSCORE message \(RFC 8613 §11\.1\): Content-Type is text\/plain, not application\/oscore\n$/],
    ['an unprotected error response', rawHttp('HTTP/1.1 401 Unauthorized', [['Content-Type', 'text/plain']], Buffer.from('Replay detected')), /not an OSCORE message \(RFC 8613 §11\.1\): no OSCORE header field, Content-Type is text\/plain, not application\/oscore; an unprotected 401 Unauthorized response \(its body says "Replay detected"\)\n$/],
    ['a padded OSCORE header', rawRequest('CRQC==', new Uint8Array(20)), /^oscore-http: in\.http: malformed OSCORE header field: ERR_OSCORE_HTTP_MALFORMED_HEADER: The OSCORE header field is malformed \(it is not unpadded base64url\)/],
    ['two OSCORE header fields', rawHttp('POST /oscore HTTP/1.1', [['Content-Type', 'application/oscore'], ['OSCORE', 'CRQC'], ['OSCORE', 'CRQC']], new Uint8Array(20)), /ERR_OSCORE_HTTP_MALFORMED_HEADER: The OSCORE header field is malformed \(it appears more than once\)/],
    ['a reserved flag bit', rawRequest(encodeOscoreHeader(Uint8Array.of(0xe9, 0x14)), new Uint8Array(20)), /^oscore-http: in\.http: malformed OSCORE option \(value e914, 2 bytes\): ERR_OSCORE_MALFORMED_OPTION: The OSCORE option value is malformed \(a reserved flag bit is set\)/],
    ['a truncated Partial IV', rawRequest(encodeOscoreHeader(Uint8Array.of(0x0b, 0x14)), new Uint8Array(20)), /ERR_OSCORE_MALFORMED_OPTION: The OSCORE option value is malformed \(the Partial IV is truncated\)/],
    ['a broken chunked body', rawHttp('HTTP/1.1 200 OK', [['Content-Type', 'application/oscore'], ['OSCORE', 'AA'], ['Transfer-Encoding', 'chunked']], Buffer.from('zz\r\n')), /in\.http: the chunked body has an invalid chunk size "zz"/],
  ])('%s', async (_name, bytes, message) => {
    write('in.http', bytes);
    const run = keep(await inspect(['--context', 'orders.contexts.json', 'in.http']));
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
  });

  it('a context file a service would refuse: named, with a pointer to doctor', async () => {
    write('env.contexts.json', JSON.stringify({ format: 'oscore-http-contexts/1', contexts: [{ masterSecret: { env: 'OSCORE_MISSING_SECRET' }, senderId: '01', recipientId: '02' }] }));
    const run = keep(await inspect(['--context', 'env.contexts.json', 'req.http']));
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      'oscore-http: the context file env.contexts.json cannot be used: contexts[0].masterSecret: environment variable OSCORE_MISSING_SECRET is not set; export it with the secret in hex ("oscore-http doctor env.contexts.json" lists every problem)\n',
    );
    // With the variable set, the file works (and the secret is not printed).
    const secret = secrets[0]!;
    write('env2.contexts.json', JSON.stringify({ format: 'oscore-http-contexts/1', contexts: [{ ...JSON.parse(readFileSync(at('orders.contexts.json'), 'utf8')).contexts[0], masterSecret: { env: 'ORDERS_SECRET' } }] }));
    const ok = keep(await inspect(['--context', 'env2.contexts.json', 'req.http'], { env: { ORDERS_SECRET: secret } }));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('VERIFIED');
  });

  it('a --request file holding no request, or a request without kid', async () => {
    const response = keep(await inspect(['--context', 'shop.contexts.json', '--request', 'resp.http', 'resp.http']));
    expect(response.code).toBe(3);
    expect(response.stderr).toBe('oscore-http: resp.http: holds no request (a response was given as --request)\n');
    write('no-kid.http', rawRequest(encodeOscoreHeader(Uint8Array.of(0x01, 0x14)), new Uint8Array(20)));
    const noKid = keep(await inspect(['--context', 'shop.contexts.json', '--request', 'no-kid.http', 'resp.http']));
    expect(noKid.code).toBe(3);
    expect(noKid.stderr).toBe("oscore-http: no-kid.http: the request carries no 'kid', so no response can be bound to it (RFC 8613 §5, §7.1)\n");
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [[], /^oscore-http: give a message file \("-" for standard input\), or --header <value> with --body <file>\n/],
    [['a.http', 'b.http'], /give one message file, not 2/],
    [['--header', 'AA', 'resp.http'], /give either a message file or --header, not both/],
    [['--as', 'reply', 'resp.http'], /--as must be one of request, response, not "reply"/],
    [['--context', 'shop.contexts.json', 'resp.http'], /^oscore-http: a response is verified against the request it answers \(RFC 8613 §7\.1, §8\.4\): give that request with --request <file>\n/],
    [['--request', 'req.http', 'req.http'], /--request names the request a response answers; the message inspected is a request/],
    [['--context', 'shop.contexts.json', 'curl.txt'], /a curl -v dump does not hold the body \(the ciphertext\); give it with --body <file>/],
    [['--key', 'x', 'req.http'], /Unknown option '--key'/],
    [['--body', '-', '-'], /only one input can be "-" \(standard input\)/],
  ])('%j', async (args, message) => {
    const run = keep(await inspect(args));
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/Run "oscore-http inspect --help" for usage\.\n$/);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });

  it('--help prints the usage on stdout', async () => {
    const run = await runCli(['inspect', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: oscore-http inspect \[options\] <message-file \| ->\n/);
    for (const option of ['--context', '--request', '--body', '--header', '--as', '--json']) expect(run.stdout).toContain(`  ${option} `);
  });
});

/**
 * The demo's flow: a real server (the node:http handler of @oscore-http/http) behind a
 * TCP relay that records every byte, a client protecting requests with the project's
 * libraries; the recorded bytes are what the relay saw, written as .http files.
 */
describe('messages captured on the wire', () => {
  let server: Server;
  let relay: TcpServer;
  let relayOrigin: string;
  const recorded: { up: Buffer[]; down: Buffer[] }[] = [];

  beforeAll(async () => {
    relay = createTcpServer();
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    relayOrigin = `http://127.0.0.1:${(relay.address() as { port: number }).port}`;
    await keygen(['--server-name', 'wire-server', '--client-name', 'wire-client', '--peer', relayOrigin]);
    const contexts = loadContextFile(at('wire-server.contexts.json'), { store: 'memory' });
    server = createHttpServer(
      createOscoreHandler({ contexts }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json', 'x-seen': `${req.method} ${req.url}` });
          res.end(JSON.stringify({ received: Buffer.concat(chunks).length }));
        });
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    relay.on('connection', (socket) => {
      const record = { up: [] as Buffer[], down: [] as Buffer[] };
      recorded.push(record);
      const upstream = createConnection(port, '127.0.0.1');
      socket.on('data', (d: Buffer) => {
        record.up.push(d);
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        record.down.push(d);
        socket.write(d);
      });
      socket.on('end', () => upstream.end());
      upstream.on('end', () => socket.end());
    });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await new Promise<void>((resolve) => relay?.close(() => resolve()));
  });

  it('a POST with a binary body and its response, decrypted from the bytes the relay saw', async () => {
    const client = loadContextFile(at('wire-client.contexts.json'), { store: 'memory' }).forOrigin(relayOrigin)!;
    const body = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
    const sent = await protectRequest(client, encodeRequest({ method: 'POST', target: '/invoices?draft=1', headers: [['content-type', 'application/pdf'], ['x-trace', 't-9']], body }));
    const answer = await new Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(
        `${relayOrigin}/oscore`,
        { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: encodeOscoreHeader(sent.option), connection: 'close' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end(sent.payload);
    });
    // The client itself accepts the answer: a real, valid exchange.
    const verified = await verifyResponse(sent.binding, decodeOscoreHeader(answer.headers.oscore as string), answer.body);
    expect(decodeResponse(verified.message).status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, 50));
    const record = recorded.at(-1)!;
    write('wire.request.http', Buffer.concat(record.up));
    write('wire.response.http', Buffer.concat(record.down));

    const request = keep(await inspect(['--context', 'wire-server.contexts.json', 'wire.request.http']));
    expect(request.stderr).toBe('');
    expect(request.code).toBe(0);
    expect(request.stdout).toMatch(/^POST \/oscore HTTP\/1\.1$/m);
    expect(request.stdout).toContain('  Partial IV   00 (sequence number 0)');
    expect(request.stdout).toContain('\nPOST /invoices?draft=1\n');
    expect(request.stdout).toContain('\ncontent-type: application/pdf\n');
    expect(request.stdout).toContain('\nx-trace: t-9\n');
    expect(request.stdout).toContain(`\n(binary, 300 bytes) ${Buffer.from(body.subarray(0, 64)).toString('hex')}…\n`);

    const response = keep(await inspect(['--context', 'wire-client.contexts.json', '--request', 'wire.request.http', 'wire.response.http']));
    expect(response.stderr).toBe('');
    expect(response.code).toBe(0);
    expect(response.stdout).toMatch(/^HTTP\/1\.1 200 OK$/m);
    expect(response.stdout).toContain('\n200 OK\n');
    expect(response.stdout).toContain('\nx-seen: POST /invoices?draft=1\n');
    expect(response.stdout).toContain('\n{"received":300}\n');
  });
});
