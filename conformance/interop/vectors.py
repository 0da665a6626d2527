"""A harness for the implementation-neutral vector files of this repository
(`conformance/vectors/*.json`, format `oscore-vectors/1`, docs/conformance.md §6), run
with this peer's own code: `oscore_peer.py vectors FILE...`.

Positive vectors are checked in both directions (every intermediate value the vector
lists when protecting; the plaintext when verifying). Rejection vectors must be
rejected, with the RFC 8613 §8.2 outcome the vector names; the error codes are this
project's names, mapped here to the peer's own error classes.
"""

from __future__ import annotations

import json

import coap_codec as coap
import oscore_proto as oscore

h = bytes.fromhex

# The vector format's error codes (docs/errors.md) and the peer's own exceptions.
ERRORS = {
    "ERR_OSCORE_MALFORMED_OPTION": oscore.DecodeError,
    "ERR_OSCORE_MALFORMED_COSE": oscore.DecodeError,
    "ERR_OSCORE_CONTEXT_NOT_FOUND": oscore.ContextNotFound,
    "ERR_OSCORE_REPLAY": oscore.ReplayDetected,
    "ERR_OSCORE_DECRYPTION_FAILED": oscore.DecryptionFailed,
}


class Failure(Exception):
    pass


def _eq(label: str, actual: bytes, expected: str) -> None:
    if actual.hex() != expected:
        raise Failure(f"{label}: expected {expected}, got {actual.hex()}")


def _context(c: dict, client: bool, window: int = 32) -> oscore.SecurityContext:
    me, peer = (c["clientId"], c["serverId"]) if client else (c["serverId"], c["clientId"])
    return oscore.SecurityContext(
        master_secret=h(c["masterSecret"]),
        master_salt=h(c.get("masterSalt") or ""),
        sender_id=h(me),
        recipient_id=h(peer),
        id_context=h(c["idContext"]) if c.get("idContext") is not None else None,
        aead=oscore.aead_of(c.get("aeadAlgorithm") or 10),
        hkdf_hash=oscore.HKDFS[(c.get("hkdfAlgorithm") or "HKDF-SHA-256").lower()],
        replay_window_size=window,
        send_kid_context=c.get("sendKidContext"),  # None: when there is an ID Context
    )


def _plaintext(m: dict) -> bytes:
    return coap.encode_inner(m["code"], [(o["number"], h(o["value"])) for o in m["options"]], h(m["payload"]))


def _finder(ctx):
    return lambda kid, kc: [ctx] if ctx.recipient_id == kid and (kc is None or kc == ctx.id_context) else []


def _check_protected(e: dict, protected: oscore.Protected) -> None:
    d = protected.details
    for key, actual in (("plaintext", d["plaintext"]), ("partialIv", d["partialIv"]), ("aadArray", d["aadArray"]),
                        ("aad", d["aad"]), ("nonce", d["nonce"]), ("option", protected.option), ("payload", protected.ciphertext)):
        if key in e:
            _eq(key, actual if actual is not None else b"", e[key])


def _inner_request_ok(plaintext: bytes) -> None:
    """The part of CoAP processing the vectors cover: a well-formed request (RFC 7252 §3, RFC 8613 §4.1.3.7, §5.3)."""
    code, options, _ = coap.decode_inner(plaintext)
    if code >> 5 != 0 or code == 0 or any(n == coap.OSCORE for n, _ in options):
        raise coap.FormatError("not a request, or a nested OSCORE option")


def _inner_response_ok(plaintext: bytes) -> None:
    code, options, _ = coap.decode_inner(plaintext)
    if code >> 5 not in (2, 4, 5) or any(n == coap.OSCORE for n, _ in options):
        raise coap.FormatError("not a response, or a nested OSCORE option")


def run_vector(v: dict) -> None:
    kind, e = v["kind"], v["expect"]
    if kind == "derivation":
        i = v["input"]
        try:
            ctx = oscore.SecurityContext(
                master_secret=h(i["masterSecret"]), master_salt=h(i.get("masterSalt") or ""),
                sender_id=h(i["senderId"]), recipient_id=h(i["recipientId"]),
                id_context=h(i["idContext"]) if i.get("idContext") is not None else None,
                aead=oscore.aead_of(i.get("aeadAlgorithm", 10)),
                hkdf_hash=oscore.HKDFS[(i.get("hkdfAlgorithm") or "HKDF-SHA-256").lower()],
            )
        except (ValueError, KeyError) as err:
            if "error" in e:
                return
            raise Failure(f"context refused: {err}") from err
        if "error" in e:
            raise Failure(f"context accepted, expected {e['error']}")
        for key, actual in (("senderKeyInfo", ctx.sender_key_info), ("recipientKeyInfo", ctx.recipient_key_info),
                            ("commonIvInfo", ctx.common_iv_info), ("senderKey", ctx.sender_key),
                            ("recipientKey", ctx.recipient_key), ("commonIv", ctx.common_iv)):
            _eq(key, actual, e[key])
        if "nonces" in e:
            piv = h(e["nonces"]["partialIv"])
            _eq("sender nonce", oscore.nonce(ctx.common_iv, ctx.sender_id, piv), e["nonces"]["sender"])
            _eq("recipient nonce", oscore.nonce(ctx.common_iv, ctx.recipient_id, piv), e["nonces"]["recipient"])
        return

    c = v["context"]
    client, server = _context(c, True), _context(c, False, v.get("replayWindowSize", 32))

    if kind in ("request", "response"):
        req = v["request"]
        plaintext = _plaintext(req["message"])
        protected, binding = oscore.protect_request(client, plaintext, req["sequenceNumber"])
        if kind == "request":
            _check_protected(e, protected)
        verified, server_binding = oscore.verify_request(_finder(server), protected.option, protected.ciphertext)
        _eq("request verified by the server", verified, plaintext.hex())
        if kind == "request":
            return
        resp = v["response"]
        own = "sequenceNumber" in resp
        if own:
            server.sender_sequence_number = resp["sequenceNumber"]
        rprot = oscore.protect_response(server_binding, _plaintext(resp["message"]), own_piv=own)
        _check_protected(e, rprot)
        _eq("response verified by the client", oscore.verify_response(binding, rprot.option, rprot.ciphertext), _plaintext(resp["message"]).hex())
        return

    if kind == "request-rejection":
        received = v["received"]
        for n, msg in enumerate(received):
            last = n == len(received) - 1
            try:
                plaintext, _ = oscore.verify_request(_finder(server), h(msg["option"]), h(msg["payload"]))
                _inner_request_ok(plaintext)
            except oscore.OscoreError as err:
                if not last:
                    raise Failure(f"message {n + 1} refused ({type(err).__name__}), expected it accepted") from err
                expected = ERRORS.get(e["error"])
                if expected is None or not isinstance(err, expected):
                    raise Failure(f"refused with {type(err).__name__}, expected {e['error']}") from err
                outcome = coap.code_string(err.coap_code)
                if outcome != e["outcome"]:
                    raise Failure(f"outcome {outcome}, expected {e['outcome']}") from err
                return
            except coap.FormatError as err:
                if not last or e["error"] != "ERR_OSCORE_MALFORMED_PLAINTEXT":
                    raise Failure(f"plaintext refused ({err}), expected {e['error'] if last else 'accepted'}") from err
                if e["outcome"] != "4.00":  # a malformed authentic request: protected 4.00 (§8.3)
                    raise Failure(f"outcome 4.00, expected {e['outcome']}") from err
                return
        raise Failure(f"every message accepted, expected {e['error']}")

    if kind == "response-rejection":
        req = v["request"]
        _, binding = oscore.protect_request(client, _plaintext(req["message"]), req["sequenceNumber"])
        got = v["received"]
        try:
            plaintext = oscore.verify_response(binding, h(got["option"]), h(got["payload"]))
            _inner_response_ok(plaintext)
        except oscore.OscoreError as err:
            expected = ERRORS.get(e["error"])
            if expected is None or not isinstance(err, expected):
                raise Failure(f"refused with {type(err).__name__}, expected {e['error']}") from err
            return
        except coap.FormatError as err:
            if e["error"] != "ERR_OSCORE_MALFORMED_PLAINTEXT":
                raise Failure(f"plaintext refused ({err}), expected {e['error']}") from err
            return
        raise Failure(f"response accepted, expected {e['error']}")

    raise Failure(f"unknown vector kind {kind}")


def run(files: list[str]) -> int:
    total = failed = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("format") != "oscore-vectors/1":
            print(f"{path}: not an oscore-vectors/1 file")
            return 3
        n_failed = 0
        for v in doc["vectors"]:
            total += 1
            try:
                run_vector(v)
            except Exception as err:  # noqa: BLE001 - every failure is reported with its vector
                n_failed += 1
                print(f"FAIL  {path} {v['id']} ({v['reference']}): {type(err).__name__}: {err}")
        failed += n_failed
        print(f"{path}: {len(doc['vectors']) - n_failed}/{len(doc['vectors'])} passed")
    print(f"vectors: {total - failed} of {total} passed")
    return 1 if failed else 0
