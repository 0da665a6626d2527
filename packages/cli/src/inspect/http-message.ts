/**
 * Reading captured HTTP messages for `oscore-http inspect`, in the forms operators have
 * at hand:
 *
 *  - raw HTTP/1.x (RFC 9112 §2.1): start line, header fields, an empty line, the body —
 *    CRLF or LF line endings, any bytes in the body, `Transfer-Encoding: chunked` decoded;
 *  - a `curl -v` dump: request lines prefixed `> `, response lines `< `, everything else
 *    (`* ` notes, `{ [n bytes data]`) ignored. curl does not print binary bodies, so the
 *    body comes from elsewhere (`--body`).
 *
 * Every problem is an {@link InputError} naming the input and the line.
 */

import { InputError } from '../errors.js';

/** One HTTP message as captured. Header names keep their spelling; values are latin1. */
export interface HttpMessage {
  readonly kind: 'request' | 'response';
  readonly startLine: string;
  /** Request: the method and request target. */
  readonly method?: string | undefined;
  readonly target?: string | undefined;
  /** Response: the status code and reason phrase. */
  readonly status?: number | undefined;
  readonly reason?: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  /** The body, or `undefined` when the form does not carry one (a curl dump). */
  readonly body: Uint8Array | undefined;
}

/** What one input held: a raw message is one message; a curl dump may hold both. */
export interface CapturedInput {
  readonly form: 'raw' | 'curl';
  readonly request?: HttpMessage | undefined;
  readonly response?: HttpMessage | undefined;
  /** Oddities worth telling the operator (length mismatches, trailing bytes). */
  readonly warnings: readonly string[];
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const REQUEST_LINE = new RegExp(`^(${TOKEN}) (\\S+) HTTP/(\\d(?:\\.\\d)?)$`);
const STATUS_LINE = /^HTTP\/(\d(?:\.\d)?) (\d{3})(?: (.*))?$/;
const HEADER_LINE = new RegExp(`^(${TOKEN}):[ \\t]*(.*?)[ \\t]*$`);
const CURL_LINE = /^[*<>{}](?: |$)/;

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');

/** The value of the first header field named `name` (case-insensitive). */
export function headerValue(message: HttpMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  return message.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** Every value of the header fields named `name` (case-insensitive). */
export function headerValues(message: HttpMessage, name: string): string[] {
  const lower = name.toLowerCase();
  return message.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

function startLineOf(line: string, label: string, lineNumber: number): Pick<HttpMessage, 'kind' | 'method' | 'target' | 'status' | 'reason'> {
  const request = REQUEST_LINE.exec(line);
  if (request !== null) return { kind: 'request', method: request[1]!, target: request[2]! };
  const status = STATUS_LINE.exec(line);
  if (status !== null) return { kind: 'response', status: Number(status[2]), reason: status[3] ?? '' };
  const shown = line.length > 60 ? `${line.slice(0, 60)}…` : line;
  throw new InputError(`${label}: line ${lineNumber} is neither a request line ("POST /oscore HTTP/1.1") nor a status line ("HTTP/1.1 200 OK"): ${JSON.stringify(shown)}`);
}

function headerOf(line: string, label: string, lineNumber: number): [string, string] {
  const match = HEADER_LINE.exec(line);
  if (match === null) throw new InputError(`${label}: line ${lineNumber} is not a header field ("Name: value"): ${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)}`);
  return [match[1]!, match[2]!];
}

/** Decodes a chunked body (RFC 9112 §7.1); trailer fields are ignored. */
function dechunk(bytes: Uint8Array, label: string): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (;;) {
    const eol = bytes.indexOf(0x0a, offset);
    if (eol === -1) throw new InputError(`${label}: the chunked body ends inside a chunk size line (byte ${offset} of the body)`);
    const sizeLine = latin1(bytes.subarray(offset, eol)).replace(/\r$/, '').split(';', 1)[0]!.trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeLine)) throw new InputError(`${label}: the chunked body has an invalid chunk size ${JSON.stringify(sizeLine)} (byte ${offset} of the body)`);
    const size = parseInt(sizeLine, 16);
    offset = eol + 1;
    if (size === 0) break;
    if (offset + size > bytes.length) throw new InputError(`${label}: the chunked body is truncated: a chunk of ${size} bytes has only ${bytes.length - offset}`);
    parts.push(bytes.subarray(offset, offset + size));
    offset += size;
    // The CRLF after the chunk data.
    if (bytes[offset] === 0x0d) offset++;
    if (bytes[offset] === 0x0a) offset++;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Parses a raw HTTP/1.x message. */
function parseRaw(bytes: Uint8Array, label: string, warnings: string[]): HttpMessage {
  let offset = 0;
  // "a recipient SHOULD ignore at least one empty line (CRLF) received prior to the request-line" (RFC 9112 §2.2).
  while (bytes[offset] === 0x0d || bytes[offset] === 0x0a) offset++;
  const lines: string[] = [];
  let bodyStart = -1;
  while (offset < bytes.length) {
    const nl = bytes.indexOf(0x0a, offset);
    const end = nl === -1 ? bytes.length : nl;
    const line = latin1(bytes.subarray(offset, end)).replace(/\r$/, '');
    offset = nl === -1 ? bytes.length : nl + 1;
    if (line === '') {
      bodyStart = offset;
      break;
    }
    lines.push(line);
    if (lines.length > 1000) throw new InputError(`${label}: more than 1000 header lines; is this an HTTP message?`);
  }
  if (lines.length === 0) throw new InputError(`${label}: is empty`);
  const start = startLineOf(lines[0]!, label, 1);
  const headers: [string, string][] = [];
  for (const [i, line] of lines.slice(1).entries()) {
    // obs-fold (RFC 9112 §5.2): a continuation of the previous field value.
    if ((line.startsWith(' ') || line.startsWith('\t')) && headers.length > 0) {
      headers[headers.length - 1]![1] += ` ${line.trim()}`;
      continue;
    }
    headers.push(headerOf(line, label, i + 2));
  }
  let body: Uint8Array = bodyStart === -1 ? new Uint8Array(0) : bytes.subarray(bodyStart);
  if (bodyStart === -1) warnings.push(`${label}: no empty line after the header fields, so no body`);
  const message: HttpMessage = { ...start, startLine: lines[0]!, headers, body };
  if (/chunked/i.test(headerValue(message, 'transfer-encoding') ?? '')) {
    body = dechunk(body, label);
  } else {
    const declared = headerValue(message, 'content-length');
    if (declared !== undefined && /^\d+$/.test(declared.trim())) {
      const length = Number(declared.trim());
      if (body.length > length) {
        warnings.push(`${label}: ${body.length - length} bytes after the ${length}-byte body (Content-Length) are ignored`);
        body = body.subarray(0, length);
      } else if (body.length < length) {
        warnings.push(`${label}: the body is ${body.length} bytes but Content-Length says ${length}: the capture is truncated`);
      }
    }
  }
  return { ...message, body };
}

interface CurlBlock {
  readonly lines: string[];
}

/** Parses a `curl -v` dump: the last final response, and the last request before it. */
function parseCurl(text: string, label: string): { request?: HttpMessage; response?: HttpMessage } {
  const blocks: { side: '>' | '<'; block: CurlBlock }[] = [];
  let open: { side: '>' | '<'; block: CurlBlock; ended: boolean } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const side = line.startsWith('>') ? '>' : line.startsWith('<') ? '<' : undefined;
    if (side === undefined || (line.length > 1 && line[1] !== ' ')) continue;
    const content = line.slice(2);
    if (open === undefined || open.side !== side || open.ended) {
      if (content === '') continue;
      open = { side, block: { lines: [] }, ended: false };
      blocks.push(open);
    }
    if (content === '') open.ended = true;
    else open.block.lines.push(content);
  }
  const toMessage = (block: CurlBlock): HttpMessage => {
    const start = startLineOf(block.lines[0]!, label, 1);
    return { ...start, startLine: block.lines[0]!, headers: block.lines.slice(1).map((l, i) => headerOf(l, label, i + 2)), body: undefined };
  };
  const messages = blocks.map((b) => toMessage(b.block));
  const lastIndex = (test: (m: HttpMessage, i: number) => boolean) => {
    for (let i = messages.length - 1; i >= 0; i--) if (test(messages[i]!, i)) return i;
    return -1;
  };
  // Interim (1xx) responses such as "100 Continue" are not the answer.
  const responseIndex = lastIndex((m) => m.kind === 'response' && (m.status ?? 0) >= 200);
  const requestIndex = lastIndex((m, i) => m.kind === 'request' && (responseIndex === -1 || i < responseIndex));
  if (requestIndex === -1 && responseIndex === -1) throw new InputError(`${label}: no request ("> ") or response ("< ") lines in this curl -v dump`);
  return {
    ...(requestIndex === -1 ? {} : { request: messages[requestIndex] }),
    ...(responseIndex === -1 ? {} : { response: messages[responseIndex] }),
  };
}

/**
 * Reads a captured message: a `curl -v` dump if its first line is one of curl's
 * (`* `, `> `, `< `, `{ `, `} `), raw HTTP otherwise.
 * @throws {InputError} for anything that is neither.
 */
export function parseCapturedInput(bytes: Uint8Array, label: string): CapturedInput {
  const warnings: string[] = [];
  let first = 0;
  while (bytes[first] === 0x0d || bytes[first] === 0x0a || bytes[first] === 0x20) first++;
  // curl writes its own notes before the dump ("Note: Unnecessary use of -X or --request, POST
  // is already inferred." for `curl -v -X POST -d …`, "Warning: …"): look past them.
  const lines = latin1(bytes.subarray(first, Math.min(bytes.length, first + 4096))).split('\n').map((l) => l.replace(/\r$/, ''));
  const firstLine = lines.find((l) => !/^(?:Note|Warning): /.test(l)) ?? '';
  if (CURL_LINE.test(firstLine)) return { form: 'curl', ...parseCurl(latin1(bytes), label), warnings };
  const message = parseRaw(bytes, label, warnings);
  return message.kind === 'request' ? { form: 'raw', request: message, warnings } : { form: 'raw', response: message, warnings };
}
