/**
 * The few CBOR items OSCORE serialises itself: the HKDF `info` array (RFC 8613 §3.2.1),
 * `aad_array` / `external_aad` (§5.4) and the COSE `Enc_structure` (RFC 9052 §5.3).
 *
 * They are fixed-shape arrays of byte strings, text strings, small integers and null,
 * and must be byte-exact in preferred serialisation (RFC 8949 §4.1: the shortest
 * argument encoding). A general CBOR library would add per-message allocation and
 * configuration risk (see ARCHITECTURE.md: tagging, records) for five item types, so the
 * heads are written here and checked in tests against RFC 8613 Appendix C and an
 * independent decoder (cbor-x).
 */

const MAJOR_UINT = 0;
const MAJOR_NINT = 1;
export const MAJOR_BSTR = 2;
const MAJOR_TSTR = 3;
const MAJOR_ARRAY = 4;

/** Number of bytes of a head with this argument (RFC 8949 §3). */
export function headLength(argument: number): number {
  if (argument < 24) return 1;
  if (argument < 0x100) return 2;
  if (argument < 0x10000) return 3;
  if (argument < 0x100000000) return 5;
  return 9;
}

/** Writes a head (major type + shortest argument) at `offset`; returns the next offset. */
export function writeHead(out: Uint8Array, offset: number, major: number, argument: number): number {
  const mt = major << 5;
  if (argument < 24) {
    out[offset] = mt | argument;
    return offset + 1;
  }
  if (argument < 0x100) {
    out[offset] = mt | 24;
    out[offset + 1] = argument;
    return offset + 2;
  }
  if (argument < 0x10000) {
    out[offset] = mt | 25;
    out[offset + 1] = argument >>> 8;
    out[offset + 2] = argument & 0xff;
    return offset + 3;
  }
  if (argument < 0x100000000) {
    out[offset] = mt | 26;
    new DataView(out.buffer, out.byteOffset + offset + 1, 4).setUint32(0, argument);
    return offset + 5;
  }
  out[offset] = mt | 27;
  new DataView(out.buffer, out.byteOffset + offset + 1, 8).setBigUint64(0, BigInt(argument));
  return offset + 9;
}

/** A CBOR data item this module can encode. `null` is CBOR null (0xf6). */
export type CborItem = number | Uint8Array | string | null | readonly CborItem[];

const textEncoder = new TextEncoder();

function itemLength(item: CborItem): number {
  if (item === null) return 1;
  if (typeof item === 'number') return headLength(item < 0 ? -1 - item : item);
  if (typeof item === 'string') {
    const n = textEncoder.encode(item).length;
    return headLength(n) + n;
  }
  if (item instanceof Uint8Array) return headLength(item.length) + item.length;
  let n = headLength(item.length);
  for (const child of item) n += itemLength(child);
  return n;
}

function writeItem(out: Uint8Array, offset: number, item: CborItem): number {
  if (item === null) {
    out[offset] = 0xf6;
    return offset + 1;
  }
  if (typeof item === 'number') {
    if (!Number.isSafeInteger(item)) throw new RangeError('CBOR integers here must be safe integers');
    return item < 0 ? writeHead(out, offset, MAJOR_NINT, -1 - item) : writeHead(out, offset, MAJOR_UINT, item);
  }
  if (typeof item === 'string') {
    const bytes = textEncoder.encode(item);
    offset = writeHead(out, offset, MAJOR_TSTR, bytes.length);
    out.set(bytes, offset);
    return offset + bytes.length;
  }
  if (item instanceof Uint8Array) {
    offset = writeHead(out, offset, MAJOR_BSTR, item.length);
    out.set(item, offset);
    return offset + item.length;
  }
  offset = writeHead(out, offset, MAJOR_ARRAY, item.length);
  for (const child of item) offset = writeItem(out, offset, child);
  return offset;
}

/** Encodes `item` in CBOR preferred serialisation (RFC 8949 §4.1). */
export function encodeCbor(item: CborItem): Uint8Array {
  const out = new Uint8Array(itemLength(item));
  writeItem(out, 0, item);
  return out;
}
