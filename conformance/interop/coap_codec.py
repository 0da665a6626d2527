"""CoAP message encoding, written from RFC 7252 (and RFC 8132 for the extra methods).

Only what an OSCORE peer needs:

* the option list codec of RFC 7252 §3.1 (delta/length nibbles, extended 8/16-bit
  forms, 15 reserved for the payload marker);
* the OSCORE plaintext of RFC 8613 §5.3: one Code byte, the Class E options, and
  0xFF + payload when there is a payload;
* the full CoAP message of RFC 7252 §3 (4-byte header, token), only so that the
  self-test can reproduce the protected messages of RFC 8613 Appendix C byte for byte;
* composing a path/query from Uri-Path/Uri-Query options (RFC 7252 §6.5) and the
  reverse split (§6.4 steps 8-9).

Options are plain (number, value-bytes) tuples, kept in message order.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

# RFC 7252 §12.2 (Table 7), RFC 7641, RFC 7959, RFC 8613 §2, RFC 9175 §2.2.
OPTION_NAMES = {
    1: "If-Match",
    3: "Uri-Host",
    4: "ETag",
    5: "If-None-Match",
    6: "Observe",
    7: "Uri-Port",
    8: "Location-Path",
    9: "OSCORE",
    11: "Uri-Path",
    12: "Content-Format",
    14: "Max-Age",
    15: "Uri-Query",
    17: "Accept",
    20: "Location-Query",
    23: "Block2",
    27: "Block1",
    28: "Size2",
    35: "Proxy-Uri",
    39: "Proxy-Scheme",
    60: "Size1",
    252: "Echo",
    258: "No-Response",
    292: "Request-Tag",
    # oscore-http's elective extension option for arbitrary HTTP fields
    # (docs/wire-format.md §3), from the experimental range of RFC 7252 §12.2.
    65002: "HTTP-Field",
    65003: "HTTP-Code",
}

IF_MATCH = 1
URI_HOST = 3
ETAG = 4
IF_NONE_MATCH = 5
URI_PORT = 7
LOCATION_PATH = 8
OSCORE = 9
URI_PATH = 11
CONTENT_FORMAT = 12
MAX_AGE = 14
URI_QUERY = 15
ACCEPT = 17
LOCATION_QUERY = 20
PROXY_URI = 35
PROXY_SCHEME = 39
HTTP_FIELD = 65002
HTTP_CODE = 65003

PAYLOAD_MARKER = 0xFF

# RFC 7252 §12.1.1 and RFC 8132 §2-3: request method codes (class 0).
METHOD_CODES = {1: "GET", 2: "POST", 3: "PUT", 4: "DELETE", 5: "FETCH", 6: "PATCH", 7: "iPATCH"}
METHODS = {name.upper(): code for code, name in METHOD_CODES.items()}


class FormatError(ValueError):
    """A message format error (RFC 7252 §3: the message cannot be parsed)."""


def code_string(code: int) -> str:
    """The c.dd notation of RFC 7252 §3 (class 3 bits, detail 5 bits)."""
    return f"{code >> 5}.{code & 0x1F:02d}"


def make_code(klass: int, detail: int) -> int:
    return (klass << 5) | detail


def is_critical(number: int) -> bool:
    """RFC 7252 §5.4.6: odd option numbers are critical."""
    return number & 1 == 1


# ---------------------------------------------------------------------------
# Options (RFC 7252 §3.1)


def _nibble(value: int) -> tuple[int, bytes]:
    if value < 13:
        return value, b""
    if value < 269:
        return 13, bytes([value - 13])
    if value < 269 + 65536:
        return 14, (value - 269).to_bytes(2, "big")
    raise ValueError(f"option delta/length {value} does not fit in the CoAP option format")


def encode_options(options: list[tuple[int, bytes]]) -> bytes:
    """Delta-encodes options. They are sorted by number first (stable: repeated options keep their order)."""
    out = bytearray()
    previous = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        delta_nibble, delta_ext = _nibble(number - previous)
        length_nibble, length_ext = _nibble(len(value))
        out.append((delta_nibble << 4) | length_nibble)
        out += delta_ext + length_ext + bytes(value)
        previous = number
    return bytes(out)


def decode_options(data: bytes) -> tuple[list[tuple[int, bytes]], bytes | None]:
    """Decodes options up to the end or the payload marker.

    Returns (options, payload); payload is None when there is no marker. A marker
    followed by a zero-length payload is a format error (RFC 7252 §3).
    """
    options: list[tuple[int, bytes]] = []
    number = 0
    i = 0
    n = len(data)
    while i < n:
        byte = data[i]
        i += 1
        if byte == PAYLOAD_MARKER:
            payload = bytes(data[i:])
            if not payload:
                raise FormatError("payload marker followed by a zero-length payload")
            return options, payload
        delta, length = byte >> 4, byte & 0x0F
        if delta == 15 or length == 15:
            raise FormatError("option nibble 15 outside the payload marker")
        values = []
        for nibble in (delta, length):
            if nibble == 13:
                if i + 1 > n:
                    raise FormatError("truncated extended option field")
                values.append(data[i] + 13)
                i += 1
            elif nibble == 14:
                if i + 2 > n:
                    raise FormatError("truncated extended option field")
                values.append(int.from_bytes(data[i : i + 2], "big") + 269)
                i += 2
            else:
                values.append(nibble)
        delta, length = values
        if i + length > n:
            raise FormatError("option value runs past the end of the message")
        number += delta
        options.append((number, bytes(data[i : i + length])))
        i += length
    return options, None


# ---------------------------------------------------------------------------
# The OSCORE plaintext (RFC 8613 §5.3, Figure 9)


def encode_inner(code: int, options: list[tuple[int, bytes]], payload: bytes = b"") -> bytes:
    out = bytes([code]) + encode_options(options)
    if payload:
        out += bytes([PAYLOAD_MARKER]) + payload
    return out


def decode_inner(plaintext: bytes) -> tuple[int, list[tuple[int, bytes]], bytes]:
    if not plaintext:
        raise FormatError("empty plaintext: no Code byte")
    options, payload = decode_options(plaintext[1:])
    return plaintext[0], options, payload or b""


# ---------------------------------------------------------------------------
# Full CoAP messages over UDP (RFC 7252 §3), for the Appendix C self-test only


def encode_message(mtype: int, code: int, message_id: int, token: bytes, options, payload: bytes = b"") -> bytes:
    if len(token) > 8:
        raise ValueError("token longer than 8 bytes")
    header = bytes([(1 << 6) | (mtype << 4) | len(token), code]) + message_id.to_bytes(2, "big")
    out = header + token + encode_options(options)
    if payload:
        out += bytes([PAYLOAD_MARKER]) + payload
    return out


def decode_message(data: bytes):
    if len(data) < 4 or data[0] >> 6 != 1:
        raise FormatError("not a CoAP version 1 message")
    tkl = data[0] & 0x0F
    if tkl > 8 or len(data) < 4 + tkl:
        raise FormatError("bad token length")
    options, payload = decode_options(data[4 + tkl :])
    return {
        "type": (data[0] >> 4) & 0x03,
        "code": data[1],
        "message_id": int.from_bytes(data[2:4], "big"),
        "token": bytes(data[4 : 4 + tkl]),
        "options": options,
        "payload": payload or b"",
    }


# ---------------------------------------------------------------------------
# uint option values (RFC 7252 §3.2: shortest form, 0 is the empty value)


def uint_bytes(value: int) -> bytes:
    return b"" if value == 0 else value.to_bytes((value.bit_length() + 7) // 8, "big")


def bytes_uint(value: bytes) -> int:
    return int.from_bytes(value, "big") if value else 0


# ---------------------------------------------------------------------------
# URIs (RFC 7252 §6.4 steps 8-9, §6.5 steps 6-8)

_UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = set(b"!$&'()*+,;=")
_PATH_KEEP = _UNRESERVED | _SUB_DELIMS | set(b":@")
_QUERY_KEEP = (_UNRESERVED | _SUB_DELIMS | set(b":@/?")) - {ord("&")}


def _percent(value: bytes, keep: set[int]) -> str:
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in value)


def compose_target(options: list[tuple[int, bytes]]) -> str:
    """The resource name (path and query) of RFC 7252 §6.5 steps 6-8."""
    name = "".join("/" + _percent(v, _PATH_KEEP) for n, v in options if n == URI_PATH) or "/"
    queries = [_percent(v, _QUERY_KEEP) for n, v in options if n == URI_QUERY]
    if queries:
        name += "?" + "&".join(queries)
    return name


def split_target(target: str) -> list[tuple[int, bytes]]:
    """Uri-Path and Uri-Query options for an origin-form target (RFC 7252 §6.4 steps 8-9)."""
    path, _, query = target.partition("?")
    options: list[tuple[int, bytes]] = []
    if path not in ("", "/"):
        for segment in path.lstrip("/").split("/"):
            options.append((URI_PATH, unquote_to_bytes(segment)))
    if query:
        for argument in query.split("&"):
            options.append((URI_QUERY, unquote_to_bytes(argument)))
    return options
