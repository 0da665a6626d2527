"""RFC 8613 Appendix C reproduced by this peer: every value below is typed from the
RFC text (C.1-C.8, and the AAD example of §5.4), and the protected CoAP messages are
rebuilt byte for byte from the unprotected ones. `oscore_peer.py --self-test` runs it.
"""

from __future__ import annotations

import coap_codec as coap
import oscore_proto as oscore

h = bytes.fromhex

SECRET = h("0102030405060708090a0b0c0d0e0f10")
SALT = h("9e7ca92223786340")
ID_CONTEXT = h("37cbf3210017a2d3")

# C.1-C.3: (name, client inputs, expected client values). The server side of each
# vector is the mirror: sender and recipient swapped.
DERIVATIONS = [
    (
        "C.1 (Master Salt)",
        dict(master_secret=SECRET, master_salt=SALT, sender_id=b"", recipient_id=h("01")),
        dict(
            sender_info="8540f60a634b657910",
            recipient_info="854101f60a634b657910",
            iv_info="8540f60a6249560d",
            sender_key="f0910ed7295e6ad4b54fc793154302ff",
            recipient_key="ffb14e093c94c9cac9471648b4f98710",
            common_iv="4622d4dd6d944168eefb54987c",
            sender_nonce="4622d4dd6d944168eefb54987c",
            recipient_nonce="4722d4dd6d944169eefb54987c",
        ),
    ),
    (
        "C.2 (no Master Salt)",
        dict(master_secret=SECRET, sender_id=h("00"), recipient_id=h("01")),
        dict(
            sender_info="854100f60a634b657910",
            recipient_info="854101f60a634b657910",
            iv_info="8540f60a6249560d",
            sender_key="321b26943253c7ffb6003b0b64d74041",
            recipient_key="e57b5635815177cd679ab4bcec9d7dda",
            common_iv="be35ae297d2dace910c52e99f9",
            sender_nonce="bf35ae297d2dace910c52e99f9",
            recipient_nonce="bf35ae297d2dace810c52e99f9",
        ),
    ),
    (
        "C.3 (ID Context)",
        dict(master_secret=SECRET, master_salt=SALT, sender_id=b"", recipient_id=h("01"), id_context=ID_CONTEXT),
        dict(
            sender_info="85404837cbf3210017a2d30a634b657910",
            recipient_info="8541014837cbf3210017a2d30a634b657910",
            iv_info="85404837cbf3210017a2d30a6249560d",
            sender_key="af2a1300a5e95788b356336eeecd2b92",
            recipient_key="e39a0c7c77b43f03b4b39ab9a268699f",
            common_iv="2ca58fb85ff1b81c0b7181b85e",
            sender_nonce="2ca58fb85ff1b81c0b7181b85e",
            recipient_nonce="2da58fb85ff1b81d0b7181b85e",
        ),
    ),
]

# C.4-C.6: requests protected by the client of C.1-C.3 with Sender Sequence Number 20.
REQUESTS = [
    (
        "C.4",
        0,
        dict(
            unprotected="44015d1f00003974396c6f63616c686f737483747631",
            partial_iv="14",
            aad_array="8501810a40411440",
            aad="8368456e63727970743040488501810a40411440",
            plaintext="01b3747631",
            nonce="4622d4dd6d944168eefb549868",
            option="0914",
            ciphertext="612f1092f1776f1c1668b3825e",
            protected="44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e",
        ),
    ),
    (
        "C.5",
        1,
        dict(
            unprotected="440171c30000b932396c6f63616c686f737483747631",
            partial_iv="14",
            aad_array="8501810a4100411440",
            aad="8368456e63727970743040498501810a4100411440",
            plaintext="01b3747631",
            nonce="bf35ae297d2dace910c52e99ed",
            option="091400",
            ciphertext="4ed339a5a379b0b8bc731fffb0",
            protected="440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0",
        ),
    ),
    (
        "C.6",
        2,
        dict(
            unprotected="44012f8eef9bbf7a396c6f63616c686f737483747631",
            partial_iv="14",
            aad_array="8501810a40411440",
            aad="8368456e63727970743040488501810a40411440",
            plaintext="01b3747631",
            nonce="2ca58fb85ff1b81c0b7181b84a",
            option="19140837cbf3210017a2d3",
            ciphertext="72cd7273fd331ac45cffbe55c3",
            protected="44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff72cd7273fd331ac45cffbe55c3",
        ),
    ),
]

# C.7 and C.8: responses by the server of C.1 to the request of C.4.
RESPONSES = [
    (
        "C.7 (request nonce)",
        False,
        dict(
            unprotected="64455d1f00003974ff48656c6c6f20576f726c6421",
            aad_array="8501810a40411440",
            aad="8368456e63727970743040488501810a40411440",
            plaintext="45ff48656c6c6f20576f726c6421",
            nonce="4622d4dd6d944168eefb549868",
            option="",
            ciphertext="dbaad1e9a7e7b2a813d3c31524378303cdafae119106",
            protected="64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106",
        ),
    ),
    (
        "C.8 (own Partial IV)",
        True,
        dict(
            unprotected="64455d1f00003974ff48656c6c6f20576f726c6421",
            partial_iv="00",
            aad_array="8501810a40411440",
            aad="8368456e63727970743040488501810a40411440",
            plaintext="45ff48656c6c6f20576f726c6421",
            nonce="4722d4dd6d944169eefb54987c",
            option="0100",
            ciphertext="4d4c13669384b67354b2b6175ff4b8658c666a6cf88e",
            protected="64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e",
        ),
    ),
]

# Options that stay outside in these vectors: Uri-Host is Class U (§4.1.3.2).
OUTER_OPTIONS = {coap.URI_HOST, coap.URI_PORT, coap.PROXY_SCHEME, coap.PROXY_URI}


def split_message(raw: bytes):
    """§4: Class E options and the code go inside; the outer code is POST for a request,
    2.04 Changed for a response (§4.2)."""
    msg = coap.decode_message(raw)
    inner = [(n, v) for n, v in msg["options"] if n not in OUTER_OPTIONS]
    outer = [(n, v) for n, v in msg["options"] if n in OUTER_OPTIONS]
    plaintext = coap.encode_inner(msg["code"], inner, msg["payload"])
    outer_code = 0x02 if msg["code"] >> 5 == 0 else 0x44
    return msg, outer, outer_code, plaintext


def oscore_message(msg, outer, outer_code, option: bytes, ciphertext: bytes) -> bytes:
    return coap.encode_message(msg["type"], outer_code, msg["message_id"], msg["token"], outer + [(coap.OSCORE, option)], ciphertext)


class Checker:
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.passed = 0
        self.failed: list[str] = []

    def eq(self, label: str, actual, expected) -> None:
        if isinstance(actual, (bytes, bytearray)):
            actual = actual.hex()
        if actual == expected:
            self.passed += 1
            if self.verbose:
                print(f"ok    {label}")
        else:
            self.failed.append(label)
            print(f"FAIL  {label}: expected {expected}, got {actual}")


def client_context(i: int) -> oscore.SecurityContext:
    return oscore.SecurityContext(**DERIVATIONS[i][1])


def server_context(i: int) -> oscore.SecurityContext:
    args = dict(DERIVATIONS[i][1])
    args["sender_id"], args["recipient_id"] = args["recipient_id"], args["sender_id"]
    return oscore.SecurityContext(**args)


def check_protected(t, name: str, protected, e: dict, message: bytes, with_piv: bool) -> None:
    """Every intermediate value of one protected message against the RFC's (Appendix C)."""
    d = protected.details
    if with_piv:
        t.eq(f"{name} Partial IV", d["partialIv"], e["partial_iv"])
    t.eq(f"{name} aad_array", d["aadArray"], e["aad_array"])
    t.eq(f"{name} AAD", d["aad"], e["aad"])
    t.eq(f"{name} nonce", d["nonce"], e["nonce"])
    t.eq(f"{name} OSCORE option", protected.option, e["option"])
    t.eq(f"{name} ciphertext", protected.ciphertext, e["ciphertext"])
    t.eq(f"{name} protected message", message, e["protected"])


def run(verbose: bool = False) -> int:
    t = Checker(verbose)

    # §5.4 example AAD
    arr = oscore.aad_array(10, h("00"), h("25"))
    t.eq("§5.4 aad_array", arr, "8501810a4100412540")
    t.eq("§5.4 AAD", oscore.enc_structure(arr), "8368456e63727970743040498501810a4100412540")

    for i, (name, _, e) in enumerate(DERIVATIONS):
        for side, ctx, mirror in (("client", client_context(i), False), ("server", server_context(i), True)):
            s_info, r_info = (e["recipient_info"], e["sender_info"]) if mirror else (e["sender_info"], e["recipient_info"])
            s_key, r_key = (e["recipient_key"], e["sender_key"]) if mirror else (e["sender_key"], e["recipient_key"])
            s_nonce, r_nonce = (e["recipient_nonce"], e["sender_nonce"]) if mirror else (e["sender_nonce"], e["recipient_nonce"])
            t.eq(f"{name} {side} info (Sender Key)", ctx.sender_key_info, s_info)
            t.eq(f"{name} {side} info (Recipient Key)", ctx.recipient_key_info, r_info)
            t.eq(f"{name} {side} info (Common IV)", ctx.common_iv_info, e["iv_info"])
            t.eq(f"{name} {side} Sender Key", ctx.sender_key, s_key)
            t.eq(f"{name} {side} Recipient Key", ctx.recipient_key, r_key)
            t.eq(f"{name} {side} Common IV", ctx.common_iv, e["common_iv"])
            t.eq(f"{name} {side} sender nonce", oscore.nonce(ctx.common_iv, ctx.sender_id, oscore.partial_iv(0)), s_nonce)
            t.eq(f"{name} {side} recipient nonce", oscore.nonce(ctx.common_iv, ctx.recipient_id, oscore.partial_iv(0)), r_nonce)

    # Requests: protect (client side) and verify (server side).
    for name, i, e in REQUESTS:
        msg, outer, outer_code, plaintext = split_message(h(e["unprotected"]))
        t.eq(f"{name} plaintext", plaintext, e["plaintext"])
        client = client_context(i)
        client.sender_sequence_number = 20
        protected, _ = oscore.protect_request(client, plaintext)
        check_protected(t, name, protected, e, oscore_message(msg, outer, outer_code, protected.option, protected.ciphertext), with_piv=True)
        t.eq(f"{name} sequence number incremented", client.sender_sequence_number, 21)

        server = server_context(i)
        received = coap.decode_message(h(e["protected"]))
        option = next(v for n, v in received["options"] if n == coap.OSCORE)
        find = lambda kid, kc, s=server: [s] if s.recipient_id == kid and (kc is None or kc == s.id_context) else []  # noqa: E731
        verified, _ = oscore.verify_request(find, option, received["payload"])
        t.eq(f"{name} verified by the server", verified, e["plaintext"])
        try:
            oscore.verify_request(find, option, received["payload"])
            t.eq(f"{name} replay refused", "accepted", "ReplayDetected")
        except oscore.ReplayDetected:
            t.eq(f"{name} replay refused", "ReplayDetected", "ReplayDetected")
        tampered = bytearray(received["payload"])
        tampered[0] ^= 1
        try:
            oscore.verify_request(lambda kid, kc: [server_context(i)], option, bytes(tampered))
            t.eq(f"{name} tampered ciphertext refused", "accepted", "DecryptionFailed")
        except oscore.DecryptionFailed:
            t.eq(f"{name} tampered ciphertext refused", "DecryptionFailed", "DecryptionFailed")

    # Responses to the C.4 request: protect (server side) and verify (client side).
    for name, own_piv, e in RESPONSES:
        server = server_context(0)
        c4 = REQUESTS[0][2]
        received = coap.decode_message(h(c4["protected"]))
        option = next(v for n, v in received["options"] if n == coap.OSCORE)
        _, binding = oscore.verify_request(lambda kid, kc: [server], option, received["payload"])
        msg, outer, outer_code, plaintext = split_message(h(e["unprotected"]))
        t.eq(f"{name} plaintext", plaintext, e["plaintext"])
        protected = oscore.protect_response(binding, plaintext, own_piv=own_piv)
        check_protected(t, name, protected, e, oscore_message(msg, outer, outer_code, protected.option, protected.ciphertext), with_piv=own_piv)

        client = client_context(0)
        client.sender_sequence_number = 20
        _, req_binding = oscore.protect_request(client, h(c4["plaintext"]))
        got = coap.decode_message(h(e["protected"]))
        r_option = next(v for n, v in got["options"] if n == coap.OSCORE)
        t.eq(f"{name} verified by the client", oscore.verify_response(req_binding, r_option, got["payload"]), e["plaintext"])

    # docs/wire-format.md §3 "A complete exchange": the bytes oscore-http documents for
    # GET /orders/42?verbose=1 (Accept 50, HTTP-Field x-request-id:r1) with the C.1
    # context and sequence number 20, recomputed here.
    inner = coap.encode_inner(0x01, coap.split_target("/orders/42?verbose=1") + [(coap.ACCEPT, b"\x32"), (coap.HTTP_FIELD, b"x-request-id:r1")])
    t.eq("wire-format.md request plaintext", inner, "01b66f726465727302343249766572626f73653d312132edfccc02782d726571756573742d69643a7231")
    client = client_context(0)
    protected, req_binding = oscore.protect_request(client, inner, 20)
    t.eq("wire-format.md OSCORE option", protected.option, "0914")
    t.eq("wire-format.md request body", protected.ciphertext, "612a0b96a4e519eb36b115027f1f3d5d05d7441223fbac22193319cda78fb02ef7d9f7207a2d3d4d2a5976cdcbcb2558e1f5")
    _, srv_binding = oscore.verify_request(lambda kid, kc: [server_context(0)], protected.option, protected.ciphertext)
    response = oscore.protect_response(srv_binding, h("45c132ff7b226964223a34327d"))
    t.eq("wire-format.md response body", response.ciphertext, "db94ab73b0a9b4ec6686854b3d741554192f655743")

    # The OSCORE option value codec (§6.1) on malformed values.
    for label, value in [
        ("reserved flag bit", "8914"),
        ("Partial IV length 6", "0e0102030405ff"),
        ("truncated Partial IV", "05010203"),
        ("kid context overrun", "19141002"),
    ]:
        try:
            oscore.OptionValue.decode(h(value))
            t.eq(f"§6.1 {label} refused", "accepted", "DecodeError")
        except oscore.DecodeError:
            t.eq(f"§6.1 {label} refused", "DecodeError", "DecodeError")

    # Replay window (§7.4, RFC 6347 §4.1.2.6).
    w = oscore.ReplayWindow(32)
    for seq in (100, 90, 131):
        w.accept(seq)
    t.eq("window: 100 seen", w.seen(100), True)
    t.eq("window: 101 new", w.seen(101), False)
    t.eq("window: 99 too old (131 - 32)", w.seen(99), True)
    t.eq("window: 132 new", w.seen(132), False)
    w.accept(2**40 - 1)  # a jump far beyond the window
    t.eq("window: after a jump, 131 too old", w.seen(131), True)
    t.eq("window: after a jump, 2^40 - 2 new", w.seen(2**40 - 2), False)

    total = t.passed + len(t.failed)
    if t.failed:
        print(f"self-test FAILED: {len(t.failed)} of {total} checks")
        return 1
    print(f"self-test passed: {total} checks (RFC 8613 Appendix C.1-C.8, §5.4, §6.1, §7.4; docs/wire-format.md §3 example)")
    return 0
