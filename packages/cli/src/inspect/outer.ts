/**
 * The outer OSCORE message as every hop sees it (RFC 8613 §11.1, docs/wire-format.md §1):
 * the `OSCORE` header field, decoded into the OSCORE option value and its fields (§6.1),
 * and the body, which is the COSE ciphertext with its tag (§6.2). Nothing here needs a key.
 */

import { decodeOscoreOption, MalformedOptionError, OscoreError, partialIVToSequenceNumber, type OscoreOptionFields } from '@oscore-http/core';
import { decodeOscoreHeader, isOscoreContentType, MalformedOscoreHeaderError } from '@oscore-http/http';
import { InputError } from '../errors.js';
import { headerValue, headerValues, type HttpMessage } from './http-message.js';

/** The flag byte of the OSCORE option value (§6.1, Figure 10). */
export interface OscoreFlags {
  /** The whole first byte (0 for the empty option value). */
  readonly byte: number;
  /** Length of the Partial IV in bytes (bits 5–7). */
  readonly n: number;
  /** 'kid' present (bit 4). */
  readonly k: number;
  /** 'kid context' present (bit 3). */
  readonly h: number;
  /** The reserved bits 0–2; must be 0. */
  readonly reserved: number;
}

/** What the outer message shows of the OSCORE protection. */
export interface OuterOscore {
  readonly kind: 'request' | 'response';
  /** The message as captured, when there was one (not for `--header`). */
  readonly message: HttpMessage | undefined;
  /** The `OSCORE` header field value as sent. */
  readonly header: string;
  /** The OSCORE option value it encodes (§11.3). */
  readonly option: Uint8Array;
  readonly flags: OscoreFlags;
  readonly fields: OscoreOptionFields;
  /** The sequence number the Partial IV encodes. */
  readonly sequenceNumber: number | undefined;
  /** The body: ciphertext ‖ tag. */
  readonly body: Uint8Array;
  readonly warnings: readonly string[];
}

/** The flag byte's fields. */
export function flagsOf(option: Uint8Array): OscoreFlags {
  const byte = option[0] ?? 0;
  return { byte, n: byte & 0x07, k: (byte >> 3) & 1, h: (byte >> 4) & 1, reserved: byte >> 5 };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');

/** A short, printable excerpt of an unprotected body, to say why a message is not OSCORE. */
function bodyExcerpt(body: Uint8Array | undefined): string {
  if (body === undefined || body.length === 0 || body.length > 200) return '';
  const text = Buffer.from(body).toString('utf8');
  return /^[\t\x20-\x7e]*$/.test(text) ? ` (its body says ${JSON.stringify(text)})` : '';
}

function describe(message: HttpMessage): string {
  return message.kind === 'request' ? `${message.method} ${message.target}` : `${message.status} ${message.reason ?? ''}`.trim();
}

/**
 * Decodes the OSCORE protection of a captured message.
 * @param label names the input in messages.
 * @throws {InputError} if it is not an OSCORE message (no `OSCORE` field, another
 *   Content-Type) or the field or option value is malformed, naming the typed error's code.
 */
export function decodeOuter(message: HttpMessage, label: string, body: Uint8Array | undefined): OuterOscore {
  const problems: string[] = [];
  const values = headerValues(message, 'oscore');
  if (values.length === 0) problems.push('no OSCORE header field');
  const contentType = headerValue(message, 'content-type');
  if (contentType === undefined) problems.push('no Content-Type (application/oscore)');
  else if (!isOscoreContentType(contentType)) problems.push(`Content-Type is ${contentType}, not application/oscore`);
  if (problems.length > 0) {
    const unprotected = message.kind === 'response' && values.length === 0 ? `; an unprotected ${describe(message)} response${bodyExcerpt(body ?? message.body)}` : '';
    throw new InputError(`${label}: not an OSCORE message (RFC 8613 §11.1): ${problems.join(', ')}${unprotected}`);
  }
  const warnings: string[] = [];
  // §11.1: "The HTTP OSCORE header field ... is only used in POST requests and 200 (OK) responses."
  if (message.kind === 'request' && message.method !== 'POST') warnings.push(`the outer method is ${message.method}; OSCORE requests travel as POST (RFC 8613 §11.1), a server answers 405`);
  if (message.kind === 'response' && message.status !== 200) warnings.push(`the outer status is ${message.status}; OSCORE responses travel as 200 OK (RFC 8613 §11.1)`);
  return decodeOption(message.kind, values.length === 1 ? values[0]! : values, body ?? message.body ?? new Uint8Array(0), label, message, warnings);
}

/**
 * Decodes an `OSCORE` header field value given on its own (`--header`).
 * @throws {InputError} as {@link decodeOuter}.
 */
export function decodeOuterHeader(kind: 'request' | 'response', value: string, body: Uint8Array, label: string): OuterOscore {
  return decodeOption(kind, value.replace(/^\s*oscore\s*:/i, ''), body, label, undefined, []);
}

function decodeOption(
  kind: 'request' | 'response',
  value: string | string[],
  body: Uint8Array,
  label: string,
  message: HttpMessage | undefined,
  warnings: string[],
): OuterOscore {
  let option: Uint8Array;
  try {
    option = decodeOscoreHeader(value);
  } catch (err) {
    if (err instanceof MalformedOscoreHeaderError) throw new InputError(`${label}: malformed OSCORE header field: ${err.code}: ${err.message}`, { cause: err });
    throw err;
  }
  let fields: OscoreOptionFields;
  try {
    fields = decodeOscoreOption(option);
  } catch (err) {
    if (err instanceof MalformedOptionError || err instanceof OscoreError) {
      throw new InputError(`${label}: malformed OSCORE option (value ${hex(option) || '(empty)'}, ${option.length} bytes): ${err.code}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  if (kind === 'request') {
    // §5: 'Partial IV' and 'kid' "SHALL be present in requests".
    if (fields.partialIV === undefined) warnings.push("the request carries no Partial IV, which RFC 8613 §5 requires; no server accepts it");
    if (fields.kid === undefined) warnings.push("the request carries no 'kid', which RFC 8613 §5 requires; no server can find its context");
  }
  // §2: a message with an OSCORE option always has a payload (the ciphertext).
  if (body.length === 0) warnings.push('the body is empty, but an OSCORE message always carries the ciphertext (RFC 8613 §2)');
  return {
    kind,
    message,
    header: Array.isArray(value) ? value.join(', ') : value.trim(),
    option,
    flags: flagsOf(option),
    fields,
    sequenceNumber: fields.partialIV === undefined ? undefined : partialIVToSequenceNumber(fields.partialIV),
    body,
    warnings,
  };
}
