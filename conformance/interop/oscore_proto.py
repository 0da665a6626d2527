"""OSCORE (RFC 8613), written from the RFC text: security context, nonce, AAD, option
value, protection and verification of requests and responses, replay window.

Section numbers in comments are RFC 8613's unless another RFC is named. Crypto comes
from `cryptography` (HKDF, AES-CCM, AES-GCM, ChaCha20/Poly1305); CBOR from `cbor2`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import coap_codec as coap


# ---------------------------------------------------------------------------
# AEAD algorithms (RFC 9053 §4.1-4.3; RFC 8613 §5: AES-CCM-16-64-128 is mandatory)


@dataclass(frozen=True)
class Aead:
    cose: int
    name: str
    key_length: int
    nonce_length: int
    tag_length: int

    def _cipher(self, key: bytes):
        if self.name.startswith("AES-CCM"):
            return AESCCM(key, tag_length=self.tag_length)
        if self.name.startswith("A") and self.name.endswith("GCM"):
            return AESGCM(key)
        return ChaCha20Poly1305(key)

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._cipher(key).encrypt(nonce, plaintext, aad)

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        return self._cipher(key).decrypt(nonce, ciphertext, aad)


AEADS = {
    a.cose: a
    for a in (
        Aead(10, "AES-CCM-16-64-128", 16, 13, 8),
        Aead(11, "AES-CCM-16-64-256", 32, 13, 8),
        Aead(30, "AES-CCM-16-128-128", 16, 13, 16),
        Aead(31, "AES-CCM-16-128-256", 32, 13, 16),
        Aead(1, "A128GCM", 16, 12, 16),
        Aead(2, "A192GCM", 24, 12, 16),
        Aead(3, "A256GCM", 32, 12, 16),
        Aead(24, "ChaCha20/Poly1305", 32, 12, 16),
    )
}
AEAD_BY_NAME = {a.name.lower(): a for a in AEADS.values()}


def aead_of(spec) -> Aead:
    if isinstance(spec, int) or (isinstance(spec, str) and spec.lstrip("-").isdigit()):
        return AEADS[int(spec)]
    return AEAD_BY_NAME[str(spec).lower()]


HKDFS = {"hkdf-sha-256": hashes.SHA256, "hkdf-sha-512": hashes.SHA512}


# ---------------------------------------------------------------------------
# Errors, each with the outcome RFC 8613 §8.2 suggests


class OscoreError(Exception):
    """An OSCORE processing failure; `coap_code` and `diagnostic` per §8.2 / §7.4."""

    coap_code = 0x80  # 4.00
    diagnostic = "Bad Request"


class DecodeError(OscoreError):
    coap_code = 0x82  # 4.02 Bad Option, §8.2 step 2
    diagnostic = "Failed to decode COSE"


class ContextNotFound(OscoreError):
    coap_code = 0x81  # 4.01, §8.2 step 2
    diagnostic = "Security context not found"


class ReplayDetected(OscoreError):
    coap_code = 0x81  # 4.01, §7.4
    diagnostic = "Replay detected"


class DecryptionFailed(OscoreError):
    coap_code = 0x80  # 4.00, §8.2 step 6
    diagnostic = "Decryption failed"


# ---------------------------------------------------------------------------
# Security context (§3)


def hkdf_info(id_: bytes, id_context: bytes | None, alg: int, type_: str, length: int) -> bytes:
    """§3.2.1: info = [ id, id_context / nil, alg_aead, type, L ]."""
    return cbor2.dumps([id_, id_context, alg, type_, length])


def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int, hash_cls=hashes.SHA256) -> bytes:
    # §3.2.1: an absent salt is the empty string, which HKDF (RFC 5869 §2.2) turns into
    # HashLen zeros; `None` asks `cryptography` for exactly that.
    return HKDF(algorithm=hash_cls(), length=length, salt=salt or None, info=info).derive(ikm)


class ReplayWindow:
    """§7.4 with the default mechanism of §3.2.2: the sliding anti-replay window of
    RFC 6347 §4.1.2.6 (IPsec AH/ESP). `top` is the highest accepted number; bit i of
    `bits` says whether top - i was accepted."""

    def __init__(self, size: int = 32):
        if size < 1:
            raise ValueError("replay window size must be at least 1")
        self.size = size
        self.top: int | None = None
        self.bits = 0

    def seen(self, seq: int) -> bool:
        """True if `seq` was received before, or is too old to be known not to have been."""
        if self.top is None or seq > self.top:
            return False
        offset = self.top - seq
        if offset >= self.size:
            return True
        return bool(self.bits >> offset & 1)

    def accept(self, seq: int) -> None:
        if self.top is None:
            self.top, self.bits = seq, 1
        elif seq > self.top:
            shift = seq - self.top
            # A jump of a window or more forgets everything older (and never shifts by 2^40 bits).
            self.bits = 1 if shift >= self.size else ((self.bits << shift) | 1) & ((1 << self.size) - 1)
            self.top = seq
        else:
            self.bits |= 1 << (self.top - seq)


@dataclass
class SecurityContext:
    master_secret: bytes
    master_salt: bytes = b""
    sender_id: bytes = b""
    recipient_id: bytes = b""
    id_context: bytes | None = None
    aead: Aead = field(default_factory=lambda: AEADS[10])
    hkdf_hash: type = hashes.SHA256
    replay_window_size: int = 32
    sender_sequence_number: int = 0
    send_kid_context: bool | None = None  # default: when id_context is set
    name: str = ""

    def __post_init__(self):
        limit = self.aead.nonce_length - 6  # §3.3, §5.2
        for label, value in (("Sender ID", self.sender_id), ("Recipient ID", self.recipient_id)):
            if len(value) > limit:
                raise ValueError(f"{label} is {len(value)} bytes; {self.aead.name} allows at most {limit}")
        if self.sender_id == self.recipient_id:
            # §3.3: Sender IDs are unique among the contexts of one Master Secret, Master
            # Salt and ID Context, and the Recipient ID is the peer's Sender ID.
            raise ValueError("Sender ID and Recipient ID must differ")
        if self.send_kid_context is None:
            self.send_kid_context = self.id_context is not None
        alg = self.aead.cose
        self.sender_key_info = hkdf_info(self.sender_id, self.id_context, alg, "Key", self.aead.key_length)
        self.recipient_key_info = hkdf_info(self.recipient_id, self.id_context, alg, "Key", self.aead.key_length)
        self.common_iv_info = hkdf_info(b"", self.id_context, alg, "IV", self.aead.nonce_length)
        derive = lambda info, n: hkdf(self.master_salt, self.master_secret, info, n, self.hkdf_hash)  # noqa: E731
        self.sender_key = derive(self.sender_key_info, self.aead.key_length)
        self.recipient_key = derive(self.recipient_key_info, self.aead.key_length)
        self.common_iv = derive(self.common_iv_info, self.aead.nonce_length)
        self.replay_window = ReplayWindow(self.replay_window_size)
        self.lock = threading.Lock()

    def next_sequence_number(self) -> int:
        with self.lock:
            seq = self.sender_sequence_number
            if seq > 2**40 - 1:  # §7.2.1: at most 2^40 - 1 (5-byte Partial IV)
                raise OscoreError("sender sequence numbers exhausted")
            self.sender_sequence_number += 1
            return seq


# ---------------------------------------------------------------------------
# Nonce (§5.2), Partial IV (§5), AAD (§5.4)


def partial_iv(seq: int) -> bytes:
    """§5: the sequence number in network byte order without leading zero bytes; 0 is 0x00."""
    return seq.to_bytes(max(1, (seq.bit_length() + 7) // 8), "big")


def nonce(common_iv: bytes, id_piv: bytes, piv: bytes) -> bytes:
    n = len(common_iv)
    if len(piv) > 5 or len(id_piv) > n - 6:
        raise ValueError("Partial IV or ID_PIV too long for the nonce")
    block = bytes([len(id_piv)]) + id_piv.rjust(n - 6, b"\0") + piv.rjust(5, b"\0")
    return bytes(a ^ b for a, b in zip(block, common_iv))


def aad_array(alg: int, request_kid: bytes, request_piv: bytes, class_i_options: bytes = b"") -> bytes:
    """§5.4: [ oscore_version = 1, [ alg_aead ], request_kid, request_piv, options ]."""
    return cbor2.dumps([1, [alg], request_kid, request_piv, class_i_options])


def enc_structure(aad_array_bytes: bytes) -> bytes:
    """§5.4 / RFC 9052 §5.3: [ "Encrypt0", h'' (empty protected), external_aad ]."""
    return cbor2.dumps(["Encrypt0", b"", aad_array_bytes])


# ---------------------------------------------------------------------------
# The OSCORE option value (§6.1)


@dataclass
class OptionValue:
    partial_iv: bytes | None = None
    kid_context: bytes | None = None
    kid: bytes | None = None

    def encode(self) -> bytes:
        piv = self.partial_iv or b""
        if len(piv) > 5:
            raise ValueError("Partial IV longer than 5 bytes")
        flags = len(piv)
        if self.kid is not None:
            flags |= 0x08
        if self.kid_context is not None:
            flags |= 0x10
        if flags == 0:
            return b""  # §2: all flag bits zero -> the option value is empty
        out = bytes([flags]) + piv
        if self.kid_context is not None:
            if len(self.kid_context) > 255:
                raise ValueError("kid context longer than 255 bytes")
            out += bytes([len(self.kid_context)]) + self.kid_context
        if self.kid is not None:
            out += self.kid
        return out

    @classmethod
    def decode(cls, value: bytes) -> "OptionValue":
        if not value:
            return cls()
        flags = value[0]
        if flags == 0:
            raise DecodeError("flag bits all zero in a non-empty option (§2: the value SHALL be empty)")
        if flags & 0xE0:
            raise DecodeError("reserved OSCORE flag bits set")
        n = flags & 0x07
        if n in (6, 7):
            raise DecodeError("reserved Partial IV length")
        i = 1
        out = cls()
        if n:
            if i + n > len(value):
                raise DecodeError("truncated Partial IV")
            out.partial_iv = bytes(value[i : i + n])
            i += n
        if flags & 0x10:
            if i >= len(value):
                raise DecodeError("missing kid context length")
            s = value[i]
            i += 1
            if i + s > len(value):
                raise DecodeError("truncated kid context")
            out.kid_context = bytes(value[i : i + s])
            i += s
        if flags & 0x08:
            out.kid = bytes(value[i:])
        elif i != len(value):
            raise DecodeError("trailing bytes in the OSCORE option without a kid")
        return out


# ---------------------------------------------------------------------------
# Requests (§8.1, §8.2) and responses (§8.3, §8.4)


@dataclass
class RequestBinding:
    """What a response is bound to (§7.1, §8): the request's context, kid, Partial IV, nonce."""

    context: SecurityContext
    kid: bytes
    piv: bytes
    nonce: bytes


@dataclass
class Protected:
    option: bytes  # OSCORE option value
    ciphertext: bytes
    details: dict


def protect_request(ctx: SecurityContext, plaintext: bytes, seq: int | None = None, piv: bytes | None = None) -> tuple[Protected, RequestBinding]:
    """§8.1. `piv` forces the Partial IV's bytes (tests only: §5 requires the minimal form)."""
    if piv is None:
        piv = partial_iv(ctx.next_sequence_number() if seq is None else seq)
    aad_arr = aad_array(ctx.aead.cose, ctx.sender_id, piv)
    aad = enc_structure(aad_arr)
    n = nonce(ctx.common_iv, ctx.sender_id, piv)
    ciphertext = ctx.aead.encrypt(ctx.sender_key, n, plaintext, aad)
    option = OptionValue(piv, ctx.id_context if ctx.send_kid_context else None, ctx.sender_id).encode()
    details = {"partialIv": piv, "aadArray": aad_arr, "aad": aad, "nonce": n, "plaintext": plaintext}
    return Protected(option, ciphertext, details), RequestBinding(ctx, ctx.sender_id, piv, n)


def verify_request(find_contexts, option_value: bytes, ciphertext: bytes) -> tuple[bytes, RequestBinding]:
    """§8.2 steps 2-6 plus the replay-window update. `find_contexts(kid, kid_context)`
    returns the candidate contexts (§3.3: a Recipient ID may name several)."""
    opt = OptionValue.decode(option_value)  # DecodeError -> 4.02
    if opt.partial_iv is None or opt.kid is None:
        raise DecodeError("a request needs 'Partial IV' and 'kid' (§5)")
    if not ciphertext:
        raise DecodeError("OSCORE message without payload (§2)")
    candidates = find_contexts(opt.kid, opt.kid_context)
    if not candidates:
        raise ContextNotFound()
    seq = int.from_bytes(opt.partial_iv, "big")
    last_error: OscoreError = DecryptionFailed()
    for ctx in candidates:
        # Check, decrypt and update under one lock: §7.4 "MUST be atomic".
        with ctx.lock:
            if ctx.replay_window.seen(seq):
                last_error = ReplayDetected()
                continue
            aad = enc_structure(aad_array(ctx.aead.cose, opt.kid, opt.partial_iv))
            n = nonce(ctx.common_iv, opt.kid, opt.partial_iv)
            try:
                plaintext = ctx.aead.decrypt(ctx.recipient_key, n, ciphertext, aad)
            except InvalidTag:
                continue
            ctx.replay_window.accept(seq)
        return plaintext, RequestBinding(ctx, opt.kid, opt.partial_iv, n)
    raise last_error


def protect_response(binding: RequestBinding, plaintext: bytes, own_piv: bool = False) -> Protected:
    """§8.3. By default the request's nonce is reused and no Partial IV is sent (step 3,
    first alternative; step 4: it "MUST NOT be included")."""
    ctx = binding.context
    aad_arr = aad_array(ctx.aead.cose, binding.kid, binding.piv)
    aad = enc_structure(aad_arr)
    if own_piv:
        piv = partial_iv(ctx.next_sequence_number())
        n = nonce(ctx.common_iv, ctx.sender_id, piv)
        option = OptionValue(partial_iv=piv).encode()
    else:
        piv = None
        n = binding.nonce
        option = b""
    ciphertext = ctx.aead.encrypt(ctx.sender_key, n, plaintext, aad)
    return Protected(option, ciphertext, {"partialIv": piv, "aadArray": aad_arr, "aad": aad, "nonce": n, "plaintext": plaintext})


def verify_response(binding: RequestBinding, option_value: bytes, ciphertext: bytes) -> bytes:
    """§8.4 steps 2-5. Raises OscoreError on any failure (step 8: stop processing)."""
    ctx = binding.context
    opt = OptionValue.decode(option_value)
    if not ciphertext:
        raise DecodeError("OSCORE response without payload (§2)")
    aad = enc_structure(aad_array(ctx.aead.cose, binding.kid, binding.piv))
    if opt.partial_iv is None:
        n = binding.nonce
    else:
        n = nonce(ctx.common_iv, ctx.recipient_id, opt.partial_iv)
    try:
        return ctx.aead.decrypt(ctx.recipient_key, n, ciphertext, aad)
    except InvalidTag as e:
        raise DecryptionFailed() from e
