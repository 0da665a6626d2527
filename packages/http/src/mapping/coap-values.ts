/**
 * CoAP option value formats (RFC 7252 §3.2) and the entity-tag forms HTTP and CoAP share
 * (RFC 9110 §8.8.3, RFC 7252 §5.10.6).
 */

/** Encodes a uint with as few bytes as possible; 0 is the empty string (RFC 7252 §3.2). */
export function encodeUint(value: number): Uint8Array {
  let length = 0;
  for (let v = value; v > 0; v = Math.floor(v / 256)) length++;
  const out = new Uint8Array(length);
  for (let i = length - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

/** Decodes a uint of up to 4 bytes; `undefined` if longer. */
export function decodeUint(bytes: Uint8Array): number | undefined {
  if (bytes.length > 4) return undefined;
  let value = 0;
  for (const b of bytes) value = value * 256 + b;
  return value;
}

/** One entry of an entity-tag list. */
export type EntityTag = { readonly weak: boolean; readonly opaque: string } | '*';

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3)
const ETAGC = /^[\x21\x23-\x7e\x80-\xff]*$/;

/** Parses `*` or a comma-separated list of entity tags; `undefined` if it is not one. */
export function parseEntityTags(value: string): EntityTag[] | undefined {
  const text = value.trim();
  if (text === '*') return ['*'];
  const tags: EntityTag[] = [];
  let i = 0;
  while (i < text.length) {
    let weak = false;
    if (text.startsWith('W/', i)) {
      weak = true;
      i += 2;
    }
    if (text[i] !== '"') return undefined;
    const end = text.indexOf('"', i + 1);
    if (end === -1) return undefined;
    const opaque = text.slice(i + 1, end);
    if (!ETAGC.test(opaque)) return undefined;
    tags.push({ weak, opaque });
    i = end + 1;
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i < text.length) {
      if (text[i] !== ',') return undefined;
      i++;
      while (text[i] === ' ' || text[i] === '\t') i++;
    }
  }
  return tags.length > 0 ? tags : undefined;
}

/*
 * A CoAP ETag is 1 … 8 opaque bytes (RFC 7252 §5.10.6); an HTTP entity tag is a quoted
 * string of etagc characters. Bytes that are all etagc are spelled as they are. Any other
 * bytes — a binary ETag from a CoAP peer — and bytes that begin with "~" are spelled "~"
 * followed by their base64url, which is etagc: every CoAP ETag has exactly one HTTP
 * spelling and maps back to the same bytes. An HTTP tag that begins with "~" but is not
 * such a spelling has no CoAP form; it travels as an HTTP-Field.
 */
const ESCAPE = '~';

function needsEscape(opaque: string): boolean {
  return opaque.startsWith(ESCAPE) || !ETAGC.test(opaque);
}

/** The CoAP ETag value of a strong HTTP entity tag (RFC 7252 §5.10.6), or `undefined` if it has none. */
export function coapEtagOf(tag: EntityTag): Uint8Array | undefined {
  if (tag === '*' || tag.weak) return undefined;
  let bytes: Buffer;
  if (tag.opaque.startsWith(ESCAPE)) {
    const encoded = tag.opaque.slice(ESCAPE.length);
    bytes = Buffer.from(encoded, 'base64url');
    const canonical = bytes.toString('base64url') === encoded;
    if (!canonical || !needsEscape(bytes.toString('latin1'))) return undefined;
  } else {
    bytes = Buffer.from(tag.opaque, 'latin1');
  }
  return bytes.length >= 1 && bytes.length <= 8 ? new Uint8Array(bytes) : undefined;
}

/** The HTTP spelling of a CoAP ETag value, or `undefined` if its length is not 1 … 8 bytes. */
export function httpEtagOf(value: Uint8Array): string | undefined {
  if (value.length < 1 || value.length > 8) return undefined;
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.length);
  const opaque = bytes.toString('latin1');
  return `"${needsEscape(opaque) ? ESCAPE + bytes.toString('base64url') : opaque}"`;
}
