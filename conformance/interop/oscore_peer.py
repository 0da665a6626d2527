#!/usr/bin/python3
"""An independent OSCORE-over-HTTP peer (RFC 8613 §11), for interoperability tests.

Written from RFC 8613, RFC 7252, RFC 8075 and RFC 9052/9053 only (and the HTTP
framing conventions of docs/wire-format.md), with no code from oscore-http.

    oscore_peer.py --self-test
    oscore_peer.py vectors conformance/vectors/*.json
    oscore_peer.py client --url http://127.0.0.1:8080 --secret HEX [--salt HEX] \\
        --sender-id HEX --recipient-id HEX [--id-context HEX] [--alg 10] \\
        --method GET --path '/x?y=1' [--body TEXT | --body-hex HEX] [--content-format N] \\
        [--field 'name:value']... [--seq N] [--replay]
    oscore_peer.py server --port 0 (--contexts FILE | --secret HEX ... --sender-id HEX --recipient-id HEX)

Run it with Debian's /usr/bin/python3 (python3-cryptography, python3-cbor2).
See README.md beside this file.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import http.client
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import coap_codec as coap  # noqa: E402
import oscore_proto as oscore  # noqa: E402

OSCORE_MEDIA_TYPE = "application/oscore"  # RFC 8613 §13.5
DEFAULT_OUTER_PATH = "/oscore"
MAX_OUTER_BODY = 1024 * 1024
ECHO_PATH = ["conformance", "echo"]

# CoAP Content-Formats (RFC 7252 §12.3 and the IANA registry), for readable output.
CONTENT_FORMATS = {
    0: "text/plain;charset=utf-8",
    40: "application/link-format",
    41: "application/xml",
    42: "application/octet-stream",
    47: "application/exi",
    50: "application/json",
    60: "application/cbor",
}


# ---------------------------------------------------------------------------
# The HTTP OSCORE header field (RFC 8613 §11.1-11.3)

_B64URL = re.compile(r"^[A-Za-z0-9_-]{2,}$")


def header_from_option(value: bytes) -> str:
    """§11.2: "AA" for the empty option, else base64url without padding."""
    if not value:
        return "AA"
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def option_from_header(field: str) -> bytes:
    """§11.3 and §11.1 (OSCORE = 2*base64url-char): strict base64url without padding.

    Raises DecodeError for padding, characters outside the alphabet, an impossible
    length, or a non-canonical encoding (unused trailing bits set).
    """
    if not _B64URL.match(field) or len(field) % 4 == 1:
        raise oscore.DecodeError("OSCORE header field is not unpadded base64url")
    try:
        value = base64.urlsafe_b64decode(field + "=" * (-len(field) % 4))
    except (binascii.Error, ValueError) as e:
        raise oscore.DecodeError("OSCORE header field is not base64url") from e
    if header_from_option(value) != field and not (field == "AA" and value == b"\0"):
        raise oscore.DecodeError("OSCORE header field is not in canonical base64url")
    if value == b"\0":
        return b""  # "AA": the empty option
    if len(value) > 255:
        raise oscore.DecodeError("OSCORE option longer than 255 bytes (§2)")
    return value


# ---------------------------------------------------------------------------
# Contexts: command-line arguments or an oscore-http-contexts/1 file (docs/context-file.md)


def _secret(ref, base_dir: str) -> bytes:
    if isinstance(ref, str):
        return bytes.fromhex(ref)
    encoding = ref.get("encoding", "hex")
    if "hex" in ref:
        return bytes.fromhex(ref["hex"])
    if "base64" in ref:
        return base64.b64decode(ref["base64"])
    if "env" in ref:
        raw = os.environ[ref["env"]].encode()
    elif "file" in ref:
        with open(os.path.join(base_dir, ref["file"]), "rb") as f:
            raw = f.read()
    else:
        raise ValueError(f"unknown secret reference {ref!r}")
    if encoding == "raw":
        return raw
    if encoding == "base64":
        return base64.b64decode(raw.strip())
    return bytes.fromhex(raw.decode().strip())


def contexts_from_file(path: str, default_window: int) -> list[oscore.SecurityContext]:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != "oscore-http-contexts/1":
        raise ValueError(f"{path}: not an oscore-http-contexts/1 file")
    base_dir = os.path.dirname(os.path.abspath(path))
    out = []
    for c in doc["contexts"]:
        out.append(
            oscore.SecurityContext(
                master_secret=_secret(c["masterSecret"], base_dir),
                master_salt=_secret(c["masterSalt"], base_dir) if "masterSalt" in c else b"",
                sender_id=bytes.fromhex(c["senderId"]),
                recipient_id=bytes.fromhex(c["recipientId"]),
                id_context=bytes.fromhex(c["idContext"]) if "idContext" in c else None,
                aead=oscore.aead_of(c.get("aeadAlgorithm", 10)),
                hkdf_hash=oscore.HKDFS[str(c.get("hkdfAlgorithm", "HKDF-SHA-256")).lower()],
                replay_window_size=int(c.get("replayWindow", default_window)),
                send_kid_context=c.get("sendKidContext"),
                name=c.get("name", ""),
            )
        )
    return out


def context_from_args(a) -> oscore.SecurityContext:
    return oscore.SecurityContext(
        master_secret=bytes.fromhex(a.secret),
        master_salt=bytes.fromhex(a.salt or ""),
        sender_id=bytes.fromhex(a.sender_id),
        recipient_id=bytes.fromhex(a.recipient_id),
        id_context=bytes.fromhex(a.id_context) if a.id_context is not None else None,
        aead=oscore.aead_of(a.alg),
        replay_window_size=a.replay_window,
        send_kid_context=False if a.no_kid_context else None,
    )


def add_context_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--contexts", help="an oscore-http-contexts/1 file (docs/context-file.md)")
    p.add_argument("--context", help="with --contexts: the name of the context to use (client)")
    p.add_argument("--secret", help="Master Secret, hex")
    p.add_argument("--salt", default="", help="Master Salt, hex (default empty)")
    p.add_argument("--sender-id", help="this side's Sender ID, hex ('' is the empty ID)")
    p.add_argument("--recipient-id", help="the peer's Sender ID, hex")
    p.add_argument("--id-context", help="ID Context, hex")
    p.add_argument("--no-kid-context", action="store_true", help="do not send the ID Context as 'kid context'")
    p.add_argument("--alg", default="10", help="COSE AEAD algorithm number or name (default 10, AES-CCM-16-64-128)")
    p.add_argument("--replay-window", type=int, default=32, help="replay window size (default 32, RFC 8613 §3.2.2)")


def load_contexts(a) -> list[oscore.SecurityContext]:
    if a.contexts:
        return contexts_from_file(a.contexts, a.replay_window)
    missing = [n for n in ("secret", "sender_id", "recipient_id") if getattr(a, n) is None]
    if missing:
        raise SystemExit(f"missing --{missing[0].replace('_', '-')} (or give --contexts)")
    return [context_from_args(a)]


# ---------------------------------------------------------------------------
# Describing inner messages as JSON


def http_fields(options) -> list[list[str]]:
    """The HTTP-Field options (docs/wire-format.md §3): `name ":" value`, ISO-8859-1."""
    out = []
    for number, value in options:
        if number != coap.HTTP_FIELD:
            continue
        text = value.decode("latin-1")
        cut = text.find(":", 1 if text.startswith(":") else 0)
        if cut > 0:
            out.append([text[:cut], text[cut + 1 :]])
    return out


def describe(code: int, options, payload: bytes) -> dict:
    out = {
        "code": coap.code_string(code),
        "codeByte": code,
        "options": [
            {"number": n, "name": coap.OPTION_NAMES.get(n, f"Option{n}"), "value": v.hex()} for n, v in options
        ],
        "payloadHex": payload.hex(),
    }
    try:
        out["payloadUtf8"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        out["payloadUtf8"] = None
    cf = [coap.bytes_uint(v) for n, v in options if n == coap.CONTENT_FORMAT]
    out["contentFormat"] = cf[0] if cf else None
    out["fields"] = http_fields(options)
    return out


# ---------------------------------------------------------------------------
# Client (RFC 8613 §8.1, §8.4, §11.1-11.2)


def default_sequence_number() -> int:
    """Milliseconds since 2024-01-01: each run starts above the previous one (fits 5 bytes until ~2058)."""
    return int((time.time() - 1704067200) * 1000)


def client_main(a) -> int:
    contexts = load_contexts(a)
    ctx = contexts[0]
    if a.context:
        ctx = next(c for c in contexts if c.name == a.context)
    url = urlsplit(a.url)
    method = a.method.upper() if a.method.upper() != "IPATCH" else "iPATCH"
    options = coap.split_target(a.path)
    if method.upper() in coap.METHODS:
        code = coap.METHODS[method.upper()]
    else:  # a method without a CoAP code: 0.02 + HTTP-Code (docs/wire-format.md §3)
        code = coap.METHODS["POST"]
        options.append((coap.HTTP_CODE, method.encode("ascii")))
    if a.content_format is not None:
        options.append((coap.CONTENT_FORMAT, coap.uint_bytes(a.content_format)))
    if a.accept is not None:
        options.append((coap.ACCEPT, coap.uint_bytes(a.accept)))
    for f in a.field or []:
        options.append((coap.HTTP_FIELD, f.encode("latin-1")))
    for raw in a.option or []:  # NUMBER=HEX, for negative tests
        number, _, value = raw.partition("=")
        options.append((int(number), bytes.fromhex(value)))
    payload = bytes.fromhex(a.body_hex) if a.body_hex is not None else (a.body or "").encode("utf-8")
    plaintext = coap.encode_inner(code, options, payload)
    if a.plaintext_hex is not None:  # an arbitrary inner message, for negative tests
        plaintext = bytes.fromhex(a.plaintext_hex)
    seq = a.seq if a.seq is not None else default_sequence_number()
    forced_piv = bytes.fromhex(a.piv_hex) if a.piv_hex is not None else None
    protected, binding = oscore.protect_request(ctx, plaintext, seq, forced_piv)
    headers = {"Content-Type": OSCORE_MEDIA_TYPE, "OSCORE": header_from_option(protected.option)}
    outer_path = a.outer_path

    report: dict = {
        "request": {
            "sequenceNumber": seq,
            "plaintext": plaintext.hex(),
            "oscoreHeader": headers["OSCORE"],
            "body": protected.ciphertext.hex(),
            "outerPath": outer_path,
        }
    }

    def send() -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=a.timeout)
        try:
            conn.request("POST", outer_path, body=protected.ciphertext, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    ok = True
    status, rheaders, body = send()
    report["outer"] = {"status": status, "headers": rheaders}
    try:
        report["response"] = verify_http_response(binding, status, rheaders, body)
    except VerificationFailure as e:
        ok = False
        report["error"] = str(e)
        report["outer"]["body"] = body[:200].decode("utf-8", "replace")
    if a.replay:
        # The byte-identical request again (RFC 8613 §7.4): a server must refuse it.
        status2, rheaders2, body2 = send()
        report["replay"] = {"status": status2, "headers": rheaders2, "body": body2[:200].decode("utf-8", "replace")}
        report["replay"]["protected"] = OSCORE_MEDIA_TYPE in rheaders2.get("content-type", "")
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


class VerificationFailure(Exception):
    pass


def verify_http_response(binding, status: int, headers: dict, body: bytes) -> dict:
    """§11.1/§11.3 framing, then §8.4. Anything else is not a verified response."""
    if "oscore" not in headers:
        raise VerificationFailure(f"unprotected response: HTTP {status} without an OSCORE header field")
    if status != 200:
        raise VerificationFailure(f"OSCORE response with HTTP status {status}, not 200 (§11.1)")
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != OSCORE_MEDIA_TYPE:
        raise VerificationFailure(f"OSCORE response with Content-Type {ctype!r} (§11.1)")
    try:
        option = option_from_header(headers["oscore"])
        plaintext = oscore.verify_response(binding, option, body)
    except oscore.OscoreError as e:
        raise VerificationFailure(f"response does not verify: {type(e).__name__}: {e}") from e
    try:
        code, options, payload = coap.decode_inner(plaintext)
    except coap.FormatError as e:
        raise VerificationFailure(f"decrypted response is not a CoAP message: {e}") from e
    check_inner_response(code, options)
    return describe(code, options, payload)


def check_inner_response(code: int, options) -> None:
    if code >> 5 not in (2, 4, 5):
        raise VerificationFailure(f"decrypted code {coap.code_string(code)} is not a response code")
    if any(n == coap.OSCORE for n, _ in options):
        raise VerificationFailure("nested OSCORE option in the response (RFC 8613 §4.1.3.7)")
    unknown = [n for n, _ in options if coap.is_critical(n) and n not in RESPONSE_CRITICAL]
    if unknown:  # RFC 7252 §5.4.1: a response with an unrecognized critical option is rejected
        raise VerificationFailure(f"decrypted response has unrecognized critical option {unknown[0]}")


# Critical options this client understands in a response: HTTP-Code (docs/wire-format.md §3),
# which it reports in the JSON like any other option.
RESPONSE_CRITICAL = {coap.HTTP_CODE}


# ---------------------------------------------------------------------------
# Server (RFC 8613 §8.2, §8.3, §11.1, §11.3)

# RFC 7252 §5.4.3 ranges and §5.4.5 repeatability of the options this server knows.
KNOWN_OPTIONS = {
    # number: (min length, max length, repeatable)
    coap.IF_MATCH: (0, 8, True),
    coap.URI_HOST: (1, 255, False),
    coap.ETAG: (1, 8, True),
    coap.IF_NONE_MATCH: (0, 0, False),
    coap.URI_PORT: (0, 2, False),
    coap.LOCATION_PATH: (0, 255, True),
    coap.URI_PATH: (0, 255, True),
    coap.CONTENT_FORMAT: (0, 2, False),
    coap.MAX_AGE: (0, 4, False),
    coap.URI_QUERY: (0, 255, True),
    coap.ACCEPT: (0, 2, False),
    coap.LOCATION_QUERY: (0, 255, True),
    coap.PROXY_URI: (1, 1034, False),
    coap.PROXY_SCHEME: (1, 255, False),
    coap.HTTP_FIELD: (2, 65804, True),
    coap.HTTP_CODE: (1, 16, False),
}


class InnerError(Exception):
    """A CoAP processing error after verification: answered protected (§8.3)."""

    def __init__(self, code: int, diagnostic: str):
        super().__init__(diagnostic)
        self.code = code
        self.diagnostic = diagnostic


def check_inner_request(code: int, options) -> list[tuple[int, bytes]]:
    """RFC 7252 §5.4.1, §5.4.3, §5.4.5, §5.8, §5.10.1, §5.10.2 on the decrypted request.

    Returns the options to act on (elective options with a bad length are dropped)."""
    if code >> 5 != 0 or code == 0:
        raise InnerError(0x80, "Not a request")  # RFC 8613 §5.3: the plaintext must be a request
    if any(n == coap.OSCORE for n, _ in options):
        raise InnerError(0x80, "Nested OSCORE")  # RFC 8613 §4.1.3.7: processing SHALL be stopped
    kept = []
    counts: dict[int, int] = {}
    for number, value in options:
        counts[number] = counts.get(number, 0) + 1
        known = KNOWN_OPTIONS.get(number)
        if known is None:
            if coap.is_critical(number):
                raise InnerError(0x82, f"Unrecognized critical option {number}")  # 4.02
            continue  # unknown elective: ignored
        lo, hi, repeatable = known
        bad = not (lo <= len(value) <= hi) or (not repeatable and counts[number] > 1)
        if bad:
            if coap.is_critical(number):
                raise InnerError(0x82, f"Bad option {number}")  # §5.4.3/§5.4.5: unrecognized -> 4.02
            continue
        kept.append((number, value))
    if any(n in (coap.PROXY_URI, coap.PROXY_SCHEME) for n, _ in kept):
        raise InnerError(0xA5, "Proxying Not Supported")  # 5.05, RFC 7252 §5.10.2
    if code not in coap.METHOD_CODES:
        raise InnerError(0x85, "Method Not Allowed")  # 4.05, RFC 7252 §5.8
    if not any(n == coap.HTTP_FIELD and v.startswith(b":path:") for n, v in kept):
        if any(n == coap.URI_PATH and v in (b".", b"..") for n, v in kept):
            raise InnerError(0x80, "Uri-Path must not be '.' or '..'")  # RFC 7252 §5.10.1
    return kept


# Test hooks: a verified request for /interop/defect/<name> gets a response that a
# client must refuse (RFC 8613 §8.4), each broken in one way.
DEFECTS = {
    "tag": "one bit of the tag flipped (§8.4 step 5)",
    "request-piv": "protected with the AAD of another request, request_piv + 1 (§5.4, §7.1)",
    "request-code": "a request code (0.01) inside (RFC 7252 §3, RFC 8613 §5.3)",
    "reserved-flag": "OSCORE option with a reserved flag bit (§6.1)",
    "padded-header": "OSCORE header field with base64 padding (§11.1)",
    "unprotected": "a plain 200 text/plain response (§8.4: not an OSCORE response)",
}


class App:
    """The application behind OSCORE: the echo route and 4.04 elsewhere."""

    def __init__(self):
        self.lock = threading.Lock()
        self.served = 0

    def handle(self, code: int, options, payload: bytes) -> tuple[int, list, bytes]:
        method = coap.METHOD_CODES[code]
        extension = [v for n, v in options if n == coap.HTTP_CODE]
        if extension:
            method = extension[0].decode("ascii", "replace")
        fields = http_fields(options)
        paths = [v for n, v in options if n == coap.URI_PATH]
        exact = [v for k, v in fields if k == ":path"]
        target = exact[0] if exact else coap.compose_target(options)
        on_echo = (target.split("?")[0] == "/conformance/echo") if exact else (paths == [p.encode() for p in ECHO_PATH])
        if not on_echo:
            return 0x84, [], b"Not Found"  # 4.04
        with self.lock:
            self.served += 1
            count = self.served
        out = [(coap.HTTP_FIELD, f"x-echo-method:{method}".encode("latin-1")),
               (coap.HTTP_FIELD, f"x-echo-target:{target}".encode("latin-1")),
               (coap.HTTP_FIELD, f"x-echo-count:{count}".encode("latin-1"))]
        out += [(n, v) for n, v in options if n == coap.CONTENT_FORMAT]
        out += [(coap.HTTP_FIELD, f"{k}:{v}".encode("latin-1")) for k, v in fields if k in ("content-type", "content-encoding")]
        return 0x45, out, b"" if method == "HEAD" else payload  # 2.05 Content


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes
    server_version = "oscore-peer-py/1"
    contexts: list[oscore.SecurityContext] = []
    app: App
    outer_paths = (DEFAULT_OUTER_PATH, "/")
    verbose = False
    response_piv = False

    def log_message(self, format, *args):  # noqa: A002
        if self.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    # -- outer HTTP ---------------------------------------------------------

    def send_plain(self, status: int, text: str, extra: dict | None = None, close: bool = False) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Cache-Control", "no-store")  # the HTTP form of Outer Max-Age 0 (§8.2)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_oscore_error(self, e: oscore.OscoreError) -> None:
        """§8.2 / §8.3: OSCORE errors are simple (unprotected) responses."""
        status = {0x80: 400, 0x81: 401, 0x82: 400}[e.coap_code]
        extra = {"WWW-Authenticate": "OSCORE"} if status == 401 else None
        self.send_plain(status, e.diagnostic, extra)

    def read_body(self) -> bytes | None:
        """The request body, or None after answering 413 (the connection is then closed)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_OUTER_BODY:
                    self.send_plain(413, "Payload too large", close=True)
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_OUTER_BODY:
            self.send_plain(413, "Payload too large", close=True)
            return None
        return self.rfile.read(length)

    def handle_any(self):
        try:
            self.handle_oscore()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a defect of this peer: say so instead of dropping the connection
            sys.stderr.write(f"internal error: {type(e).__name__}: {e}\n")
            self.send_plain(500, "Internal error of the Python peer", close=True)

    def handle_oscore(self):
        body = self.read_body()
        if body is None:
            return
        path = self.path.split("?")[0]
        fields = self.headers.get_all("OSCORE") or []
        if path not in self.outer_paths:
            if fields:
                return self.send_plain(404, "Unknown OSCORE endpoint")
            # RFC 8613 §9/§12.1: the application is only reachable with OSCORE.
            return self.send_plain(401, "OSCORE required", {"WWW-Authenticate": "OSCORE"})
        if self.command != "POST":
            return self.send_plain(405, "OSCORE requests use POST", {"Allow": "POST"})  # §11.1
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != OSCORE_MEDIA_TYPE:
            return self.send_plain(415, "Content-Type must be application/oscore")  # §11.1
        try:
            if len(fields) != 1:
                # Missing, or repeated: the OSCORE option is not repeatable (§2).
                raise oscore.DecodeError("exactly one OSCORE header field required")
            option = option_from_header(fields[0].strip())
            plaintext, binding = oscore.verify_request(self.find_contexts, option, body)
        except oscore.OscoreError as e:
            return self.send_oscore_error(e)
        # Verified: from here on every answer is protected (§8.3).
        defect = None
        try:
            code, options, payload = coap.decode_inner(plaintext)
            options = check_inner_request(code, options)
            paths = [v for n, v in options if n == coap.URI_PATH]
            if len(paths) == 3 and paths[:2] == [b"interop", b"defect"] and paths[2].decode() in DEFECTS:
                defect = paths[2].decode()
                rcode, roptions, rpayload = 0x45, [], b"defective answer"
            else:
                rcode, roptions, rpayload = self.app.handle(code, options, payload)
        except coap.FormatError:
            rcode, roptions, rpayload = 0x80, [], b"Malformed inner message"
        except InnerError as e:
            rcode, roptions, rpayload = e.code, [], e.diagnostic.encode()
        if defect == "request-code":
            rcode = 0x01  # a request code where a response code belongs
        if defect == "request-piv":  # bound to another request (§7.1): request_piv + 1
            seq = int.from_bytes(binding.piv, "big") + 1
            binding = oscore.RequestBinding(binding.context, binding.kid, oscore.partial_iv(seq), binding.nonce)
        protected = oscore.protect_response(binding, coap.encode_inner(rcode, roptions, rpayload), own_piv=self.response_piv)
        header, body = header_from_option(protected.option), protected.ciphertext
        if defect == "tag":
            body = body[:-1] + bytes([body[-1] ^ 1])
        elif defect == "reserved-flag":
            header = header_from_option(b"\x20")  # §6.1: a reserved flag bit
        elif defect == "padded-header":
            header = "AA=="  # §11.1: base64url without padding
        elif defect == "unprotected":
            return self.send_plain(200, "not protected")
        self.send_response(200)
        self.send_header("Content-Type", OSCORE_MEDIA_TYPE)
        self.send_header("OSCORE", header)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def find_contexts(self, kid: bytes, kid_context: bytes | None):
        """§8.2 step 2: by Recipient ID, and by ID Context when 'kid context' is present (§5)."""
        return [
            c for c in self.contexts
            if c.recipient_id == kid and (kid_context is None or c.id_context == kid_context)
        ]


def server_main(a) -> int:
    contexts = load_contexts(a)
    handler = type("BoundHandler", (Handler,), {
        "contexts": contexts,
        "app": App(),
        "outer_paths": (a.outer_path, "/"),
        "verbose": a.verbose,
        "response_piv": a.response_piv,
    })
    httpd = ThreadingHTTPServer((a.host, a.port), handler)
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--self-test"]:
        import self_test

        try:
            return self_test.run(verbose="-v" in argv)
        except Exception as e:  # a check that could not even run is a failure too
            print(f"self-test FAILED: {type(e).__name__}: {e}")
            return 1
    if argv[:1] == ["vectors"]:
        import vectors

        return vectors.run(argv[1:])
    parser = argparse.ArgumentParser(prog="oscore_peer.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("client", help="send one OSCORE request and print the verified inner response as JSON")
    c.add_argument("--url", required=True, help="the server's origin, e.g. http://127.0.0.1:8080")
    c.add_argument("--outer-path", default=DEFAULT_OUTER_PATH)
    c.add_argument("--method", default="GET")
    c.add_argument("--path", default="/", help="inner target: path and query")
    c.add_argument("--body", help="payload, UTF-8 text")
    c.add_argument("--body-hex", help="payload, hex")
    c.add_argument("--content-format", type=int)
    c.add_argument("--accept", type=int)
    c.add_argument("--field", action="append", help="an HTTP-Field option, 'name:value' (repeatable)")
    c.add_argument("--option", action="append", help="a raw inner option NUMBER=HEX (repeatable)")
    c.add_argument("--plaintext-hex", help="send this plaintext instead of the one built from the arguments")
    c.add_argument("--piv-hex", help="send exactly these Partial IV bytes (e.g. with leading zeros; tests only)")
    c.add_argument("--seq", type=int, help="Sender Sequence Number (default: milliseconds since 2024)")
    c.add_argument("--replay", action="store_true", help="send the identical protected request a second time")
    c.add_argument("--timeout", type=float, default=10.0)
    add_context_args(c)

    s = sub.add_parser("server", help="serve OSCORE over HTTP on 127.0.0.1; prints the port first")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--outer-path", default=DEFAULT_OUTER_PATH)
    s.add_argument("--verbose", action="store_true")
    s.add_argument("--response-piv", action="store_true",
                   help="protect responses with the server's own Partial IV (§8.3 step 3, second alternative)")
    add_context_args(s)

    a = parser.parse_args(argv)
    return client_main(a) if a.command == "client" else server_main(a)


if __name__ == "__main__":
    sys.exit(main())
