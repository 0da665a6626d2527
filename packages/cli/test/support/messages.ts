/**
 * Real OSCORE messages for the `inspect` tests, made with the project's own libraries
 * from real context files: the client protects a request, the server verifies it and
 * protects the response — the code paths the undici interceptor and the server handler
 * use — and the results are written out as raw HTTP/1.1 or as a `curl -v` dump.
 */

import { protectRequest, protectResponse, verifyRequest } from '@oscore-http/core';
import { encodeOscoreHeader, encodeRequest, encodeResponse, loadContextFile, type HttpRequestParts, type HttpResponseParts } from '@oscore-http/http';

/** A protected exchange: the OSCORE header values and bodies of both messages. */
export interface Exchange {
  readonly request: { readonly header: string; readonly body: Uint8Array };
  readonly response: { readonly header: string; readonly body: Uint8Array };
}

/**
 * Protects `request` with the client's file and answers it with `response` from the
 * server's file. Each call starts from a fresh in-memory state (sequence number 0
 * unless `skip` requests are protected first).
 */
export async function makeExchange(clientFile: string, serverFile: string, request: HttpRequestParts, response: HttpResponseParts, skip = 0): Promise<Exchange> {
  const client = loadContextFile(clientFile, { store: 'memory' }).contexts[0]!;
  const server = loadContextFile(serverFile, { store: 'memory' }).contexts[0]!;
  for (let i = 0; i < skip; i++) await protectRequest(client, encodeRequest(request));
  const sent = await protectRequest(client, encodeRequest(request));
  const received = await verifyRequest(server, sent.option, sent.payload);
  const answer = await protectResponse(received.binding, encodeResponse(response));
  return {
    request: { header: encodeOscoreHeader(sent.option), body: sent.payload },
    response: { header: encodeOscoreHeader(answer.option), body: answer.payload },
  };
}

/** A raw HTTP/1.1 message: start line, header fields, empty line, body. */
export function rawHttp(startLine: string, headers: readonly (readonly [string, string])[], body: Uint8Array, eol = '\r\n'): Buffer {
  const head = [startLine, ...headers.map(([n, v]) => `${n}: ${v}`), '', ''].join(eol);
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** The outer OSCORE request as the client sends it. */
export function rawRequest(header: string, body: Uint8Array, eol = '\r\n'): Buffer {
  return rawHttp(
    'POST /oscore HTTP/1.1',
    [
      ['Host', 'orders.internal:8080'],
      ['Content-Type', 'application/oscore'],
      ['OSCORE', header],
      ['Content-Length', String(body.length)],
    ],
    body,
    eol,
  );
}

/** The outer OSCORE response as the server sends it. */
export function rawResponse(header: string, body: Uint8Array, eol = '\r\n'): Buffer {
  return rawHttp(
    'HTTP/1.1 200 OK',
    [
      ['Content-Type', 'application/oscore'],
      ['OSCORE', header],
      ['Cache-Control', 'no-store'],
      ['Content-Length', String(body.length)],
    ],
    body,
    eol,
  );
}

/** What `curl -v -o body.bin --data-binary @req.bin` prints on stderr for one exchange. */
export function curlDump(exchange: Exchange): string {
  return [
    '*   Trying 127.0.0.1:8080...',
    '* Connected to orders.internal (127.0.0.1) port 8080',
    '> POST /oscore HTTP/1.1',
    '> Host: orders.internal:8080',
    '> User-Agent: curl/8.5.0',
    '> Accept: */*',
    '> Content-Type: application/oscore',
    `> OSCORE: ${exchange.request.header}`,
    `> Content-Length: ${exchange.request.body.length}`,
    '> ',
    `} [${exchange.request.body.length} bytes data]`,
    '< HTTP/1.1 200 OK\r',
    '< content-type: application/oscore\r',
    `< oscore: ${exchange.response.header}\r`,
    '< cache-control: no-store\r',
    `< content-length: ${exchange.response.body.length}\r`,
    '< \r',
    `{ [${exchange.response.body.length} bytes data]`,
    '* Connection #0 to host orders.internal left intact',
    '',
  ].join('\n');
}
