/**
 * Small pure helpers that alter an outer OSCORE request, one thing at a time.
 */

import type { FieldList, OuterRequest } from '../client.js';

/** `bytes` with bit 0 of byte `index` flipped (negative indexes count from the end). */
export function flipBit(bytes: Uint8Array, index: number): Uint8Array {
  const copy = bytes.slice();
  const i = index < 0 ? copy.length + index : index;
  copy[i] = copy[i]! ^ 0x01;
  return copy;
}

/** The base64url form of an OSCORE option value, as the `OSCORE` field carries it (RFC 8613 §11.2). */
export function base64url(bytes: Uint8Array): string {
  return bytes.length === 0 ? 'AA' : Buffer.from(bytes).toString('base64url');
}

/** `outer` with header field `name` replaced by `values` (none: removed; several: repeated). */
export function withField(outer: OuterRequest, name: string, ...values: string[]): OuterRequest {
  const kept: FieldList = outer.headers.filter(([n]) => n !== name);
  return { ...outer, headers: [...kept, ...values.map((v) => [name, v] as const)] };
}

/** `outer` with another body. */
export function withBody(outer: OuterRequest, body: Uint8Array): OuterRequest {
  return { ...outer, body };
}

/** The `OSCORE` field value of `outer`. */
export function oscoreField(outer: OuterRequest): string {
  return outer.headers.find(([n]) => n === 'oscore')?.[1] ?? '';
}
