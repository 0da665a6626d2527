/**
 * A hostile client against a real fastify server with the plugin, over raw TCP sockets
 * (node:net), sending bytes no HTTP client library would: pipelined requests, chunked and
 * truncated bodies, `Expect: 100-continue`, malformed `OSCORE` and `Content-Type` fields,
 * odd outer methods and request targets, and a body trickled byte by byte.
 *
 * Protected requests are made and their responses verified by the independent RFC 8613
 * peer (support/independent-peer.ts), each against the request it answers (§8.4). Every
 * rejection is checked for its documented status, code and fixed reason (docs/errors.md,
 * docs/wire-format.md §4), that nothing of the request leaks into the response or the log,
 * and that no route handler (nor fastify's router) ran. No uncaught exception or unhandled
 * rejection may occur in the process.
 */

import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createContextSet } from '@oscore-http/http';
import { startFastify, type LogLine, type TestServer } from './support/fastify-server.js';
import { Resources, SECRET_A, serverContextA } from './support/oscore-peers.js';
import { code, codeString, deriveContext, headerOf, IndependentClient, opt, Opt, optionOf, readUint, text, uint, type Binding, type CoapMessage } from './support/independent-peer.js';

const GET = code(0, 1);
const POST = code(0, 2);
const EMPTY = new Uint8Array(0);
const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const hexBytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

/** A word that appears only inside the protected requests: it must never show outside. */
const INNER_SECRET = 'inner-plaintext-7f3a';

// ---------------------------------------------------------------------------------
// A raw HTTP/1.1 connection
// ---------------------------------------------------------------------------------

/** One response as it came off the wire. */
interface RawResponse {
  readonly status: number;
  readonly reason: string;
  /** Field names lower-cased, values in arrival order. */
  readonly headers: Record<string, string[]>;
  readonly body: Buffer;
}

const header = (res: RawResponse, name: string): string | undefined => res.headers[name]?.join(', ');

/**
 * A client socket that collects everything the server sends and parses it into
 * responses (interim 1xx ones separately). `heads` lists, per final response in order,
 * whether it answers a HEAD request (no body, whatever Content-Length says).
 */
class RawConnection {
  readonly interim: RawResponse[] = [];
  readonly responses: RawResponse[] = [];
  #buffer = Buffer.alloc(0);
  #closed = false;
  #waiters: Array<() => void> = [];
  readonly heads: boolean[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    // A reset by the server shows as a close; the tests assert on what was received.
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(bytes: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Resolves once `n` final responses arrived, or the connection closed (then with fewer). */
  async waitFor(n: number, timeoutMs = 5_000): Promise<RawResponse[]> {
    await this.#until(() => this.responses.length >= n || this.#closed, timeoutMs, `${n} responses`);
    return this.responses;
  }

  /** Resolves once the server closed the connection. */
  async waitForClose(timeoutMs = 5_000): Promise<void> {
    await this.#until(() => this.#closed, timeoutMs, 'the server to close the connection');
  }

  /** Resolves once `n` interim responses arrived. */
  async waitForInterim(n: number, timeoutMs = 5_000): Promise<RawResponse[]> {
    await this.#until(() => this.interim.length >= n || this.#closed, timeoutMs, `${n} interim responses`);
    return this.interim;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; received ${this.responses.length} responses, ${this.#buffer.length} unparsed bytes`)), timeoutMs);
      const check = () => {
        if (!done()) return void this.#waiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(check);
    });
  }

  #wake(): void {
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) w();
  }

  #parse(): void {
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
      const [, status, reason] = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!) ?? [];
      if (status === undefined) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
      const headers: Record<string, string[]> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        (headers[line.slice(0, colon).toLowerCase()] ??= []).push(line.slice(colon + 1).trim());
      }
      const code = Number(status);
      if (code < 200) {
        this.interim.push({ status: code, reason: reason!, headers, body: Buffer.alloc(0) });
        this.#buffer = this.#buffer.subarray(end + 4);
        continue;
      }
      if (headers['transfer-encoding'] !== undefined) throw new Error('chunked responses are not expected from this server');
      const head = this.heads[this.responses.length] === true;
      const length = head || code === 204 || code === 304 ? 0 : Number(headers['content-length']?.[0] ?? 0);
      if (this.#buffer.length < end + 4 + length) return;
      const body = Buffer.from(this.#buffer.subarray(end + 4, end + 4 + length));
      this.#buffer = this.#buffer.subarray(end + 4 + length);
      this.responses.push({ status: code, reason: reason!, headers, body });
    }
  }
}

// ---------------------------------------------------------------------------------
// Protected requests from the independent peer
// ---------------------------------------------------------------------------------

/** Client A of support/oscore-peers.ts, as the independent peer (Sender ID 02, Recipient ID 01). */
const peerContext = () => deriveContext({ secret: hexBytes(SECRET_A), senderId: hexBytes('02'), recipientId: hexBytes('01') });
/** One peer for the whole file: the server's replay window lives as long as the server. */
const peer = new IndependentClient(peerContext());

interface Protected {
  readonly option: Uint8Array;
  readonly payload: Uint8Array;
  readonly binding: Binding;
}

/** GET /hello/:name, protected. */
function getHello(peer: IndependentClient, name: string): Protected {
  return peer.protect({ code: GET, options: [opt(Opt.UriPath, 'hello'), opt(Opt.UriPath, name)], payload: EMPTY });
}

/** POST /echo with a text/plain body (Content-Format 0), protected. */
function postEcho(peer: IndependentClient, body: string): Protected {
  return peer.protect({ code: POST, options: [opt(Opt.UriPath, 'echo'), opt(Opt.ContentFormat, uint(0))], payload: utf8(body) });
}

interface OuterOptions {
  readonly method?: string;
  readonly target?: string;
  /** Replaces the OSCORE field value; `null` leaves the field out. */
  readonly oscore?: string | null;
  /** Replaces the Content-Type value; `null` leaves the field out. */
  readonly contentType?: string | null;
  /** Extra header lines, as written. */
  readonly extra?: readonly string[];
  /** Send the body with Transfer-Encoding: chunked, in chunks of this size. */
  readonly chunked?: number;
}

/** The head (status line and fields, with the blank line) of an outer request. */
function outerHead(p: Pick<Protected, 'option' | 'payload'>, o: OuterOptions = {}): string {
  const lines = [`${o.method ?? 'POST'} ${o.target ?? '/oscore'} HTTP/1.1`, 'Host: 127.0.0.1'];
  if (o.contentType !== null) lines.push(`Content-Type: ${o.contentType ?? 'application/oscore'}`);
  if (o.oscore !== null) lines.push(`OSCORE: ${o.oscore ?? headerOf(p.option)}`);
  lines.push(o.chunked === undefined ? `Content-Length: ${p.payload.length}` : 'Transfer-Encoding: chunked');
  lines.push(...(o.extra ?? []));
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A chunked encoding of `body` in chunks of `size` bytes, with the last chunk. */
function chunkedBody(body: Uint8Array, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const chunk = body.subarray(i, i + size);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), Buffer.from(chunk), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** The bytes of a whole outer request. */
function outerRequest(p: Pick<Protected, 'option' | 'payload'>, o: OuterOptions = {}): Buffer {
  const body = o.chunked === undefined ? Buffer.from(p.payload) : chunkedBody(p.payload, o.chunked);
  return Buffer.concat([Buffer.from(outerHead(p, o), 'latin1'), body]);
}

/** Checks the outer form of a protected response (RFC 8613 §11.1) and verifies it against `sent` (§8.4). */
function verified(peer: IndependentClient, sent: Protected, res: RawResponse | undefined): CoapMessage {
  expect(res, 'a response').toBeDefined();
  expect(res!.status).toBe(200);
  expect(header(res!, 'content-type')).toBe('application/oscore');
  expect(header(res!, 'cache-control')).toBe('no-store');
  return peer.verify(sent.binding, optionOf(header(res!, 'oscore')!), res!.body).message;
}

// ---------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------

const resources = new Resources();
let server: TestServer;
let port: number;
/** Every log line of the server, at every level. */
const logLines: LogLine[] = [];
/** Requests that reached fastify's router (an onRequest hook). */
let routed = 0;
/** Inner targets whose request was aborted (an onRequestAbort hook). */
const abortedUrls: string[] = [];
/** Process-level failures seen while the tests ran. */
const processFailures: unknown[] = [];
const onProcessFailure = (err: unknown): void => void processFailures.push(err);
/** Process warnings (a MaxListenersExceededWarning would mean listeners pile up per request). */
const processWarnings: Error[] = [];
const onWarning = (warning: Error): void => void processWarnings.push(warning);

beforeAll(async () => {
  process.on('uncaughtException', onProcessFailure);
  process.on('unhandledRejection', onProcessFailure);
  process.on('warning', onWarning);
  server = await startFastify(
    { contexts: createContextSet([serverContextA()], { store: 'memory' }), allowUnprotected: ['GET /health'] },
    (app, s) => {
      app.addHook('onRequest', async () => {
        routed++;
      });
      app.addHook('onRequestAbort', async (req) => {
        abortedUrls.push(req.url);
      });
      app.get('/health', async (req) => {
        s.record(req);
        return 'ok';
      });
      app.get('/hello/:name', async (req) => {
        s.record(req);
        return `hello ${(req.params as { name: string }).name}`;
      });
      app.post('/echo', async (req) => {
        s.record(req);
        return `echo ${String(req.body)}`;
      });
      app.get('/slow/:ms', async (req) => {
        s.record(req);
        await new Promise((r) => setTimeout(r, Number((req.params as { ms: string }).ms)));
        return 'slow';
      });
    },
    { logger: { level: 'trace', stream: { write: (line: string) => void logLines.push(JSON.parse(line) as LogLine) } } },
  );
  resources.add(server, (s) => s.close());
  port = (server.app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await resources.closeAll();
  process.off('uncaughtException', onProcessFailure);
  process.off('unhandledRejection', onProcessFailure);
  process.off('warning', onWarning);
});

const connections = new Resources();
beforeEach(() => {
  routed = 0;
  abortedUrls.length = 0;
  server.seen.length = 0;
  logLines.length = 0;
});
afterEach(async () => {
  await connections.closeAll();
  expect(processFailures).toEqual([]);
  expect(processWarnings.map((w) => w.name)).toEqual([]);
});

async function open(): Promise<RawConnection> {
  return connections.add(await RawConnection.open(port), (c) => c.destroy());
}

/** Resolves once `done()` holds; fails after `timeoutMs`. */
async function eventually(done: () => boolean, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves once `on` has no open connection left; fails after `timeoutMs`. */
async function untilNoConnections(on: TestServer, timeoutMs = 2_000): Promise<void> {
  const count = () => new Promise<number>((resolve, reject) => on.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  for (const until = Date.now() + timeoutMs; (await count()) !== 0; ) {
    if (Date.now() > until) throw new Error('the server kept a connection open');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The OSCORE rejection lines of the log. */
const rejections = () => logLines.filter((l) => l.msg === 'OSCORE request rejected').map((l) => (l as unknown as { oscore: { code: string; status: number } }).oscore);

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

/** Checks an unprotected rejection: status, fixed reason, fields, nothing of the request in it. */
function expectRejection(res: RawResponse | undefined, status: number, reason: string | null): void {
  expect(res, 'a response').toBeDefined();
  expect(res!.status).toBe(status);
  expect(header(res!, 'content-type')).toBe('text/plain; charset=utf-8');
  expect(header(res!, 'cache-control')).toBe('no-store');
  expect(header(res!, 'oscore')).toBeUndefined();
  if (reason !== null) expect(res!.body.toString('utf8')).toBe(reason);
  if (status === 401) expect(header(res!, 'www-authenticate')).toBe('OSCORE');
  if (status === 405) expect(header(res!, 'allow')).toBe('POST');
}

/**
 * Nothing of the inner requests or the key material in any log line, and no stack in the
 * OSCORE layer's lines (fastify's own trace line for a client parse error has one).
 */
function expectCleanLogs(): void {
  const all = JSON.stringify(logLines);
  expect(all).not.toContain(INNER_SECRET);
  expect(all).not.toContain(SECRET_A);
  expect(JSON.stringify(logLines.filter((l) => /OSCORE/.test(l.msg ?? '')))).not.toMatch(/"stack"/);
}

describe('pipelining: several requests in one TCP write', () => {
  it('five protected requests come back in order, each verified against its own request', async () => {

    const sent = [getHello(peer, 'p1'), postEcho(peer, `${INNER_SECRET} two`), getHello(peer, 'p3'), postEcho(peer, 'four'), getHello(peer, 'p5')];
    const c = await open();
    await c.write(Buffer.concat(sent.map((s, i) => outerRequest(s, i === 3 ? { chunked: 7 } : {}))));
    const responses = await c.waitFor(5);
    expect(responses).toHaveLength(5);
    const payloads = sent.map((s, i) => text(verified(peer, s, responses[i]).payload));
    expect(payloads).toEqual(['hello p1', `echo ${INNER_SECRET} two`, 'hello p3', 'echo four', 'hello p5']);
    expect(server.seen.map((r) => r.url)).toEqual(['/hello/p1', '/echo', '/hello/p3', '/echo', '/hello/p5']);
    expect(c.closed).toBe(false);
    c.destroy();
    await c.waitForClose();
    expect(abortedUrls).toEqual([]); // answered requests are not aborted by the close that follows
  });

  it('200 protected requests in one write: 200 responses in order, each verified against its own request', async () => {
    const sent = Array.from({ length: 200 }, (_, i) => getHello(peer, `n${i}`));
    const c = await open();
    await c.write(Buffer.concat(sent.map((s) => outerRequest(s))));
    const responses = await c.waitFor(200);
    expect(responses).toHaveLength(200);
    expect(sent.map((s, i) => text(verified(peer, s, responses[i]).payload))).toEqual(sent.map((_, i) => `hello n${i}`));
  });

  it('a bad request in the middle gets its own rejection; those around it are served and verify', async () => {

    const first = getHello(peer, 'before');
    const forged = getHello(peer, INNER_SECRET);
    const tampered = { ...forged, payload: Uint8Array.from(forged.payload, (b, i) => (i === 0 ? b ^ 1 : b)) };
    const wrongType = getHello(peer, 'wrong-type');
    const last = getHello(peer, 'after');
    const c = await open();
    await c.write(Buffer.concat([outerRequest(first), outerRequest(tampered), outerRequest(wrongType, { contentType: 'application/json' }), outerRequest(last)]));
    const responses = await c.waitFor(4);
    expect(text(verified(peer, first, responses[0]).payload)).toBe('hello before');
    expectRejection(responses[1], 400, 'Decryption failed');
    expectRejection(responses[2], 415, 'Content-Type must be application/oscore');
    expect(text(verified(peer, last, responses[3]).payload)).toBe('hello after');
    expect(server.seen.map((r) => r.url)).toEqual(['/hello/before', '/hello/after']);
    expect(rejections().map((r) => r.code).sort()).toEqual(['ERR_OSCORE_DECRYPTION_FAILED', 'ERR_OSCORE_HTTP_CONTENT_TYPE']);
    expectCleanLogs();
  });

  it('a replay inside the same write is refused; the original is served once', async () => {

    const sent = getHello(peer, 'once');
    const c = await open();
    await c.write(Buffer.concat([outerRequest(sent), outerRequest(sent)]));
    const responses = await c.waitFor(2);
    expect(text(verified(peer, sent, responses[0]).payload)).toBe('hello once');
    expectRejection(responses[1], 401, 'Replay detected');
    expect(server.seen).toHaveLength(1);
  });
});

describe('more pipelining', () => {
  it('a 413 in the middle: the one before is served, the connection closes, nothing after it runs', async () => {
    const first = getHello(peer, 'first');
    const huge = getHello(peer, 'huge');
    const after = getHello(peer, 'after-huge');
    const c = await open();
    const hugeHead = outerHead(huge).replace(`Content-Length: ${huge.payload.length}`, 'Content-Length: 1073741824');
    await c.write(Buffer.concat([outerRequest(first), Buffer.from(hugeHead, 'latin1'), outerRequest(after)]));
    await c.waitForClose();
    expect(c.responses).toHaveLength(2);
    expect(text(verified(peer, first, c.responses[0]).payload)).toBe('hello first');
    expectRejection(c.responses[1], 413, 'Payload too large');
    expect(server.seen.map((r) => r.url)).toEqual(['/hello/first']);
  });

  it('a slow request, then a half-close: no crash, and the server keeps serving', async () => {
    const slow = getHello(peer, 'x');
    const slowed = peer.protect({ code: GET, options: [opt(Opt.UriPath, 'slow'), opt(Opt.UriPath, '50')], payload: EMPTY });
    const c = await open();
    await c.write(Buffer.concat([outerRequest(slowed), outerRequest(slow)]));
    c.socket.end();
    await c.waitForClose();
    await new Promise((r) => setTimeout(r, 80)); // the slow handler finishes after the close
    const again = getHello(peer, 'again');
    const d = await open();
    await d.write(outerRequest(again));
    const [res] = await d.waitFor(1);
    expect(text(verified(peer, again, res).payload)).toBe('hello again');
  });

  it('a client that goes away with requests still queued aborts every one of them, as fastify does without OSCORE', async () => {
    const sent = [1, 2, 3].map((n) => peer.protect({ code: GET, options: [opt(Opt.UriPath, 'slow'), opt(Opt.UriPath, String(150 + n))], payload: EMPTY }));
    const c = await open();
    await c.write(Buffer.concat(sent.map((s) => outerRequest(s))));
    await eventually(() => server.seen.length === 3); // all three verified and in their handlers
    c.destroy();
    await eventually(() => abortedUrls.length === 3);
    expect(abortedUrls.sort()).toEqual(['/slow/151', '/slow/152', '/slow/153']);
  });

  it('the same request on five connections at once is served exactly once', async () => {
    const sent = getHello(peer, 'race');
    const cs = await Promise.all([1, 2, 3, 4, 5].map(() => open()));
    await Promise.all(cs.map((c) => c.write(outerRequest(sent))));
    const responses = (await Promise.all(cs.map((c) => c.waitFor(1)))).map((r) => r[0]!);
    const ok = responses.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(text(verified(peer, sent, ok[0]).payload)).toBe('hello race');
    for (const r of responses.filter((x) => x.status !== 200)) expectRejection(r, 401, 'Replay detected');
    expect(server.seen).toHaveLength(1);
  });
});

describe('chunked and incomplete outer bodies', () => {
  it('a ciphertext longer than AES-CCM can carry, under a known kid, is a decryption failure, not a 500', async () => {
    const sent = getHello(peer, 'long');
    const c = await open();
    await c.write(outerRequest({ option: sent.option, payload: new Uint8Array(70_000).fill(7) }));
    const [res] = await c.waitFor(1);
    expectRejection(res, 400, 'Decryption failed');
    expect(routed).toBe(0);
  });

  it('a chunked body in one-byte chunks, with a chunk extension and a trailer, is served', async () => {

    const sent = postEcho(peer, 'chunky');
    const c = await open();
    const body = chunkedBody(sent.payload, 1).toString('latin1').replace('1\r\n', '1;ext=1\r\n').replace(/0\r\n\r\n$/, '0\r\nX-Trailer: t\r\n\r\n');
    await c.write(Buffer.concat([Buffer.from(outerHead(sent, { chunked: 1 }), 'latin1'), Buffer.from(body, 'latin1')]));
    const [res] = await c.waitFor(1);
    expect(text(verified(peer, sent, res).payload)).toBe('echo chunky');
  });

  it('a chunked body beyond the limit gets 413 and the connection closes, while the client is still sending', async () => {
    const c = await open();
    await c.write(outerHead({ option: Uint8Array.of(0x09, 0x01, 0x02), payload: EMPTY }, { chunked: 1 }));
    const chunk = chunkedBody(new Uint8Array(64 * 1024).fill(0x42), 64 * 1024).subarray(0, -5); // no last chunk
    let sent = 0;
    while (c.responses.length === 0 && !c.closed && sent < 64 * 1024 * 1024) {
      try {
        await c.write(chunk);
      } catch {
        break;
      }
      sent += chunk.length;
    }
    const [res] = await c.waitFor(1);
    expectRejection(res, 413, 'Payload too large');
    expect(header(res!, 'connection')).toBe('close');
    await c.waitForClose();
    expect(sent).toBeLessThan(16 * 1024 * 1024); // answered long before the client gave up (64 MiB)
    expect(routed).toBe(0);
    expect(rejections().map((r) => r.code)).toEqual(['ERR_OSCORE_HTTP_BODY_TOO_LARGE']);
  });

  it('Content-Length beyond the limit gets 413 at once, without reading the body', async () => {
    const c = await open();
    await c.write(outerHead({ option: Uint8Array.of(0x09, 0x01, 0x02), payload: new Uint8Array(0) }).replace('Content-Length: 0', 'Content-Length: 1073741824'));
    const [res] = await c.waitFor(1);
    expectRejection(res, 413, 'Payload too large');
    await c.waitForClose();
    expect(routed).toBe(0);
  });

  for (const how of ['half-close', 'hard close'] as const) {
    it(`a body shorter than Content-Length, then a ${how}: nothing is processed, the replay window is untouched, the server keeps serving`, async () => {

      const sent = postEcho(peer, `${INNER_SECRET} truncated`);
      const full = outerRequest(sent);
      const c = await open();
      await c.write(full.subarray(0, full.length - 5));
      if (how === 'half-close') c.socket.end();
      else c.socket.resetAndDestroy();
      await c.waitForClose();
      expect(c.responses.filter((r) => r.status === 200)).toEqual([]);
      expect(routed).toBe(0);
      // Nothing is left waiting for the rest of the body: the server closed its side too.
      await untilNoConnections(server);
      // The same request, complete, on a new connection: accepted (the window did not move).
      const again = await open();
      await again.write(full);
      const [res] = await again.waitFor(1);
      expect(text(verified(peer, sent, res).payload)).toBe(`echo ${INNER_SECRET} truncated`);
      expectCleanLogs();
    });
  }
});

describe('Expect: 100-continue', () => {
  it('the server sends 100 Continue, then the protected answer to the body', async () => {

    const sent = postEcho(peer, 'after continue');
    const c = await open();
    await c.write(outerHead(sent, { extra: ['Expect: 100-continue'] }));
    const [interim] = await c.waitForInterim(1);
    expect(interim!.status).toBe(100);
    await c.write(sent.payload);
    const [res] = await c.waitFor(1);
    expect(text(verified(peer, sent, res).payload)).toBe('echo after continue');
  });
});

/**
 * RFC 9110 §10.1.1: a server that receives 100-continue sends a final status at once if the
 * header fields determine it, else 100; a final status before the content says whether the
 * connection closes. Every check but decryption needs only the header fields.
 */
describe('Expect: 100-continue, refused from the header fields alone', () => {
  const refused: Array<{ name: string; head: () => string; status: number; reason: string }> = [
    {
      name: 'a Content-Length beyond the limit',
      head: () => outerHead({ option: Uint8Array.of(0x09, 0x01, 0x02), payload: EMPTY }, { extra: ['Expect: 100-continue'] }).replace('Content-Length: 0', 'Content-Length: 1073741824'),
      status: 413,
      reason: 'Payload too large',
    },
    { name: 'a wrong Content-Type', head: () => outerHead(getHello(peer, 'x'), { contentType: 'application/json', extra: ['Expect: 100-continue'] }), status: 415, reason: 'Content-Type must be application/oscore' },
    { name: 'a malformed OSCORE field', head: () => outerHead(getHello(peer, 'x'), { oscore: 'CQ=', extra: ['Expect: 100-continue'] }), status: 400, reason: 'Failed to decode COSE' },
    { name: 'a wrong outer path', head: () => outerHead(getHello(peer, 'x'), { target: '/elsewhere', extra: ['Expect: 100-continue'] }), status: 404, reason: 'Unknown OSCORE endpoint' },
    { name: 'an unprotected request to a protected route', head: () => 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n', status: 401, reason: 'OSCORE required' },
  ];
  it.each(refused)('$name → $status at once, no 100 Continue, and the connection closes', async ({ head, status, reason }) => {
    const c = await open();
    await c.write(head());
    const [res] = await c.waitFor(1);
    expectRejection(res, status, reason);
    expect(c.interim).toEqual([]);
    expect(header(res!, 'connection')).toBe('close');
    await c.waitForClose();
    expect(routed).toBe(0);
  });

  it('an allow-listed request gets its 100 Continue and is served', async () => {
    const c = await open();
    await c.write('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n');
    const [interim] = await c.waitForInterim(1);
    expect(interim!.status).toBe(100);
    await c.write('{}');
    const [res] = await c.waitFor(1);
    expect(res!.status).toBe(200);
    expect(res!.body.toString()).toBe('ok');
  });
});

describe('malformed OSCORE and Content-Type fields', () => {
  const cases: Array<{ name: string; o: (h: string) => OuterOptions; status: number; reason: string; code: string }> = [
    { name: 'padding =', o: (h) => ({ oscore: `${h}==` }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
    { name: 'base64 + and /', o: (h) => ({ oscore: `+/${h.slice(2)}` }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
    { name: 'a space inside', o: (h) => ({ oscore: `${h.slice(0, 2)} ${h.slice(2)}` }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
    { name: 'an empty value', o: () => ({ oscore: '' }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
    { name: 'a value of 8 KiB', o: () => ({ oscore: 'A'.repeat(8192) }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
    { name: 'two OSCORE lines with the same value', o: (h) => ({ extra: [`OSCORE: ${h}`] }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
    { name: 'two OSCORE lines, the second empty', o: () => ({ extra: ['OSCORE: '] }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
    { name: 'OSCORE with Content-Type text/plain', o: () => ({ contentType: 'text/plain' }), status: 415, reason: 'Content-Type must be application/oscore', code: 'ERR_OSCORE_HTTP_CONTENT_TYPE' },
    { name: 'OSCORE without Content-Type', o: () => ({ contentType: null }), status: 415, reason: 'Content-Type must be application/oscore', code: 'ERR_OSCORE_HTTP_CONTENT_TYPE' },
    { name: 'application/oscore without OSCORE', o: () => ({ oscore: null }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
    { name: 'Content-Type text/plain, then application/oscore', o: () => ({ contentType: 'text/plain', extra: ['Content-Type: application/oscore'] }), status: 415, reason: 'Content-Type must be application/oscore', code: 'ERR_OSCORE_HTTP_CONTENT_TYPE' },
    { name: 'Content-Type application/oscore-x', o: () => ({ contentType: 'application/oscorex' }), status: 415, reason: 'Content-Type must be application/oscore', code: 'ERR_OSCORE_HTTP_CONTENT_TYPE' },
    { name: 'GET', o: () => ({ method: 'GET' }), status: 405, reason: 'OSCORE requests use POST', code: 'ERR_OSCORE_HTTP_OUTER_METHOD' },
    { name: 'OPTIONS', o: () => ({ method: 'OPTIONS' }), status: 405, reason: 'OSCORE requests use POST', code: 'ERR_OSCORE_HTTP_OUTER_METHOD' },
    { name: 'PUT', o: () => ({ method: 'PUT' }), status: 405, reason: 'OSCORE requests use POST', code: 'ERR_OSCORE_HTTP_OUTER_METHOD' },
    { name: 'target //oscore', o: () => ({ target: '//oscore' }), status: 404, reason: 'Unknown OSCORE endpoint', code: 'ERR_OSCORE_HTTP_OUTER_PATH' },
    { name: 'target /OSCORE', o: () => ({ target: '/OSCORE' }), status: 404, reason: 'Unknown OSCORE endpoint', code: 'ERR_OSCORE_HTTP_OUTER_PATH' },
    { name: 'target /oscore/', o: () => ({ target: '/oscore/' }), status: 404, reason: 'Unknown OSCORE endpoint', code: 'ERR_OSCORE_HTTP_OUTER_PATH' },
    { name: 'target /hello/x (the inner path)', o: () => ({ target: '/hello/x' }), status: 404, reason: 'Unknown OSCORE endpoint', code: 'ERR_OSCORE_HTTP_OUTER_PATH' },
  ];
  it.each(cases)('$name → $status, the handler not run, and the request is still good afterwards', async ({ o, status, reason, code }) => {

    const sent = getHello(peer, INNER_SECRET);
    const c = await open();
    await c.write(outerRequest(sent, o(headerOf(sent.option))));
    const [res] = await c.waitFor(1);
    expectRejection(res, status, reason);
    expect(res!.body.toString('latin1')).not.toContain(INNER_SECRET);
    expect(routed).toBe(0);
    expect(server.seen).toEqual([]);
    expect(rejections().map((r) => r.code)).toEqual([code]);
    expectCleanLogs();
    // Nothing was consumed: the request sent properly on the same connection is served.
    if (!c.closed) {
      await c.write(outerRequest(sent));
      const [, ok] = await c.waitFor(2);
      expect(text(verified(peer, sent, ok).payload)).toBe(`hello ${INNER_SECRET}`);
    }
  });

  it('HEAD → 405 without a body; the connection stays usable', async () => {

    const sent = getHello(peer, 'head');
    const c = await open();
    c.heads.push(true);
    await c.write(outerRequest(sent, { method: 'HEAD' }));
    const [res] = await c.waitFor(1);
    expect(res!.status).toBe(405);
    expect(header(res!, 'allow')).toBe('POST');
    await c.write(outerRequest(sent));
    const [, ok] = await c.waitFor(2);
    expect(text(verified(peer, sent, ok).payload)).toBe('hello head');
  });

  const accepted: Array<{ name: string; o: (h: string) => OuterOptions }> = [
    { name: 'Content-Type with other case and a parameter', o: () => ({ contentType: 'Application/OSCORE; foo=bar' }) },
    { name: 'OSCORE with surrounding whitespace (OWS)', o: (h) => ({ oscore: ` \t${h}\t ` }) },
    { name: 'target /oscore?x=1', o: () => ({ target: '/oscore?x=1' }) },
    { name: 'target / (RFC 8613 §11.6)', o: () => ({ target: '/' }) },
  ];
  it.each(accepted)('$name → served', async ({ o }) => {

    const sent = getHello(peer, 'ok');
    const c = await open();
    await c.write(outerRequest(sent, o(headerOf(sent.option))));
    const [res] = await c.waitFor(1);
    expect(text(verified(peer, sent, res).payload)).toBe('hello ok');
  });

});

describe('absolute-form request targets (RFC 9112 §3.2.2: a server MUST accept them)', () => {
  it.each([`http://127.0.0.1:PORT/oscore`, 'HTTP://example.org/oscore?x=1', 'http://example.org', 'https://example.org?q'])('an OSCORE request to %s is served', async (target) => {
    const sent = getHello(peer, 'absolute');
    const c = await open();
    await c.write(outerRequest(sent, { target: target.replace('PORT', String(port)) }));
    const [res] = await c.waitFor(1);
    expect(text(verified(peer, sent, res).payload)).toBe('hello absolute');
  });

  it.each(['http://example.org/OSCORE', 'http://example.org/hello/x', 'http:///oscore', 'ftp://example.org/oscore'])('an OSCORE request to %s → 404', async (target) => {
    const sent = getHello(peer, 'absolute');
    const c = await open();
    await c.write(outerRequest(sent, { target }));
    const [res] = await c.waitFor(1);
    expectRejection(res, 404, 'Unknown OSCORE endpoint');
    expect(routed).toBe(0);
  });

  it('an allow-listed route is served without OSCORE in absolute form too; another route is still refused', async () => {
    const c = await open();
    await c.write('GET http://example.org/health HTTP/1.1\r\nHost: example.org\r\n\r\nGET http://example.org/hello/x HTTP/1.1\r\nHost: example.org\r\n\r\n');
    const [health, refused] = await c.waitFor(2);
    expect(health!.status).toBe(200);
    expect(health!.body.toString()).toBe('ok');
    expectRejection(refused, 401, 'OSCORE required');
    expect(server.seen.map((r) => [r.url, r.protected])).toEqual([['http://example.org/health', false]]);
  });
});

describe('a client that goes away while its request is being verified', () => {
  it('the verified request still reaches the application, aborted at once, as fastify does with a request whose client left', async () => {
    // A context lookup with I/O (a secret manager): the client leaves while it runs.
    const set = createContextSet([serverContextA()], { store: 'memory' });
    let entered!: () => void;
    const lookupEntered = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const lookupReleased = new Promise<void>((r) => (release = r));
    const aborted: string[] = [];
    const slow = await startFastify(
      {
        contexts: {
          async findRecipientContexts(kid: Uint8Array, kidContext: Uint8Array | undefined) {
            entered();
            await lookupReleased;
            return set.registry.findRecipientContexts(kid, kidContext);
          },
        },
      },
      (app, s) => {
        app.addHook('onRequestAbort', async (req) => {
          aborted.push(req.url);
        });
        app.get('/hello/:name', async (req) => {
          s.record(req);
          return 'hello';
        });
      },
    );
    resources.add(slow, (s) => s.close());
    const fresh = new IndependentClient(peerContext());
    const c = connections.add(await RawConnection.open((slow.app.server.address() as { port: number }).port), (x) => x.destroy());
    await c.write(outerRequest(getHello(fresh, 'gone')));
    await lookupEntered;
    c.destroy();
    // The server saw the connection close before verification ended.
    await untilNoConnections(slow);
    release();
    await eventually(() => slow.seen.length === 1);
    await eventually(() => aborted.length === 1);
    expect(aborted).toEqual(['/hello/gone']);
  });
});

describe('slow clients', () => {
  it('a body trickled byte by byte does not hold up another client, served in the middle of it', async () => {
    const slow = postEcho(peer, 'slowly');
    const fast = getHello(peer, 'fast');
    const s = await open();
    const f = await open();
    await s.write(outerHead(slow));
    const half = slow.payload.length >> 1;
    for (let i = 0; i < slow.payload.length; i++) {
      if (i === half) {
        // Half the body is in: another client is served now, not after the slow one.
        await f.write(outerRequest(fast));
        const [res] = await f.waitFor(1);
        expect(text(verified(peer, fast, res).payload)).toBe('hello fast');
        expect(s.responses).toEqual([]);
      }
      await s.write(slow.payload.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 2));
    }
    const [res] = await s.waitFor(1);
    expect(text(verified(peer, slow, res).payload)).toBe('echo slowly');
  });
});

/**
 * What a verified peer puts inside is bounded as what a client puts in a plain request:
 * Node refuses a request line and fields beyond 16 KiB (431) before fastify sees them.
 */
describe('inner messages beyond what HTTP would let through', () => {
  /** The exact HTTP status of a protected answer: its HTTP-Code option (65003, docs/wire-format.md §3). */
  const httpCodeOf = (m: CoapMessage): number | undefined => {
    const option = m.options.find((o) => o.number === 65003);
    return option === undefined ? undefined : readUint(option.value);
  };

  it('a target of Uri-Path options longer than maxHeaderSize (16 KiB) gets a protected 431 before any route runs, and is never composed', async () => {
    // 70 segments of 255 bytes: 17,920 bytes of target, each byte percent-encoded (0xff) three times that as a string.
    const long = peer.protect({ code: GET, options: Array.from({ length: 70 }, () => opt(Opt.UriPath, new Uint8Array(255).fill(0xff))), payload: EMPTY });
    const c = await open();
    await c.write(outerRequest(long));
    const [res] = await c.waitFor(1);
    const answer = verified(peer, long, res);
    expect([codeString(answer.code), httpCodeOf(answer)]).toEqual(['4.00', 431]);
    expect(text(answer.payload)).toBe('Header fields too large');
    expect(routed).toBe(0);
    expect(server.seen).toEqual([]);
    expect(rejections().map((r) => r.code)).toEqual(['ERR_OSCORE_HTTP_HEADERS_TOO_LARGE']);
    // A target within the limit (/hello/x and 60 Uri-Query arguments of 255 bytes: 15,371) is still served.
    const within = peer.protect({ code: GET, options: [opt(Opt.UriPath, 'hello'), opt(Opt.UriPath, 'x'), ...Array.from({ length: 60 }, () => opt(Opt.UriQuery, 'a'.repeat(255)))], payload: EMPTY });
    await c.write(outerRequest(within));
    const [, ok] = await c.waitFor(2);
    const served = verified(peer, within, ok);
    expect([codeString(served.code), text(served.payload)]).toEqual(['2.05', 'hello x']);
    expect(routed).toBe(1);
  });
});
