/**
 * Through a real reverse proxy: Debian's nginx (with its njs module) between the undici
 * interceptor and the fastify plugin, logging every request and response header and
 * body it sees (see proxy/nginx.ts for what is logged and how).
 *
 * The application must work through it, and nothing nginx logged may contain a
 * plaintext body, the inner method's path, the query or a protected header value —
 * while the same logs do contain those of an unprotected control exchange, which shows
 * the logging would have caught them, and the logged ciphertexts decrypt (with the keys,
 * outside nginx) to exactly the messages sent, which shows the logs are complete.
 *
 * nginx must be installed (`.ci/install-nginx.sh`); without it this file fails.
 */

import Fastify, { type FastifyInstance } from 'fastify';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOscoreOption, RequestBinding, verifyRequest, verifyResponse, type PartialIV } from '@oscore-http/core';
import { createContextSet, decodeOscoreHeader, decodeRequest, decodeResponse } from '@oscore-http/http';
import oscore from '@oscore-http/fastify';
import { oscore as oscoreInterceptor } from '@oscore-http/undici';
import { NginxProxy, parseAccessLog, parseJsonLog, type NginxLogRecord, type NginxLogs } from './proxy/nginx.js';

const MASTER_SECRET = '0102030405060708090a0b0c0d0e0f10';
const MASTER_SALT = '9e7ca92223786340';
const CLIENT_ID = '01';
const SERVER_ID = '02';

// The plaintext of the protected exchanges. None of it may appear in anything nginx logged.
const customer = {
  name: 'Ada Lovelace',
  email: 'ada@analytical-engine.example',
  card: '4111 1111 1111 1111',
  notes: 'confidential-note-about-bernoulli-numbers '.repeat(700), // ~29 KB: more than one read buffer
};
const SECRET_TOKEN = 'Bearer secret-token-7f3a9c';
const API_KEY = 'key-4f1c9e2a-secret-api-key';
const AUDIT_NOTE = 'for-auditors-only-4c1d';
const ORDER_NOTE = 'Difference Engine No. 2, delivered to Ada Lovelace';
const CUSTOMER_ID = 'cus-7Q2-secret-customer-id';
const SESSION_COOKIE = 'session=secret-session-cookie-91ab';
const INTERNAL_REF = 'ref-secret-response-header-55e0';
const REPORT_LINE = 'quarterly-secret-report-line';

/** Strings that are only inside OSCORE messages: bodies, inner paths and queries, protected header values. */
const PLAINTEXT = [
  customer.name,
  customer.email,
  customer.card,
  customer.card.replaceAll(' ', ''),
  'confidential-note-about-bernoulli-numbers',
  '/customers',
  '/orders/secret-path',
  'secret-path',
  'query=secret-value',
  'secret-value',
  SECRET_TOKEN,
  'secret-token-7f3a9c',
  API_KEY,
  AUDIT_NOTE,
  ORDER_NOTE,
  'Difference Engine',
  CUSTOMER_ID,
  SESSION_COOKIE,
  'secret-session-cookie-91ab',
  INTERNAL_REF,
  '/reports/quarterly',
  REPORT_LINE,
  'application/json', // the inner Content-Type of requests and responses
];
/** Names of protected header fields that exist only inside (outer fields are content-type, oscore, host, content-length, …). */
const PROTECTED_NAMES = ['authorization', 'x-api-key', 'x-audit-note', 'x-internal-ref', 'set-cookie'];

/** The unprotected control exchange: every one of these must be found in the logs. */
const CONTROL = {
  requestHeader: 'control-request-header-value-3e8d',
  query: 'control-query-value-0a7f',
  requestBody: 'control-request-body-b2c4',
  responseHeader: 'control-response-header-value-6d1e',
  responseBody: 'control-response-body-9f05',
};

// ---------------------------------------------------------------------------------------------
// Looking for a string in a log, in every form nginx (or anything else) might have written it.

function latin1(bytes: Buffer): string {
  return bytes.toString('latin1');
}

/** The readings of a log to search: as is, nginx-unescaped, JSON-unescaped, URL-decoded, and every hex / base64 run decoded. */
function readingsOf(log: Buffer): string[] {
  const raw = latin1(log);
  const readings = [raw];
  readings.push(raw.replace(/\\x([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
  readings.push(
    raw.replace(/\\(u[0-9A-Fa-f]{4}|["\\/bfnrt])/g, (m, e: string) => {
      try {
        return JSON.parse(`"\\${e}"`) as string;
      } catch {
        return m;
      }
    }),
  );
  readings.push(raw.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replaceAll('+', ' '));
  const decoded: string[] = [];
  for (const m of raw.matchAll(/[0-9A-Fa-f]{16,}/g)) decoded.push(latin1(Buffer.from(m[0].length % 2 === 0 ? m[0] : m[0].slice(1), 'hex')));
  for (const m of raw.matchAll(/[A-Za-z0-9+/_-]{12,}={0,2}/g)) {
    // Every alignment, so a base64 run with a prefix glued to it still decodes.
    for (let shift = 0; shift < 4; shift++) decoded.push(latin1(Buffer.from(m[0].slice(shift).replace(/=+$/, ''), m[0].includes('-') || m[0].includes('_') ? 'base64url' : 'base64')));
  }
  readings.push(decoded.join('\n'));
  return readings;
}

/** Which of `needles` occur (case-insensitively) in any reading of `log`. */
function found(log: Buffer, needles: readonly string[]): string[] {
  const readings = readingsOf(log).map((r) => r.toLowerCase());
  return needles.filter((n) => readings.some((r) => r.includes(n.toLowerCase())));
}

// ---------------------------------------------------------------------------------------------

let app: FastifyInstance;
let nginx: NginxProxy | undefined;
let agent: Agent;
const plainAgent = new Agent();
const handled: string[] = [];

async function buildApp(): Promise<FastifyInstance> {
  const server = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  await server.register(oscore, {
    contexts: [{ name: 'shop-frontend', masterSecret: { hex: MASTER_SECRET }, masterSalt: { hex: MASTER_SALT }, senderId: SERVER_ID, recipientId: CLIENT_ID }],
    allowUnprotected: ['POST /public/echo'],
  });
  server.post('/customers', async (req, reply) => {
    handled.push(`${req.method} ${req.url} ${req.oscore?.peer ?? 'unprotected'}`);
    const body = req.body as typeof customer;
    expect(req.headers.authorization).toBe(SECRET_TOKEN);
    expect(body).toEqual(customer);
    reply.code(201).header('location', `/customers/${CUSTOMER_ID}`).header('x-internal-ref', INTERNAL_REF);
    return { id: CUSTOMER_ID, name: body.name, email: body.email, cardLast4: body.card.slice(-4) };
  });
  server.get('/orders/secret-path', async (req, reply) => {
    handled.push(`${req.method} ${req.url} ${req.oscore?.peer ?? 'unprotected'}`);
    reply.header('set-cookie', `${SESSION_COOKIE}; HttpOnly`);
    return {
      query: req.query,
      authorization: req.headers.authorization,
      apiKey: req.headers['x-api-key'],
      audit: req.headers['x-audit-note'],
      order: ORDER_NOTE,
    };
  });
  server.get('/reports/quarterly', async (req, reply) => {
    handled.push(`${req.method} ${req.url} ${req.oscore?.peer ?? 'unprotected'}`);
    reply.type('text/plain; charset=utf-8');
    // ~45 KB: nginx passes it to the body filter in several chunks.
    return Array.from({ length: 1200 }, (_, i) => `${REPORT_LINE} ${String(i).padStart(4, '0')}: ${customer.name}`).join('\n');
  });
  server.post('/public/echo', async (req, reply) => {
    handled.push(`${req.method} ${req.url} ${req.oscore?.peer ?? 'unprotected'}`);
    reply.header('x-control-response', CONTROL.responseHeader).type('text/plain');
    return `${CONTROL.responseBody} (got ${String(req.body)})`;
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  return server;
}

function serverPort(server: FastifyInstance): number {
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Why nginx could not be started, if it could not: every test then fails with it (none is skipped). */
let startError: Error | undefined;

/** The running nginx; throws the start error (which says how to install nginx) otherwise. */
function proxy(): NginxProxy {
  if (nginx === undefined) throw startError ?? new Error('nginx was not started');
  return nginx;
}

beforeAll(async () => {
  app = await buildApp();
  try {
    nginx = await NginxProxy.start(serverPort(app));
  } catch (err) {
    startError = err as Error;
    return;
  }
  agent = new Agent().compose(
    oscoreInterceptor({
      contexts: createContextSet([
        { name: 'orders', peer: nginx.origin, masterSecret: { hex: MASTER_SECRET }, masterSalt: { hex: MASTER_SALT }, senderId: CLIENT_ID, recipientId: SERVER_ID },
      ]),
    }),
  ) as unknown as Agent;
});

afterAll(async () => {
  await agent?.close();
  await plainAgent.close();
  await nginx?.stop();
  if (nginx !== undefined && process.env.KEEP_NGINX_LOGS === undefined) nginx.remove();
  else if (nginx !== undefined) console.log(`nginx logs kept in ${nginx.dir}/logs`);
  await app?.close();
});

describe('the plaintext search', () => {
  it('finds a string written raw, nginx-escaped, JSON-escaped, URL-encoded, hex or base64/base64url (any alignment)', () => {
    const secret = 'Ada Lovelace <ada@analytical-engine.example>';
    const bytes = Buffer.from(`\x01"${secret}"\x7f`, 'latin1');
    const forms = [
      Buffer.from(`x="${secret}"`),
      Buffer.from(`x="${[...bytes].map((b) => (b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c ? `\\x${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b))).join('')}"`),
      Buffer.from(JSON.stringify({ x: bytes.toString('latin1') })),
      Buffer.from(`GET /?q=${encodeURIComponent(secret)} HTTP/1.1`),
      Buffer.from(`x=${bytes.toString('hex')}`),
      Buffer.from(`x=${bytes.toString('base64')}`),
      Buffer.from(`x=${Buffer.concat([Buffer.from('ab'), bytes]).toString('base64url')}`),
    ];
    for (const form of forms) expect(found(form, [secret]), form.toString('latin1')).toEqual([secret]);
    expect(found(Buffer.from('nothing to see here'), [secret])).toEqual([]);
  });
});

describe('through nginx (Debian package, njs body logging)', () => {
  const responses: { path: string; status: number; body: Buffer; headers: Record<string, string | string[] | undefined> }[] = [];
  let logs: NginxLogs;
  let records: NginxLogRecord[];

  it('nginx (Debian package) and its njs module are installed and nginx starts with the generated configuration', () => {
    // Without nginx this fails, saying how to install it (.ci/install-nginx.sh).
    expect(proxy().version).toMatch(/^nginx\/\d+\.\d+/);
  });

  it('the application works through nginx: protected POST with personal data, GET with inner path, query and protected headers, large response; an unprotected control request', async () => {
    const created = await request(`${proxy().origin}/customers`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: SECRET_TOKEN },
      body: JSON.stringify(customer),
    });
    const createdBody = Buffer.from(await created.body.arrayBuffer());
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe(`/customers/${CUSTOMER_ID}`);
    expect(created.headers['x-internal-ref']).toBe(INTERNAL_REF);
    expect(JSON.parse(createdBody.toString())).toEqual({ id: CUSTOMER_ID, name: customer.name, email: customer.email, cardLast4: '1111' });
    responses.push({ path: '/customers', status: 201, body: createdBody, headers: created.headers });

    const order = await request(`${proxy().origin}/orders/secret-path?query=secret-value`, {
      dispatcher: agent,
      headers: { authorization: SECRET_TOKEN, 'x-api-key': API_KEY, 'x-audit-note': AUDIT_NOTE, accept: 'application/json' },
    });
    const orderBody = Buffer.from(await order.body.arrayBuffer());
    expect(order.statusCode).toBe(200);
    expect(order.headers['set-cookie']).toBe(`${SESSION_COOKIE}; HttpOnly`);
    expect(JSON.parse(orderBody.toString())).toEqual({ query: { query: 'secret-value' }, authorization: SECRET_TOKEN, apiKey: API_KEY, audit: AUDIT_NOTE, order: ORDER_NOTE });
    responses.push({ path: '/orders/secret-path?query=secret-value', status: 200, body: orderBody, headers: order.headers });

    const report = await request(`${proxy().origin}/reports/quarterly`, { dispatcher: agent, headers: { authorization: SECRET_TOKEN } });
    const reportBody = Buffer.from(await report.body.arrayBuffer());
    expect(report.statusCode).toBe(200);
    expect(reportBody.length).toBeGreaterThan(40_000);
    expect(reportBody.toString().split('\n')[1199]).toBe(`${REPORT_LINE} 1199: ${customer.name}`);
    responses.push({ path: '/reports/quarterly', status: 200, body: reportBody, headers: report.headers });

    // An inner 404 travels protected too: the outer status stays 200.
    const missing = await request(`${proxy().origin}/orders/secret-path/not-here?query=secret-value`, { dispatcher: agent });
    const missingBody = Buffer.from(await missing.body.arrayBuffer());
    expect(missing.statusCode).toBe(404);
    responses.push({ path: '/orders/secret-path/not-here?query=secret-value', status: 404, body: missingBody, headers: missing.headers });

    // The control: the same nginx, an allow-listed route, no OSCORE.
    const control = await request(`${proxy().origin}/public/echo?control-query=${CONTROL.query}`, {
      dispatcher: plainAgent,
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-control-request': CONTROL.requestHeader },
      body: CONTROL.requestBody,
    });
    expect(control.statusCode).toBe(200);
    expect(await control.body.text()).toBe(`${CONTROL.responseBody} (got ${CONTROL.requestBody})`);

    expect(handled).toEqual([
      'POST /customers shop-frontend',
      'GET /orders/secret-path?query=secret-value shop-frontend',
      'GET /reports/quarterly shop-frontend',
      'POST /public/echo?control-query=control-query-value-0a7f unprotected',
    ]);

    // Stop nginx so that every log record is written and closed before reading.
    await proxy().stop();
    logs = proxy().logs();
    records = parseAccessLog(logs.access);
  });

  it('nginx logged every exchange in full: outer request line, all headers, both bodies', () => {
    proxy();
    expect(logs.access.length).toBeGreaterThan(0);
    expect(logs.error.length).toBeGreaterThan(0);
    expect(records).toHaveLength(5);
    const protectedRecords = records.slice(0, 4);
    for (const record of protectedRecords) {
      // The outer request: POST /oscore, application/oscore, the OSCORE header, ciphertext.
      expect(latin1(record.request)).toBe('POST /oscore HTTP/1.1');
      expect(latin1(record.status)).toBe('200');
      expect(latin1(record.upstream_status)).toBe('200');
      expect(latin1(record.req_content_type)).toBe('application/oscore');
      expect(latin1(record.req_oscore)).toMatch(/^[A-Za-z0-9_-]{2,}$/);
      expect(record.req_body.length).toBeGreaterThan(0);
      expect(record.req_body.length).toBe(Number(latin1(record.req_content_length)));
      const headersIn = JSON.parse(latin1(record.req_headers)) as [string, string][];
      expect(headersIn.map(([n]) => n.toLowerCase())).toEqual(expect.arrayContaining(['host', 'content-type', 'oscore', 'content-length']));
      expect(headersIn.find(([n]) => n.toLowerCase() === 'oscore')?.[1]).toBe(latin1(record.req_oscore));
      // The outer response: 200, application/oscore, OSCORE "AA" (empty option), ciphertext.
      expect(latin1(record.resp_content_type)).toBe('application/oscore');
      expect(latin1(record.resp_oscore)).toBe('AA');
      const headersOut = JSON.parse(latin1(record.resp_headers)) as [string, string][];
      expect(headersOut.find(([n]) => n.toLowerCase() === 'oscore')?.[1]).toBe('AA');
      const responseBody = Buffer.from(latin1(record.resp_body_hex), 'hex');
      expect(responseBody.length).toBe(Number(latin1(record.resp_content_length)));
    }
    // The three access logs hold the same records; escape=none has the raw bytes.
    const json = parseJsonLog(logs.accessJson);
    expect(json).toHaveLength(records.length);
    for (const [i, record] of records.entries()) {
      expect(json[i]!.req_body.equals(record.req_body)).toBe(true);
      expect(json[i]!.resp_body_hex.equals(record.resp_body_hex)).toBe(true);
      expect(json[i]!.req_headers.equals(record.req_headers)).toBe(true);
      if (record.req_body.length > 0) expect(logs.accessRaw.includes(record.req_body)).toBe(true);
    }
  });

  it('the logged ciphertexts are the whole messages: with the keys (outside nginx) they decrypt to exactly what was sent and received', async () => {
    proxy();
    // Fresh contexts with the same keys and their own (memory) state: a second server, and a
    // client that checks responses — an auditor's offline copy, not the service's state.
    const serverSet = createContextSet([{ masterSecret: { hex: MASTER_SECRET }, masterSalt: { hex: MASTER_SALT }, senderId: SERVER_ID, recipientId: CLIENT_ID }], { store: 'memory' });
    const clientSet = createContextSet([{ peer: 'http://logs.invalid', masterSecret: { hex: MASTER_SECRET }, masterSalt: { hex: MASTER_SALT }, senderId: CLIENT_ID, recipientId: SERVER_ID }], { store: 'memory' });
    const clientContext = clientSet.contexts[0]!;
    const expected = [
      { method: 'POST', target: '/customers' },
      { method: 'GET', target: '/orders/secret-path?query=secret-value' },
      { method: 'GET', target: '/reports/quarterly' },
      { method: 'GET', target: '/orders/secret-path/not-here?query=secret-value' },
    ];
    for (const [i, record] of records.slice(0, 4).entries()) {
      const option = decodeOscoreHeader(latin1(record.req_oscore));
      const verified = await verifyRequest(serverSet.registry, option, record.req_body);
      const inner = decodeRequest(verified.message);
      expect({ method: inner.method, target: inner.target }).toEqual(expected[i]);
      if (i === 0) {
        expect(JSON.parse(Buffer.from(inner.body).toString())).toEqual(customer);
        expect(inner.headers).toContainEqual(['authorization', SECRET_TOKEN]);
      }
      if (i === 1) expect(inner.headers).toEqual(expect.arrayContaining([['x-api-key', API_KEY], ['x-audit-note', AUDIT_NOTE]]));

      const { kid, partialIV } = decodeOscoreOption(option);
      const binding = new RequestBinding('client', clientContext, kid!, partialIV as PartialIV);
      const response = await verifyResponse(binding, decodeOscoreHeader(latin1(record.resp_oscore)), Buffer.from(latin1(record.resp_body_hex), 'hex'));
      const innerResponse = decodeResponse(response.message);
      expect(innerResponse.status).toBe(responses[i]!.status);
      expect(Buffer.from(innerResponse.body).equals(responses[i]!.body)).toBe(true);
    }
  });

  it('the unprotected control exchange shows that the logs capture request and response headers, query and bodies', () => {
    proxy();
    const control = records[4]!;
    expect(latin1(control.request)).toBe(`POST /public/echo?control-query=${CONTROL.query} HTTP/1.1`);
    const markers = Object.values(CONTROL);
    for (const [name, log] of [['access.log', logs.access], ['access.json.log', logs.accessJson], ['access.raw.log', logs.accessRaw]] as const) {
      expect(found(log, markers), name).toEqual(markers);
    }
    // The search also sees through the hex of the response body capture:
    expect(latin1(control.resp_body_hex)).toBe(Buffer.from(`${CONTROL.responseBody} (got ${CONTROL.requestBody})`).toString('hex'));
    // and the debug error log has the request header lines.
    expect(found(logs.error, [CONTROL.requestHeader])).toEqual([CONTROL.requestHeader]);
  });

  it('nothing nginx logged contains a plaintext body, inner path, query or protected header value (nor a protected header name)', () => {
    proxy();
    for (const [name, log] of [
      ['access.log', logs.access],
      ['access.json.log', logs.accessJson],
      ['access.raw.log', logs.accessRaw],
      ['error.log (debug)', logs.error],
    ] as const) {
      expect(log.length, name).toBeGreaterThan(0);
      expect(found(log, PLAINTEXT), `plaintext in nginx ${name}`).toEqual([]);
      expect(found(log, PROTECTED_NAMES), `protected header names in nginx ${name}`).toEqual([]);
    }
  });
});
