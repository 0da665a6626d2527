/**
 * The inner request handed to application code: a real `IncomingMessage` carrying the
 * verified method, target, protected headers and body, so frameworks (fastify, Express,
 * Connect) treat it exactly like a request from the network.
 */

import { IncomingMessage } from 'node:http';
import type { HeaderList } from '../mapping/fields.js';
import { firstValue, toHeaderObject } from '../mapping/fields.js';
import type { HttpRequestParts } from '../mapping/messages.js';
import type { OscoreRequestInfo } from './request-info.js';

/** Where the verification result hangs on an inner request. */
export const OSCORE_INFO = Symbol.for('oscore-http.request-info');

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

function noop(): void {}

/**
 * `[[name, value], …]` as Node's flat `rawHeaders` list. A loop, not `list.flat()`: V8 11
 * runs `flat` through its generic runtime path, about 1 µs for a handful of fields,
 * on every request.
 */
function flatten(list: HeaderList): string[] {
  const out: string[] = [];
  for (const [name, value] of list) out.push(name, value);
  return out;
}

/** Builds the inner request from the verified parts and the outer request it arrived in. */
export function createInnerRequest(
  outer: IncomingMessage,
  parts: HttpRequestParts,
  protectedHeaders: HeaderList,
  passThrough: HeaderList,
  info: OscoreRequestInfo,
): IncomingMessage {
  const list: HeaderList = protectedHeaders;
  // Protected fields win over outer ones of the same name (pass-through is empty by default).
  const present = passThrough.length > 0 ? new Set(list.map(([n]) => n)) : undefined;
  // Transport fields are rebuilt by the server, never taken from the outer message's framing.
  if (outer.headers.host !== undefined && firstValue(list, 'host') === undefined) list.push(['host', outer.headers.host]);
  if (parts.body.length > 0 || METHODS_WITH_BODY.has(parts.method)) list.push(['content-length', String(parts.body.length)]);
  if (present !== undefined) for (const entry of passThrough) if (!present.has(entry[0])) list.push(entry);

  const inner = new IncomingMessage(outer.socket);
  inner.method = parts.method;
  inner.url = parts.target;
  inner.httpVersion = outer.httpVersion;
  inner.httpVersionMajor = outer.httpVersionMajor;
  inner.httpVersionMinor = outer.httpVersionMinor;
  inner.headers = toHeaderObject(list) as IncomingMessage['headers'];
  inner.rawHeaders = flatten(list);
  // The body is complete and in memory: reading must not touch the outer socket.
  inner._read = noop;
  if (parts.body.length > 0) inner.push(parts.body);
  inner.push(null);
  inner.complete = true;
  (inner as unknown as Record<symbol, OscoreRequestInfo>)[OSCORE_INFO] = info;
  return inner;
}

/** The verification result of an inner request, or `undefined` for any other request. */
export function oscoreInfoOf(req: IncomingMessage): OscoreRequestInfo | undefined {
  return (req as unknown as Record<symbol, OscoreRequestInfo | undefined>)[OSCORE_INFO];
}
