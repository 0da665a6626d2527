/**
 * Media type ⇄ CoAP Content-Format (RFC 8075 §6.4 with the "CoAP Content-Formats"
 * registry, RFC 7252 §12.3). Matching ignores case and spacing around parameters;
 * a media type outside this table has no Content-Format and travels as an HTTP-Field.
 * application/oscore (10001) is never used inside (RFC 8613 §11.3).
 */

// Registry entries as registered (the canonical spelling written back on the far side).
const REGISTRY: readonly (readonly [number, string])[] = [
  [0, 'text/plain;charset=utf-8'], // RFC 7252
  [16, 'application/cose;cose-type="cose-encrypt0"'], // RFC 9052
  [17, 'application/cose;cose-type="cose-mac0"'],
  [18, 'application/cose;cose-type="cose-sign1"'],
  [40, 'application/link-format'], // RFC 6690
  [41, 'application/xml'], // RFC 3023
  [42, 'application/octet-stream'], // RFC 2045
  [47, 'application/exi'],
  [50, 'application/json'], // RFC 8259
  [51, 'application/json-patch+json'], // RFC 6902
  [52, 'application/merge-patch+json'], // RFC 7396
  [60, 'application/cbor'], // RFC 8949
  [61, 'application/cwt'], // RFC 8392
  [62, 'application/multipart-core'], // RFC 8710
  [63, 'application/cbor-seq'], // RFC 8742
  [96, 'application/cose;cose-type="cose-encrypt"'],
  [97, 'application/cose;cose-type="cose-mac"'],
  [98, 'application/cose;cose-type="cose-sign"'],
  [101, 'application/cose-key'],
  [102, 'application/cose-key-set'],
  [110, 'application/senml+json'], // RFC 8428
  [111, 'application/sensml+json'],
  [112, 'application/senml+cbor'],
  [113, 'application/sensml+cbor'],
];

/** Lower-cases type, subtype, parameter names and the charset value; drops spaces and parameter quotes. */
export function normalizeMediaType(value: string): string {
  const [type = '', ...params] = value.split(';');
  const norm = params
    .map((p) => {
      const eq = p.indexOf('=');
      if (eq === -1) return p.trim().toLowerCase();
      const name = p.slice(0, eq).trim().toLowerCase();
      let v = p.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return `${name}=${name === 'charset' ? v.toLowerCase() : v}`;
    })
    .filter((p) => p.length > 0);
  return [type.trim().toLowerCase(), ...norm].join(';');
}

const BY_TYPE = new Map(REGISTRY.map(([cf, type]) => [normalizeMediaType(type), cf]));

// JSON is UTF-8 by definition; "adding [a charset] really has no effect on compliant recipients" (RFC 8259 §11).
function withoutJsonCharset(normalized: string): string {
  const [type = '', ...params] = normalized.split(';');
  if (type !== 'application/json' && !type.endsWith('+json')) return normalized;
  return [type, ...params.filter((p) => p !== 'charset=utf-8')].join(';');
}
const BY_FORMAT = new Map(REGISTRY.map(([cf, type]) => [cf, type]));

// Lookups by the exact header value: a service sends few distinct media types, and the
// normalisation costs more than the lookup. Bounded, as the values come from the network.
const LOOKUP_CACHE_SIZE = 256;
const lookups = new Map<string, number | undefined>();

/** The Content-Format of a media type, or `undefined`. */
export function mediaTypeToContentFormat(value: string): number | undefined {
  if (lookups.has(value)) return lookups.get(value);
  const format = BY_TYPE.get(withoutJsonCharset(normalizeMediaType(value)));
  if (lookups.size >= LOOKUP_CACHE_SIZE) lookups.clear();
  lookups.set(value, format);
  return format;
}

/** The registered media type of a Content-Format, or `undefined` for one this table lacks. */
export function contentFormatToMediaType(format: number): string | undefined {
  return BY_FORMAT.get(format);
}
