/**
 * The OSCORE plaintext: the inner CoAP message (RFC 8613 §5.3, Figure 9), coded as in
 * RFC 7252 §3 without the fixed header and token:
 *
 *     Code (1 byte) | options in delta encoding (§3.1) | 0xFF payload marker | payload
 *
 * Each option is a byte `delta(4) | length(4)` followed by extended delta, extended
 * length and the value. Nibble values 13 and 14 announce 1- and 2-byte extensions
 * (+13, +269); 15 is reserved except in the payload marker 0xFF (RFC 7252 §3.1).
 * The decoder checks every length against the input before reading and returns views
 * into it; it throws only {@link MalformedPlaintextError}.
 */

import { newBuffer, type SlabAllocator } from '../buffers.js';
import { MalformedPlaintextError } from '../errors.js';
import type { CoapCode } from './coap.js';

/** One CoAP option: its number and its raw value. */
export interface CoapOption {
  readonly number: number;
  readonly value: Uint8Array;
}

/** A CoAP-coded inner message: code, options (Class E) and payload. */
export interface InnerMessage {
  readonly code: CoapCode;
  /** Options in transmission order: by number, repeated options in their given order. */
  readonly options: readonly CoapOption[];
  /** The payload; empty means none (no payload marker is written). */
  readonly payload: Uint8Array;
}

/** Largest option number (16 bits, RFC 7252 §12.2). */
export const MAX_OPTION_NUMBER = 0xffff;
/** Largest option value: 14-nibble extension, 65,535 + 269 bytes (RFC 7252 §3.1). */
export const MAX_OPTION_LENGTH = 0xffff + 269;
/**
 * Most options one message may carry. Not a CoAP limit: it bounds what a decoder holds
 * per message (one small object per option), where a plaintext of zero bytes would
 * otherwise decode to one empty option per byte.
 */
export const MAX_OPTIONS = 1024;
const PAYLOAD_MARKER = 0xff;

function nibble(value: number): number {
  return value < 13 ? value : value < 269 ? 13 : 14;
}

function extensionLength(value: number): number {
  return value < 13 ? 0 : value < 269 ? 1 : 2;
}

function sortedOptions(options: readonly CoapOption[]): readonly CoapOption[] {
  for (let i = 1; i < options.length; i++) {
    if (options[i]!.number < options[i - 1]!.number) {
      // Array.prototype.sort is stable (ES2019): repeated options keep their order.
      return [...options].sort((a, b) => a.number - b.number);
    }
  }
  return options;
}

/** Byte length of the encoded plaintext of `message` (options assumed valid). */
export function encodedLength(message: InnerMessage): number {
  let length = 1;
  let previous = 0;
  for (const option of sortedOptions(message.options)) {
    const delta = option.number - previous;
    previous = option.number;
    length += 1 + extensionLength(delta) + extensionLength(option.value.length) + option.value.length;
  }
  if (message.payload.length > 0) length += 1 + message.payload.length;
  return length;
}

/**
 * Encodes an inner message. Options may come in any order; they are written by number.
 * @throws {RangeError} for a code outside 0–255, an option number outside 0–65,535 or an over-long value.
 */
export function encodeInnerMessage(message: InnerMessage): Uint8Array {
  return encodeInnerMessageInto(message, newBuffer);
}

/**
 * {@link encodeInnerMessage} into a buffer from `allocate`, which must return exactly
 * `length` bytes (every one is written). Engine-internal: protection encodes plaintexts
 * into private memory it wipes after encryption (buffers.ts).
 */
export function encodeInnerMessageInto(message: InnerMessage, allocate: SlabAllocator): Uint8Array {
  const { code, payload } = message;
  if (!Number.isInteger(code) || code < 0 || code > 0xff) throw new RangeError('a CoAP code is one byte');
  const options = sortedOptions(message.options);
  if (options.length > MAX_OPTIONS) throw new RangeError(`a message carries at most ${MAX_OPTIONS} options`);
  for (const option of options) {
    if (!Number.isInteger(option.number) || option.number < 0 || option.number > MAX_OPTION_NUMBER) {
      throw new RangeError(`option number ${option.number} is outside 0-65535`);
    }
    if (option.value.length > MAX_OPTION_LENGTH) throw new RangeError(`option ${option.number} is longer than ${MAX_OPTION_LENGTH} bytes`);
  }
  const out = allocate(encodedLength({ code, options, payload }));
  out[0] = code;
  let offset = 1;
  let previous = 0;
  for (const option of options) {
    const delta = option.number - previous;
    previous = option.number;
    const length = option.value.length;
    out[offset++] = (nibble(delta) << 4) | nibble(length);
    offset = writeExtension(out, offset, delta);
    offset = writeExtension(out, offset, length);
    out.set(option.value, offset);
    offset += length;
  }
  if (payload.length > 0) {
    out[offset++] = PAYLOAD_MARKER;
    out.set(payload, offset);
  }
  return out;
}

function writeExtension(out: Uint8Array, offset: number, value: number): number {
  if (value < 13) return offset;
  if (value < 269) {
    out[offset] = value - 13;
    return offset + 1;
  }
  const v = value - 269;
  out[offset] = v >>> 8;
  out[offset + 1] = v & 0xff;
  return offset + 2;
}

/**
 * Decodes a plaintext into an inner message; views, not copies, of `plaintext`.
 * @throws {MalformedPlaintextError} on any format error of RFC 7252 §3 / §3.1.
 */
export function decodeInnerMessage(plaintext: Uint8Array): InnerMessage {
  if (plaintext.length === 0) throw new MalformedPlaintextError('it has no code byte');
  const code = plaintext[0]!;
  const options: CoapOption[] = [];
  let offset = 1;
  let number = 0;
  while (offset < plaintext.length) {
    const head = plaintext[offset++]!;
    if (head === PAYLOAD_MARKER) {
      // "The presence of a marker followed by a zero-length payload MUST be processed as a message format error." (RFC 7252 §3)
      if (offset === plaintext.length) throw new MalformedPlaintextError('a payload marker is followed by no payload');
      return { code, options, payload: plaintext.subarray(offset) };
    }
    let delta = head >>> 4;
    let length = head & 0x0f;
    // Nibble 15 is reserved for the payload marker (RFC 7252 §3.1).
    if (delta === 15 || length === 15) throw new MalformedPlaintextError('an option uses the reserved nibble 15');
    // Offsets advanced by hand, not through a returned [value, offset] pair: two arrays per option otherwise.
    delta = readExtension(plaintext, offset, delta);
    offset += extensionSize(head >>> 4);
    length = readExtension(plaintext, offset, length);
    offset += extensionSize(head & 0x0f);
    number += delta;
    if (options.length === MAX_OPTIONS) throw new MalformedPlaintextError(`it has more than ${MAX_OPTIONS} options`);
    if (number > MAX_OPTION_NUMBER) throw new MalformedPlaintextError('an option number exceeds 65535');
    if (offset + length > plaintext.length) throw new MalformedPlaintextError('an option value is truncated');
    options.push({ number, value: plaintext.subarray(offset, offset + length) });
    offset += length;
  }
  return { code, options, payload: plaintext.subarray(offset) };
}

/** The value of an option delta or length whose nibble is `n`, its extension bytes (if any) read at `offset`. */
function readExtension(bytes: Uint8Array, offset: number, n: number): number {
  if (n === 13) {
    if (offset + 1 > bytes.length) throw new MalformedPlaintextError('an option extension is truncated');
    return bytes[offset]! + 13;
  }
  if (n === 14) {
    if (offset + 2 > bytes.length) throw new MalformedPlaintextError('an option extension is truncated');
    return ((bytes[offset]! << 8) | bytes[offset + 1]!) + 269;
  }
  return n;
}

/** How many extension bytes follow a delta or length nibble `n` (RFC 7252 §3.1). */
function extensionSize(n: number): number {
  return n === 13 ? 1 : n === 14 ? 2 : 0;
}
