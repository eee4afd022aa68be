"""Independent decoder for the MedLedger wire protocol, version 1.

Written from ``Protocol/WIRE.md`` alone (never from the Swift sources), so
that agreement between this decoder and the Swift codec on the vectors of
``Protocol/vectors/`` shows that the specification is complete.

Only the standard library is needed, except for opening sealed frames, which
imports ``cryptography`` (AES-GCM) lazily.

Layout of this module, following the specification:

* section 1 and 7: :class:`WireError`, :data:`ERROR_CODES`, :class:`Reader`
  (the primitive encodings and their rules);
* section 2: :func:`check_header`, :func:`decode_frame`, :func:`find_next_frame`;
* section 3: :func:`inflate_payload`;
* section 4.3 and 4.4: :func:`open_sealed`, :class:`SealContext`,
  :func:`parse_key_log_line`, :func:`parse_key_log`;
* section 5: one ``decode_*`` function per struct and message;
* section 8: :func:`to_json_value`, :func:`render_frame`.

Command line: ``python3 medledger_wire.py FRAME.hex [--key-log LINE
--direction i2r|r2i --sequence N]`` prints the section 8 rendering.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T")

# ---------------------------------------------------------------------------
# Constants (sections 2, 3, 4.3)
# ---------------------------------------------------------------------------

MAGIC = b"MLDG"
HEADER_LENGTH = 16
SUPPORTED_VERSIONS = frozenset({1})
FLAG_COMPRESSED = 0x01
FLAG_SEALED = 0x02
KNOWN_FLAGS = FLAG_COMPRESSED | FLAG_SEALED
FLAG_NAMES = ((FLAG_COMPRESSED, "compressed"), (FLAG_SEALED, "sealed"))
MAX_FRAME_LENGTH = 8 * 1024 * 1024
MAX_INFLATED_LENGTH = 16 * 1024 * 1024
GCM_TAG_LENGTH = 16
MAX_SEQUENCE = 2**32 - 1  # a receiver refuses sequence 2^32 (section 4.3)

LAYER_FRAME = "frame"
LAYER_MESSAGE = "message"

#: Section 5: message type code -> lower-case type name (section 8).
MESSAGE_TYPES: dict[int, str] = {
    0x01: "hello",
    0x02: "auth",
    0x03: "disconnect",
    0x10: "ping",
    0x11: "pong",
    0x12: "status",
    0x20: "transaction",
    0x21: "proposal",
    0x22: "vote",
    0x23: "block",
    0x24: "block_request",
    0x25: "block_response",
    0x26: "evidence",
    0x27: "record_blob",
    0x28: "record_blob_request",
    0x30: "client_request",
    0x31: "client_response",
    0x32: "client_error",
    0x33: "client_event",
}

#: Section 7: decoding error name -> code.
ERROR_CODES: dict[str, int] = {
    "truncated": 1,
    "bad_magic": 2,
    "header_checksum_mismatch": 3,
    "unsupported_version": 4,
    "unknown_message_type": 5,
    "unknown_flags": 6,
    "reserved_not_zero": 7,
    "frame_too_large": 8,
    "sealed_payload_too_short": 9,
    "inflated_too_large": 10,
    "decompression_failed": 11,
    "inflated_length_mismatch": 12,
    "trailing_bytes": 13,
    "length_exceeds_limit": 14,
    "count_exceeds_limit": 15,
    "invalid_bool": 16,
    "invalid_optional_tag": 17,
    "unknown_enum": 18,
    "invalid_utf8": 19,
    "invalid_chain_id": 20,
    "value_out_of_range": 21,
    "non_canonical": 22,
    "decryption_failed": 23,
}

# Enum tables of section 5.
VOTE_TYPES = {1: "prevote", 2: "precommit"}
CHANNELS = {1: "peer", 2: "client"}
EVIDENCE_KINDS = {1: "duplicate_vote"}

# Section 1: chain id alphabet and length.
CHAIN_ID_ALPHABET = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-._")
CHAIN_ID_MAX = 64

# Section 4.4: key log.
KEY_LOG_LABEL = "MEDLEDGER_V1"
_LOWER_HEX = frozenset("0123456789abcdef")


# ---------------------------------------------------------------------------
# Errors (sections 1 and 7)
# ---------------------------------------------------------------------------


class WireError(Exception):
    """A decoding error of section 7: its name, layer and offset (section 1)."""

    def __init__(self, error: str, layer: str, offset: int, detail: str = "") -> None:
        if error not in ERROR_CODES:
            raise ValueError(f"not a section 7 error name: {error!r}")
        if layer not in (LAYER_FRAME, LAYER_MESSAGE):
            raise ValueError(f"not a layer: {layer!r}")
        self.error = error
        self.layer = layer
        self.offset = offset
        self.detail = detail
        text = f"{error} ({layer} layer, offset {offset})"
        super().__init__(f"{text}: {detail}" if detail else text)

    @property
    def code(self) -> int:
        """The numeric code carried in ``DISCONNECT.code``."""
        return ERROR_CODES[self.error]

    def to_json(self) -> dict[str, Any]:
        """The rejection rendering of section 8."""
        return {"error": self.error, "layer": self.layer, "offset": self.offset}


class MissingKeyError(Exception):
    """A sealed frame was given to :func:`decode_frame` without a key."""


# ---------------------------------------------------------------------------
# Primitive encodings (section 1)
# ---------------------------------------------------------------------------


class Reader:
    """Reads a message payload field by field, enforcing section 1's rules.

    Every error is a ``message``-layer :class:`WireError` whose offset counts
    from the start of ``data`` (the whole payload; nested structures never
    restart the count).
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def remaining(self) -> int:
        """Bytes not yet read."""
        return len(self.data) - self.pos

    def fail(self, error: str, offset: int, detail: str = "") -> WireError:
        """Build a message-layer error (the caller raises it)."""
        return WireError(error, LAYER_MESSAGE, offset, detail)

    def _take(self, n: int, start: int) -> bytes:
        """Consume ``n`` bytes; ``truncated`` at ``start`` if they are not there."""
        if self.remaining < n:
            raise self.fail("truncated", start, f"need {n} bytes, {self.remaining} left")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def _uint(self, fmt: str, size: int) -> int:
        start = self.pos
        return struct.unpack(fmt, self._take(size, start))[0]

    def u8(self) -> int:
        """``u8``."""
        return self._uint(">B", 1)

    def u16(self) -> int:
        """``u16``, big-endian."""
        return self._uint(">H", 2)

    def u32(self) -> int:
        """``u32``, big-endian."""
        return self._uint(">I", 4)

    def u64(self) -> int:
        """``u64``, big-endian."""
        return self._uint(">Q", 8)

    def boolean(self) -> bool:
        """``bool``: 0x00 or 0x01, else ``invalid_bool``."""
        start = self.pos
        value = self.u8()
        if value not in (0, 1):
            raise self.fail("invalid_bool", start, f"byte 0x{value:02x}")
        return value == 1

    def fixed(self, n: int) -> bytes:
        """``bytes[N]``: exactly ``n`` raw bytes."""
        return self._take(n, self.pos)

    def _prefixed(self, limit: int) -> tuple[int, bytes]:
        """A ``u32`` length then that many bytes; returns (prefix offset, bytes).

        The limit is checked before the content is looked at (nothing is
        allocated for an over-long value); a value whose content is cut short
        is ``truncated`` at its length prefix, the first byte of the field.
        """
        start = self.pos
        length = self.u32()
        if length > limit:
            raise self.fail("length_exceeds_limit", start, f"length {length} > {limit}")
        if self.remaining < length:
            raise self.fail("truncated", start, f"length {length}, {self.remaining} left")
        return start, self._take(length, start)

    def bytes_upto(self, limit: int) -> bytes:
        """``bytes<=M``."""
        return self._prefixed(limit)[1]

    def string_upto(self, limit: int) -> str:
        """``string<=M``: UTF-8 per RFC 3629, else ``invalid_utf8`` at the prefix."""
        start, raw = self._prefixed(limit)
        try:
            # Python's strict UTF-8 codec rejects overlong forms, surrogates
            # (U+D800..U+DFFF) and anything above U+10FFFF, as RFC 3629 does.
            return raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise self.fail("invalid_utf8", start, str(exc)) from None

    def chain_id(self) -> str:
        """A chain id: ``string<=64`` of 1 to 64 bytes of ``a-z 0-9 - . _``."""
        start, raw = self._prefixed(CHAIN_ID_MAX)
        if not raw or any(b not in CHAIN_ID_ALPHABET for b in raw):
            raise self.fail("invalid_chain_id", start, repr(raw))
        return raw.decode("ascii")

    def optional(self, read: Callable[[], T]) -> Optional[T]:
        """``optional T``: tag 0x00 absent, 0x01 present, else ``invalid_optional_tag``."""
        start = self.pos
        tag = self.u8()
        if tag == 0:
            return None
        if tag == 1:
            return read()
        raise self.fail("invalid_optional_tag", start, f"tag 0x{tag:02x}")

    def enum(self, table: dict[int, str]) -> str:
        """``enum``: a ``u8`` code listed in ``table``, else ``unknown_enum``."""
        start = self.pos
        code = self.u8()
        if code not in table:
            raise self.fail("unknown_enum", start, f"code {code}")
        return table[code]

    def count(self, limit: int) -> tuple[int, int]:
        """A list's ``u32`` count, checked against ``limit``; returns (offset, count)."""
        start = self.pos
        n = self.u32()
        if n > limit:
            raise self.fail("count_exceeds_limit", start, f"count {n} > {limit}")
        return start, n

    def list_of(self, limit: int, read: Callable[[], T]) -> list[T]:
        """``list<=M of T`` without further rules."""
        _, n = self.count(limit)
        return [read() for _ in range(n)]

    def at_least(self, value: int, minimum: int, offset: int, name: str) -> int:
        """Range rule: ``value_out_of_range`` at ``offset`` if ``value < minimum``."""
        if value < minimum:
            raise self.fail("value_out_of_range", offset, f"{name} {value} < {minimum}")
        return value

    def finish(self) -> None:
        """The payload must be fully consumed, else ``trailing_bytes``."""
        if self.remaining:
            raise self.fail("trailing_bytes", self.pos, f"{self.remaining} bytes left over")


# ---------------------------------------------------------------------------
# Shared structs (section 5.1)
# ---------------------------------------------------------------------------


def decode_transaction(r: Reader) -> dict[str, Any]:
    """Transaction, plus its derived ``id`` (SHA-256 of the whole encoding)."""
    start = r.pos
    tx = {
        "tx_type": r.u16(),
        "signer": r.fixed(32),
        "nonce": r.u64(),
        "body": r.bytes_upto(65536),
        "signature": r.fixed(64),
    }
    tx["id"] = hashlib.sha256(r.data[start : r.pos]).digest()
    return tx


def decode_vote(r: Reader) -> dict[str, Any]:
    """Vote."""
    return {
        "vote_type": r.enum(VOTE_TYPES),
        "height": r.u64(),
        "round": r.u32(),
        "block_hash": r.optional(lambda: r.fixed(32)),
        "timestamp": r.u64(),
        "validator": r.fixed(32),
        "signature": r.fixed(64),
    }


def decode_block_header(r: Reader) -> dict[str, Any]:
    """BlockHeader, plus its derived ``hash`` (SHA-256 of the encoding)."""
    start = r.pos
    version = r.u16()
    if version != 1:
        raise r.fail("value_out_of_range", start, f"block version {version}")
    header: dict[str, Any] = {"version": version, "chain_id": r.chain_id()}
    header["height"] = r.u64()
    header["time"] = r.u64()
    for name in (
        "previous_hash",
        "last_commit_hash",
        "transactions_root",
        "evidence_root",
        "state_root",
        "validators_hash",
        "next_validators_hash",
        "proposer",
    ):
        header[name] = r.fixed(32)
    header["hash"] = hashlib.sha256(r.data[start : r.pos]).digest()
    return header


def decode_evidence(r: Reader) -> dict[str, Any]:
    """Evidence: ``vote_a``'s encoding must be bytewise smaller than ``vote_b``'s."""
    kind = r.enum(EVIDENCE_KINDS)
    a_start = r.pos
    vote_a = decode_vote(r)
    b_start = r.pos
    vote_b = decode_vote(r)
    if not r.data[a_start:b_start] < r.data[b_start : r.pos]:
        raise r.fail("non_canonical", b_start, "vote_a does not sort before vote_b")
    return {"kind": kind, "vote_a": vote_a, "vote_b": vote_b}


def decode_commit_signature(r: Reader) -> dict[str, Any]:
    """CommitSignature."""
    return {
        "validator_index": r.u16(),
        "timestamp": r.u64(),
        "signature": r.fixed(64),
    }


def decode_commit_certificate(r: Reader) -> dict[str, Any]:
    """CommitCertificate: 1..256 signatures, ``validator_index`` strictly increasing."""
    cert: dict[str, Any] = {"height": r.u64(), "round": r.u32(), "block_hash": r.fixed(32)}
    count_at, n = r.count(256)
    r.at_least(n, 1, count_at, "signature count")
    signatures: list[dict[str, Any]] = []
    for _ in range(n):
        element_at = r.pos
        sig = decode_commit_signature(r)
        if signatures and sig["validator_index"] <= signatures[-1]["validator_index"]:
            raise r.fail(
                "non_canonical",
                element_at,
                f"validator_index {sig['validator_index']} after "
                f"{signatures[-1]['validator_index']}",
            )
        signatures.append(sig)
    cert["signatures"] = signatures
    return cert


def decode_block(r: Reader) -> dict[str, Any]:
    """Block."""
    return {
        "header": decode_block_header(r),
        "transactions": r.list_of(10000, lambda: decode_transaction(r)),
        "evidence": r.list_of(100, lambda: decode_evidence(r)),
        "last_commit": r.optional(lambda: decode_commit_certificate(r)),
    }


def decode_committed_block(r: Reader) -> dict[str, Any]:
    """CommittedBlock."""
    return {"block": decode_block(r), "commit": decode_commit_certificate(r)}


def decode_signed_request(r: Reader) -> dict[str, Any]:
    """SignedRequest."""
    return {
        "kind": r.u16(),
        "signer": r.fixed(32),
        "timestamp": r.u64(),
        "body": r.bytes_upto(4194304),
        "signature": r.fixed(64),
    }


# ---------------------------------------------------------------------------
# Messages (sections 5.2 to 5.4)
# ---------------------------------------------------------------------------


def decode_hello(r: Reader) -> dict[str, Any]:
    """0x01 HELLO."""
    min_at = r.pos
    min_version = r.at_least(r.u8(), 1, min_at, "min_version")
    max_at = r.pos
    max_version = r.at_least(r.u8(), min_version, max_at, "max_version")
    return {
        "min_version": min_version,
        "max_version": max_version,
        "channel": r.enum(CHANNELS),
        "chain_id": r.chain_id(),
        "ephemeral_key": r.fixed(32),
        "nonce": r.fixed(32),
    }


def decode_auth(r: Reader) -> dict[str, Any]:
    """0x02 AUTH."""
    return {"node_key": r.fixed(32), "signature": r.fixed(64)}


def decode_disconnect(r: Reader) -> dict[str, Any]:
    """0x03 DISCONNECT."""
    return {"code": r.u16(), "reason": r.string_upto(512)}


def decode_ping(r: Reader) -> dict[str, Any]:
    """0x10 PING and 0x11 PONG."""
    return {"nonce": r.u64()}


def decode_status(r: Reader) -> dict[str, Any]:
    """0x12 STATUS."""
    return {
        "height": r.u64(),
        "block_hash": r.fixed(32),
        "base_height": r.u64(),
        "time": r.u64(),
    }


def decode_proposal(r: Reader) -> dict[str, Any]:
    """0x21 PROPOSAL."""
    return {
        "height": r.u64(),
        "round": r.u32(),
        "pol_round": r.optional(r.u32),
        "block_hash": r.fixed(32),
        "timestamp": r.u64(),
        "proposer": r.fixed(32),
        "signature": r.fixed(64),
        "block": decode_block(r),
    }


def decode_block_request(r: Reader) -> dict[str, Any]:
    """0x24 BLOCK_REQUEST: ``start_height >= 1``, ``count`` in 1..64."""
    request_id = r.u64()
    start_at = r.pos
    start_height = r.at_least(r.u64(), 1, start_at, "start_height")
    count_at = r.pos
    count = r.u16()
    if not 1 <= count <= 64:
        raise r.fail("value_out_of_range", count_at, f"count {count}")
    return {"request_id": request_id, "start_height": start_height, "count": count}


def decode_block_response(r: Reader) -> dict[str, Any]:
    """0x25 BLOCK_RESPONSE."""
    return {
        "request_id": r.u64(),
        "blocks": r.list_of(64, lambda: decode_committed_block(r)),
    }


def decode_record_blob(r: Reader) -> dict[str, Any]:
    """0x27 RECORD_BLOB (CLIENT.md 5.1): ``total`` in 1..64 MiB; the chunk ends within it."""
    record = r.fixed(32)
    offset = r.u64()
    total_at = r.pos
    total = r.u64()
    if not 1 <= total <= 64 * 1024 * 1024:
        raise r.fail("value_out_of_range", total_at, f"total {total}")
    chunk_at = r.pos
    chunk = r.bytes_upto(1048576)
    if offset > total or len(chunk) > total - offset:
        raise r.fail("value_out_of_range", chunk_at, "the chunk ends past the total")
    return {"record": record, "offset": offset, "total": total, "chunk": chunk}


def decode_record_blob_request(r: Reader) -> dict[str, Any]:
    """0x28 RECORD_BLOB_REQUEST."""
    return {"record": r.fixed(32)}


def decode_client_request(r: Reader) -> dict[str, Any]:
    """0x30 CLIENT_REQUEST."""
    return {"request_id": r.u64(), "request": decode_signed_request(r)}


def decode_client_response(r: Reader) -> dict[str, Any]:
    """0x31 CLIENT_RESPONSE."""
    return {"request_id": r.u64(), "kind": r.u16(), "body": r.bytes_upto(4194304)}


def decode_client_error(r: Reader) -> dict[str, Any]:
    """0x32 CLIENT_ERROR."""
    return {"request_id": r.u64(), "code": r.u16(), "message": r.string_upto(1024)}


def decode_client_event(r: Reader) -> dict[str, Any]:
    """0x33 CLIENT_EVENT."""
    return {"subscription_id": r.u64(), "kind": r.u16(), "body": r.bytes_upto(1048576)}


#: Message type code -> payload decoder. Messages that are "one X" of
#: section 5.1 render as X's object itself (no wrapping member).
MESSAGE_DECODERS: dict[int, Callable[[Reader], dict[str, Any]]] = {
    0x01: decode_hello,
    0x02: decode_auth,
    0x03: decode_disconnect,
    0x10: decode_ping,
    0x11: decode_ping,
    0x12: decode_status,
    0x20: decode_transaction,
    0x21: decode_proposal,
    0x22: decode_vote,
    0x23: decode_committed_block,
    0x24: decode_block_request,
    0x25: decode_block_response,
    0x26: decode_evidence,
    0x27: decode_record_blob,
    0x28: decode_record_blob_request,
    0x30: decode_client_request,
    0x31: decode_client_response,
    0x32: decode_client_error,
    0x33: decode_client_event,
}
assert MESSAGE_DECODERS.keys() == MESSAGE_TYPES.keys()


def decode_message(type_code: int, payload: bytes) -> dict[str, Any]:
    """Decode a complete message payload (message layer, offsets from its start)."""
    try:
        decoder = MESSAGE_DECODERS[type_code]
    except KeyError:
        raise ValueError(f"unknown message type 0x{type_code:02x}") from None
    reader = Reader(payload)
    message = decoder(reader)
    reader.finish()
    return message


# ---------------------------------------------------------------------------
# The frame (section 2)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameHeader:
    """The 16-byte frame header, already checked by :func:`check_header`."""

    raw: bytes
    version: int
    type_code: int
    flags: int
    length: int
    header_crc: int

    @property
    def compressed(self) -> bool:
        return bool(self.flags & FLAG_COMPRESSED)

    @property
    def sealed(self) -> bool:
        return bool(self.flags & FLAG_SEALED)

    @property
    def type_name(self) -> str:
        return MESSAGE_TYPES[self.type_code]

    @property
    def flag_names(self) -> list[str]:
        """Flag names in bit order (section 8)."""
        return [name for bit, name in FLAG_NAMES if self.flags & bit]


def header_crc(header_first_12: bytes) -> int:
    """CRC-32 (ISO-HDLC, zlib's) of header bytes 0 to 11."""
    return zlib.crc32(header_first_12) & 0xFFFFFFFF


def build_header(type_code: int, flags: int, length: int, version: int = 1,
                 reserved: int = 0, magic: bytes = MAGIC) -> bytes:
    """Encode a header with a correct CRC (for tests and tools)."""
    first = magic + struct.pack(">BBBBI", version, type_code, flags, reserved, length)
    return first + struct.pack(">I", header_crc(first))


def check_header(data: bytes) -> FrameHeader:
    """Check a header in the order of section 2, up to ``sealed_payload_too_short``.

    ``data`` starts at the first magic byte. The remaining whole-frame checks
    (payload present, nothing after it) are in :func:`decode_frame`.
    """

    def fail(error: str, offset: int, detail: str = "") -> WireError:
        return WireError(error, LAYER_FRAME, offset, detail)

    if len(data) < HEADER_LENGTH:
        raise fail("truncated", 0, f"{len(data)} bytes, header needs {HEADER_LENGTH}")
    raw = bytes(data[:HEADER_LENGTH])
    if raw[0:4] != MAGIC:
        raise fail("bad_magic", 0, raw[0:4].hex())
    version, type_code, flags, reserved, length, crc = struct.unpack(">BBBBII", raw[4:16])
    if crc != header_crc(raw[0:12]):
        raise fail("header_checksum_mismatch", 12, f"0x{crc:08x} != 0x{header_crc(raw[0:12]):08x}")
    if version not in SUPPORTED_VERSIONS:
        raise fail("unsupported_version", 4, str(version))
    if type_code not in MESSAGE_TYPES:
        raise fail("unknown_message_type", 5, f"0x{type_code:02x}")
    if flags & ~KNOWN_FLAGS:
        raise fail("unknown_flags", 6, f"0x{flags:02x}")
    if reserved != 0:
        raise fail("reserved_not_zero", 7, f"0x{reserved:02x}")
    if length > MAX_FRAME_LENGTH:
        raise fail("frame_too_large", 8, str(length))
    if flags & FLAG_SEALED and length < GCM_TAG_LENGTH:
        raise fail("sealed_payload_too_short", 8, str(length))
    return FrameHeader(raw, version, type_code, flags, length, crc)


def find_next_frame(buffer: bytes, start: int = 0) -> Optional[int]:
    """Resynchronise (section 2): offset of the next acceptable header, or None.

    A candidate is accepted when :func:`check_header` passes on it (CRC,
    version, type, flags, reserved byte and length limits); otherwise the scan
    resumes one byte past the candidate magic. A candidate whose 16 header
    bytes are not all in ``buffer`` yet ends the scan (None: wait for more).
    """
    pos = buffer.find(MAGIC, start)
    while pos != -1:
        if len(buffer) - pos < HEADER_LENGTH:
            return None
        try:
            check_header(buffer[pos : pos + HEADER_LENGTH])
            return pos
        except WireError:
            pos = buffer.find(MAGIC, pos + 1)
    return None


# ---------------------------------------------------------------------------
# Compression (section 3)
# ---------------------------------------------------------------------------


def inflate_payload(payload: bytes) -> tuple[int, bytes]:
    """Inflate a compressed payload; returns (inflated_length, message bytes).

    Errors are frame-layer, with offsets as if the payload started at 16.
    Inflation never produces more than ``inflated_length`` bytes: after that
    many, one more byte of output is only asked for to tell "too long" apart
    from "ends here" (the stream must still reach its Adler-32 trailer).
    A zlib stream that stops before its end (no final block or no trailer) is
    malformed: ``decompression_failed``.
    """

    def fail(error: str, offset: int, detail: str = "") -> WireError:
        return WireError(error, LAYER_FRAME, offset, detail)

    if len(payload) < 4:
        raise fail("truncated", 16, f"{len(payload)} payload bytes, need 4")
    (expected,) = struct.unpack(">I", payload[:4])
    if expected > MAX_INFLATED_LENGTH:
        raise fail("inflated_too_large", 16, str(expected))
    stream = payload[4:]
    inflater = zlib.decompressobj()
    try:
        if expected > 0:
            out = inflater.decompress(stream, expected)
            rest = inflater.unconsumed_tail
        else:
            out, rest = b"", stream
        if not inflater.eof and len(out) == expected:
            if inflater.decompress(rest, 1):
                raise fail("inflated_length_mismatch", 16, f"more than {expected} bytes")
    except zlib.error as exc:
        raise fail("decompression_failed", 20, str(exc)) from None
    if not inflater.eof:
        raise fail("decompression_failed", 20, "zlib stream ends early")
    if len(out) != expected:
        raise fail("inflated_length_mismatch", 16, f"{len(out)} bytes, declared {expected}")
    if inflater.unused_data:
        raise fail(
            "inflated_length_mismatch", 16,
            f"{len(inflater.unused_data)} bytes after the zlib stream",
        )
    return expected, out


# ---------------------------------------------------------------------------
# Sealing and the key log (sections 4.3 and 4.4)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyLogEntry:
    """One ``MEDLEDGER_V1`` line: the connection's initiator nonce and its keys."""

    initiator_nonce: bytes
    key_i2r: bytes
    key_r2i: bytes

    def key_for(self, direction: str) -> bytes:
        """The key sealing frames in ``direction`` (``i2r`` or ``r2i``)."""
        if direction == "i2r":
            return self.key_i2r
        if direction == "r2i":
            return self.key_r2i
        raise ValueError(f"direction must be 'i2r' or 'r2i', not {direction!r}")


class KeyLogLineError(ValueError):
    """A malformed ``MEDLEDGER_V1`` line."""

    def __init__(self, line_number: int, reason: str) -> None:
        self.line_number = line_number
        self.reason = reason
        super().__init__(f"key log line {line_number}: {reason}")


@dataclass
class KeyLog:
    """A parsed key log: entries by initiator nonce, and the malformed lines."""

    entries: dict[bytes, KeyLogEntry] = field(default_factory=dict)
    errors: list[KeyLogLineError] = field(default_factory=list)


def _parse_hex_field(text: str, what: str) -> bytes:
    if len(text) != 64 or not set(text) <= _LOWER_HEX:
        raise ValueError(f"{what} is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def parse_key_log_line(line: str, line_number: int = 1) -> Optional[KeyLogEntry]:
    """Parse one key-log line (without its line feed).

    Returns None for a comment (starts with ``#``), an empty line, or a line
    whose first word is not ``MEDLEDGER_V1``; raises :class:`KeyLogLineError`
    for a malformed ``MEDLEDGER_V1`` line. The format is strict: exactly four
    fields separated by single spaces, each key field 64 lowercase hex digits,
    no other characters (not even a carriage return or trailing space).
    """
    if line == "" or line.startswith("#"):
        return None
    words = line.split(maxsplit=1)
    if not words or words[0] != KEY_LOG_LABEL:
        return None  # another first word: a later version's line
    parts = line.split(" ")
    if len(parts) != 4:
        raise KeyLogLineError(
            line_number, f"expected 4 fields separated by single spaces, got {len(parts)}"
        )
    if parts[0] != KEY_LOG_LABEL:
        raise KeyLogLineError(line_number, "label is not followed by a single space")
    try:
        nonce, i2r, r2i = (
            _parse_hex_field(text, what)
            for text, what in zip(parts[1:], ("nI", "key_i2r", "key_r2i"))
        )
    except ValueError as exc:
        raise KeyLogLineError(line_number, str(exc)) from None
    return KeyLogEntry(nonce, i2r, r2i)


def parse_key_log(text: str) -> KeyLog:
    """Parse a whole key log; malformed lines are collected with their number.

    Lines are separated by line feeds only. If an initiator nonce appears
    twice, the later line wins.
    """
    log = KeyLog()
    for number, line in enumerate(text.split("\n"), start=1):
        try:
            entry = parse_key_log_line(line, number)
        except KeyLogLineError as exc:
            log.errors.append(exc)
            continue
        if entry is not None:
            log.entries[entry.initiator_nonce] = entry
    return log


@dataclass(frozen=True)
class SealContext:
    """What opening one sealed frame needs: the direction's key and the sequence."""

    key: bytes
    sequence: int

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("an AES-256-GCM key is 32 bytes")
        if not 0 <= self.sequence <= MAX_SEQUENCE:
            raise ValueError(f"sequence {self.sequence} outside 0..2^32-1")

    @classmethod
    def from_key_log_line(cls, line: str, direction: str, sequence: int) -> "SealContext":
        """From a ``MEDLEDGER_V1`` line, a direction (``i2r``/``r2i``) and a sequence."""
        entry = parse_key_log_line(line.rstrip("\n"))
        if entry is None:
            raise ValueError("not a MEDLEDGER_V1 key log line")
        return cls(entry.key_for(direction), sequence)

    @property
    def nonce(self) -> bytes:
        """The 12-byte AES-GCM nonce: four zero bytes, then the sequence as u64."""
        return b"\x00\x00\x00\x00" + struct.pack(">Q", self.sequence)


def open_sealed(header: bytes, sealed_payload: bytes, context: SealContext) -> bytes:
    """Open a sealed payload (ciphertext || tag) with the header as AAD.

    A failure is ``decryption_failed`` (frame layer) at offset 16, the first
    byte of the sealed payload.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(context.key).decrypt(context.nonce, bytes(sealed_payload), bytes(header))
    except InvalidTag:
        raise WireError("decryption_failed", LAYER_FRAME, HEADER_LENGTH) from None


# ---------------------------------------------------------------------------
# Whole-frame decoding (section 2, processing order)
# ---------------------------------------------------------------------------


@dataclass
class Frame:
    """A decoded frame: its header, the inflated length if any, and its message."""

    header: FrameHeader
    inflated_length: Optional[int]
    payload: bytes  # the message bytes (after opening and inflating)
    message: dict[str, Any]


def decode_frame(data: bytes, seal: Optional[SealContext] = None) -> Frame:
    """Decode exactly one whole frame: check, open, inflate, decode.

    Raises :class:`WireError` for every decoding error, and
    :class:`MissingKeyError` for a well-formed sealed frame given no ``seal``.
    """
    header = check_header(data)
    end = HEADER_LENGTH + header.length
    if len(data) < end:
        raise WireError("truncated", LAYER_FRAME, 8,
                        f"length {header.length}, {len(data) - HEADER_LENGTH} payload bytes")
    if len(data) > end:
        raise WireError("trailing_bytes", LAYER_FRAME, end, f"{len(data) - end} bytes after the frame")
    payload = bytes(data[HEADER_LENGTH:end])
    if header.sealed:
        if seal is None:
            raise MissingKeyError("sealed frame: a key and sequence are needed to open it")
        payload = open_sealed(header.raw, payload, seal)
    inflated_length: Optional[int] = None
    if header.compressed:
        inflated_length, payload = inflate_payload(payload)
    message = decode_message(header.type_code, payload)
    return Frame(header, inflated_length, payload, message)


# ---------------------------------------------------------------------------
# JSON rendering (section 8)
# ---------------------------------------------------------------------------


def to_json_value(value: Any) -> Any:
    """Section 8 values: bytes as lowercase hex, None as null, recursively."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {key: to_json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json_value(item) for item in value]
    return value


def render_frame(frame: Frame) -> dict[str, Any]:
    """The section 8 object for a decoded frame."""
    rendered: dict[str, Any] = {
        "version": frame.header.version,
        "type": frame.header.type_name,
        "type_code": frame.header.type_code,
        "flags": frame.header.flag_names,
        "length": frame.header.length,
    }
    if frame.inflated_length is not None:
        rendered["inflated_length"] = frame.inflated_length
    rendered["message"] = to_json_value(frame.message)
    return rendered


def render(data: bytes, seal: Optional[SealContext] = None) -> dict[str, Any]:
    """Decode ``data`` and render it, or render its rejection (section 8)."""
    try:
        return render_frame(decode_frame(data, seal))
    except WireError as exc:
        return exc.to_json()


def read_hex_file(text: str) -> bytes:
    """A vector's ``.hex`` text: drop ``#`` lines and all whitespace, then hex-decode."""
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return bytes.fromhex("".join("".join(lines).split()))


def main(argv: list[str]) -> int:
    """Command line: render one ``.hex`` frame file as JSON."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hex_file")
    parser.add_argument("--key-log", help="a MEDLEDGER_V1 key log line")
    parser.add_argument("--direction", choices=("i2r", "r2i"), default="i2r")
    parser.add_argument("--sequence", type=int, default=0)
    args = parser.parse_args(argv)
    with open(args.hex_file, encoding="ascii") as handle:
        data = read_hex_file(handle.read())
    seal = None
    if args.key_log:
        seal = SealContext.from_key_log_line(args.key_log, args.direction, args.sequence)
    try:
        print(json.dumps(render(data, seal), indent=2))
    except MissingKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
