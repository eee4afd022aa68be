"""Self-tests of the independent decoder, built by hand from WIRE.md.

Run with ``python3 -m unittest`` from this directory, or
``python3 Tools/spec-check/test_medledger_wire.py`` from anywhere.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import unittest
import zlib
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import medledger_wire as wire  # noqa: E402

# ---------------------------------------------------------------------------
# A tiny encoder, written from the spec for these tests only.
# ---------------------------------------------------------------------------


def u8(v: int) -> bytes:
    return struct.pack(">B", v)


def u16(v: int) -> bytes:
    return struct.pack(">H", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def u64(v: int) -> bytes:
    return struct.pack(">Q", v)


def var(b: bytes) -> bytes:
    """``bytes<=M`` / ``string<=M``: u32 length then the bytes."""
    return u32(len(b)) + b


def frame(type_code: int, payload: bytes, flags: int = 0) -> bytes:
    return wire.build_header(type_code, flags, len(payload)) + payload


def vote(vote_type: int = 1, height: int = 5, block_hash: Optional[bytes] = b"\x11" * 32,
         validator: bytes = b"\x22" * 32) -> bytes:
    opt = b"\x00" if block_hash is None else b"\x01" + block_hash
    return u8(vote_type) + u64(height) + u32(0) + opt + u64(1000) + validator + b"\x33" * 64


def transaction(body: bytes = b"abc") -> bytes:
    return u16(7) + b"\x44" * 32 + u64(9) + var(body) + b"\x55" * 64


def block_header(chain: bytes = b"test-chain", version: int = 1) -> bytes:
    return u16(version) + var(chain) + u64(1) + u64(1234) + b"".join(
        bytes([i]) * 32 for i in range(8)
    )


def commit_signature(index: int) -> bytes:
    return u16(index) + u64(77) + b"\x66" * 64


def certificate(indices: list[int]) -> bytes:
    return u64(1) + u32(0) + b"\x77" * 32 + u32(len(indices)) + b"".join(
        commit_signature(i) for i in indices
    )


def hello(min_v: int = 1, max_v: int = 1, channel: int = 1, chain: bytes = b"medledger-test") -> bytes:
    return u8(min_v) + u8(max_v) + u8(channel) + var(chain) + b"\x01" * 32 + b"\x02" * 32


def disconnect(reason: bytes) -> bytes:
    return u16(100) + var(reason)


def seal(header_type: int, plaintext: bytes, key: bytes, sequence: int, flags: int = 0) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = wire.build_header(header_type, flags | wire.FLAG_SEALED, len(plaintext) + 16)
    nonce = b"\x00" * 4 + u64(sequence)
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def crc32_bitwise(data: bytes) -> int:
    """CRC-32 exactly as section 2 defines it, bit by bit."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


class WireCase(unittest.TestCase):
    def assertRejects(self, data: bytes, error: str, layer: str, offset: int,
                      seal_ctx: Optional[wire.SealContext] = None) -> None:
        with self.assertRaises(wire.WireError) as caught:
            wire.decode_frame(data, seal_ctx)
        got = (caught.exception.error, caught.exception.layer, caught.exception.offset)
        self.assertEqual(got, (error, layer, offset), str(caught.exception))

    def assertMessageRejects(self, type_code: int, payload: bytes, error: str, offset: int) -> None:
        self.assertRejects(frame(type_code, payload), error, "message", offset)


# ---------------------------------------------------------------------------
# Section 2: the frame
# ---------------------------------------------------------------------------


class FrameTests(WireCase):
    def test_crc_is_iso_hdlc(self) -> None:
        self.assertEqual(wire.header_crc(b"123456789"), 0xCBF43926)  # the catalogue check value
        header = wire.build_header(0x10, 0, 8)
        self.assertEqual(crc32_bitwise(header[:12]), struct.unpack(">I", header[12:])[0])

    def test_ping_by_hand(self) -> None:
        payload = u64(0x0102030405060708)
        first12 = b"MLDG" + bytes([1, 0x10, 0, 0]) + u32(8)
        data = first12 + u32(crc32_bitwise(first12)) + payload
        self.assertEqual(
            wire.render(data),
            {"version": 1, "type": "ping", "type_code": 16, "flags": [], "length": 8,
             "message": {"nonce": 0x0102030405060708}},
        )

    def test_header_check_order(self) -> None:
        good = frame(0x10, u64(1))
        self.assertRejects(good[:15], "truncated", "frame", 0)
        self.assertRejects(b"XLDG" + good[4:], "bad_magic", "frame", 0)
        # bad CRC beats everything after it
        bad = bytearray(good)
        bad[4] = 9
        self.assertRejects(bytes(bad), "header_checksum_mismatch", "frame", 12)
        self.assertRejects(wire.build_header(0x10, 0, 8, version=2) + u64(1), "unsupported_version", "frame", 4)
        self.assertRejects(wire.build_header(0x13, 0, 8, version=2) + u64(1), "unsupported_version", "frame", 4)
        self.assertRejects(wire.build_header(0x13, 0x04, 8) + u64(1), "unknown_message_type", "frame", 5)
        self.assertRejects(wire.build_header(0x10, 0x04, 8, reserved=1) + u64(1), "unknown_flags", "frame", 6)
        self.assertRejects(wire.build_header(0x10, 0x80, 8) + u64(1), "unknown_flags", "frame", 6)
        self.assertRejects(wire.build_header(0x10, 0, 8, reserved=1) + u64(1), "reserved_not_zero", "frame", 7)

    def test_lengths(self) -> None:
        # decided from the header alone: no payload needed
        self.assertRejects(wire.build_header(0x23, 0, 8 * 2**20 + 1), "frame_too_large", "frame", 8)
        self.assertRejects(wire.build_header(0x10, 2, 8 * 2**20 + 1), "frame_too_large", "frame", 8)
        self.assertRejects(wire.build_header(0x10, 2, 15) + b"\x00" * 15, "sealed_payload_too_short", "frame", 8)
        self.assertRejects(wire.build_header(0x10, 2, 15), "sealed_payload_too_short", "frame", 8)
        self.assertRejects(frame(0x10, u64(1))[:-1], "truncated", "frame", 8)
        self.assertRejects(frame(0x10, u64(1)) + b"\x00", "trailing_bytes", "frame", 24)
        # exactly 8 MiB is allowed by the header check (message then fails)
        self.assertRejects(wire.build_header(0x10, 0, 8 * 2**20), "truncated", "frame", 8)

    def test_sealed_without_key(self) -> None:
        with self.assertRaises(wire.MissingKeyError):
            wire.decode_frame(wire.build_header(0x10, 2, 16) + b"\x00" * 16)

    def test_resynchronisation(self) -> None:
        good = frame(0x10, u64(1))
        fake = b"MLDG" + b"\x00" * 12  # magic with a wrong CRC
        stream = b"junk" + fake + b"ML" + good
        self.assertEqual(wire.find_next_frame(stream), 4 + 16 + 2)
        self.assertIsNone(wire.find_next_frame(b"abcMLDG\x01"))


# ---------------------------------------------------------------------------
# Section 3: compression
# ---------------------------------------------------------------------------


class CompressionTests(WireCase):
    def compressed(self, declared: int, stream: bytes, type_code: int = 0x10) -> bytes:
        return frame(type_code, u32(declared) + stream, flags=wire.FLAG_COMPRESSED)

    def test_compressed_ping(self) -> None:
        message = u64(42)
        data = self.compressed(8, zlib.compress(message, 9))
        rendered = wire.render(data)
        self.assertEqual(rendered["flags"], ["compressed"])
        self.assertEqual(rendered["inflated_length"], 8)
        self.assertEqual(rendered["length"], len(data) - 16)
        self.assertEqual(rendered["message"], {"nonce": 42})

    def test_any_level_is_accepted(self) -> None:
        for level in range(0, 10):
            data = self.compressed(8, zlib.compress(u64(42), level))
            self.assertEqual(wire.decode_frame(data).message, {"nonce": 42})

    def test_errors(self) -> None:
        stream = zlib.compress(u64(42))
        self.assertRejects(frame(0x10, b"\x00\x00\x08", flags=1), "truncated", "frame", 16)
        self.assertRejects(self.compressed(16 * 2**20 + 1, stream), "inflated_too_large", "frame", 16)
        self.assertRejects(self.compressed(7, stream), "inflated_length_mismatch", "frame", 16)
        self.assertRejects(self.compressed(9, stream), "inflated_length_mismatch", "frame", 16)
        self.assertRejects(self.compressed(0, stream), "inflated_length_mismatch", "frame", 16)
        self.assertRejects(self.compressed(8, stream + b"\x00"), "inflated_length_mismatch", "frame", 16)
        bad_adler = stream[:-1] + bytes([stream[-1] ^ 1])
        self.assertRejects(self.compressed(8, bad_adler), "decompression_failed", "frame", 20)
        self.assertRejects(self.compressed(8, b"\xff\xff" + stream[2:]), "decompression_failed", "frame", 20)
        self.assertRejects(self.compressed(8, stream[:-2]), "decompression_failed", "frame", 20)
        self.assertRejects(self.compressed(8, b""), "decompression_failed", "frame", 20)

    def test_message_offsets_are_after_inflation(self) -> None:
        message = u64(42) + b"\x00"  # one trailing byte, at message offset 8
        self.assertRejects(self.compressed(9, zlib.compress(message)), "trailing_bytes", "message", 8)

    def test_empty_message(self) -> None:
        # A PING needs 8 bytes: an empty inflated payload is a truncated message.
        self.assertRejects(self.compressed(0, zlib.compress(b"")), "truncated", "message", 0)


# ---------------------------------------------------------------------------
# Section 4: sealing and the key log
# ---------------------------------------------------------------------------

KEY_I2R = bytes(range(32))
KEY_R2I = bytes(range(32, 64))
NONCE_I = b"\xab" * 32
KEY_LOG_LINE = f"MEDLEDGER_V1 {NONCE_I.hex()} {KEY_I2R.hex()} {KEY_R2I.hex()}"


class SealTests(WireCase):
    def test_open(self) -> None:
        data = seal(0x10, u64(5), KEY_I2R, 3)
        ctx = wire.SealContext.from_key_log_line(KEY_LOG_LINE, "i2r", 3)
        rendered = wire.render(data, ctx)
        self.assertEqual(rendered["flags"], ["sealed"])
        self.assertEqual(rendered["length"], 24)
        self.assertEqual(rendered["message"], {"nonce": 5})

    def test_wrong_sequence_direction_or_header(self) -> None:
        data = seal(0x10, u64(5), KEY_I2R, 3)
        for direction, sequence in (("i2r", 4), ("r2i", 3)):
            ctx = wire.SealContext.from_key_log_line(KEY_LOG_LINE, direction, sequence)
            self.assertRejects(data, "decryption_failed", "frame", 16, ctx)
        # same payload under another (valid) header: the AAD differs
        tampered = wire.build_header(0x11, 2, 24) + data[16:]
        ctx = wire.SealContext(KEY_I2R, 3)
        self.assertRejects(tampered, "decryption_failed", "frame", 16, ctx)

    def test_sealed_and_compressed(self) -> None:
        inner = u32(8) + zlib.compress(u64(6))
        data = seal(0x11, inner, KEY_R2I, 0, flags=wire.FLAG_COMPRESSED)
        ctx = wire.SealContext.from_key_log_line(KEY_LOG_LINE, "r2i", 0)
        rendered = wire.render(data, ctx)
        self.assertEqual(rendered["flags"], ["compressed", "sealed"])
        self.assertEqual(rendered["inflated_length"], 8)
        self.assertEqual(rendered["message"], {"nonce": 6})
        short = seal(0x11, b"\x00\x00", KEY_R2I, 0, flags=wire.FLAG_COMPRESSED)
        self.assertRejects(short, "truncated", "frame", 16, ctx)

    def test_sequence_limit(self) -> None:
        wire.SealContext(KEY_I2R, 2**32 - 1)
        with self.assertRaises(ValueError):
            wire.SealContext(KEY_I2R, 2**32)

    def test_key_log(self) -> None:
        text = "\n".join([
            "# comment",
            "",
            KEY_LOG_LINE,
            "MEDLEDGER_V2 something else",
            "MEDLEDGER_V1 " + "AB" * 32 + f" {KEY_I2R.hex()} {KEY_R2I.hex()}",
            KEY_LOG_LINE.replace(" ", "  ", 1),
            "MEDLEDGER_V1",
            KEY_LOG_LINE + " ",
            "",
        ])
        log = wire.parse_key_log(text)
        self.assertEqual(list(log.entries), [NONCE_I])
        self.assertEqual(log.entries[NONCE_I].key_for("r2i"), KEY_R2I)
        self.assertEqual([e.line_number for e in log.errors], [5, 6, 7, 8])


# ---------------------------------------------------------------------------
# Sections 1 and 5: messages
# ---------------------------------------------------------------------------


class PrimitiveTests(WireCase):
    def test_utf8_is_rfc3629(self) -> None:
        invalid = [
            b"\xc0\x80",              # overlong NUL
            b"\xc1\xbf",              # overlong
            b"\xe0\x80\x80",          # overlong 3-byte
            b"\xf0\x80\x80\x80",      # overlong 4-byte
            b"\xed\xa0\x80",          # surrogate U+D800
            b"\xed\xbf\xbf",          # surrogate U+DFFF
            b"\xf4\x90\x80\x80",      # U+110000
            b"\xf5\x80\x80\x80",
            b"\xff",
            b"\x80",                  # lone continuation
            b"\xe2\x82",              # cut sequence
        ]
        for raw in invalid:
            with self.subTest(raw=raw):
                with self.assertRaises(UnicodeDecodeError):
                    raw.decode("utf-8")
                self.assertMessageRejects(0x03, disconnect(raw), "invalid_utf8", 2)
        valid = ["", "\x00", "é", "€", "\U0001F600", "\uFFFF", "\U0010FFFF", "\uE000"]
        for text in valid:
            with self.subTest(text=text):
                msg = wire.decode_frame(frame(0x03, disconnect(text.encode()))).message
                self.assertEqual(msg["reason"], text)

    def test_length_limit_before_truncation(self) -> None:
        self.assertMessageRejects(0x03, u16(1) + u32(513), "length_exceeds_limit", 2)
        self.assertMessageRejects(0x03, u16(1) + u32(0xFFFFFFFF), "length_exceeds_limit", 2)
        self.assertMessageRejects(0x03, u16(1) + u32(512) + b"x" * 10, "truncated", 2)
        self.assertMessageRejects(0x03, u16(1) + b"\x00\x00", "truncated", 2)
        # exactly the limit is fine
        self.assertEqual(wire.decode_frame(frame(0x03, u16(1) + var(b"x" * 512))).message["reason"], "x" * 512)

    def test_trailing_and_truncated(self) -> None:
        self.assertMessageRejects(0x10, u64(1) + b"\x00\x00", "trailing_bytes", 8)
        self.assertMessageRejects(0x10, u32(1), "truncated", 0)
        self.assertMessageRejects(0x12, u64(1) + b"\x00" * 31, "truncated", 8)


class MessageTests(WireCase):
    def test_hello(self) -> None:
        msg = wire.render(frame(0x01, hello(1, 3, 2)))["message"]
        self.assertEqual(msg["channel"], "client")
        self.assertEqual(msg["chain_id"], "medledger-test")
        self.assertEqual(msg["ephemeral_key"], "01" * 32)
        self.assertMessageRejects(0x01, hello(0, 1), "value_out_of_range", 0)
        self.assertMessageRejects(0x01, hello(0, 0), "value_out_of_range", 0)
        self.assertMessageRejects(0x01, hello(3, 2), "value_out_of_range", 1)
        self.assertMessageRejects(0x01, hello(1, 1, 3), "unknown_enum", 2)
        self.assertMessageRejects(0x01, hello(1, 1, 0), "unknown_enum", 2)

    def test_chain_id(self) -> None:
        ok = wire.decode_frame(frame(0x01, hello(chain=b"a" * 64))).message
        self.assertEqual(ok["chain_id"], "a" * 64)
        wire.decode_frame(frame(0x01, hello(chain=b"az09-._")))
        self.assertMessageRejects(0x01, hello(chain=b"a" * 65), "length_exceeds_limit", 3)
        for bad in (b"", b"A", b"a b", b"caf\xc3\xa9", b"a/b", b"\xff"):
            with self.subTest(bad=bad):
                self.assertMessageRejects(0x01, hello(chain=bad), "invalid_chain_id", 3)
        # truncated chain id content: at the length prefix
        self.assertMessageRejects(0x01, hello()[:3] + u32(10) + b"abc", "truncated", 3)

    def test_optional_and_enum(self) -> None:
        data = vote(block_hash=None)
        self.assertIsNone(wire.decode_frame(frame(0x22, data)).message["block_hash"])
        bad = bytearray(vote())
        bad[13] = 2
        self.assertMessageRejects(0x22, bytes(bad), "invalid_optional_tag", 13)
        self.assertMessageRejects(0x22, vote(vote_type=3), "unknown_enum", 0)
        msg = wire.render(frame(0x22, vote(vote_type=2)))["message"]
        self.assertEqual(msg["vote_type"], "precommit")
        self.assertEqual(msg["block_hash"], "11" * 32)

    def test_transaction_id(self) -> None:
        tx = transaction()
        msg = wire.render(frame(0x20, tx))["message"]
        self.assertEqual(msg["id"], hashlib.sha256(tx).hexdigest())
        self.assertEqual(msg["body"], "616263")
        self.assertEqual(wire.render(frame(0x20, transaction(b"")))["message"]["body"], "")
        self.assertMessageRejects(0x20, transaction(b"x" * 65537), "length_exceeds_limit", 42)

    def test_block_request(self) -> None:
        wire.decode_frame(frame(0x24, u64(1) + u64(1) + u16(64)))
        self.assertMessageRejects(0x24, u64(1) + u64(0) + u16(1), "value_out_of_range", 8)
        self.assertMessageRejects(0x24, u64(1) + u64(1) + u16(0), "value_out_of_range", 16)
        self.assertMessageRejects(0x24, u64(1) + u64(1) + u16(65), "value_out_of_range", 16)

    def test_evidence_order(self) -> None:
        a, b = vote(block_hash=b"\x01" * 32), vote(block_hash=b"\x02" * 32)
        msg = wire.render(frame(0x26, u8(1) + a + b))["message"]
        self.assertEqual(msg["kind"], "duplicate_vote")
        self.assertMessageRejects(0x26, u8(1) + b + a, "non_canonical", 1 + len(a))
        self.assertMessageRejects(0x26, u8(1) + a + a, "non_canonical", 1 + len(a))
        self.assertMessageRejects(0x26, u8(2) + a + b, "unknown_enum", 0)

    def test_block_and_certificate(self) -> None:
        header = block_header()
        block = header + u32(1) + transaction() + u32(0) + b"\x01" + certificate([0, 2])
        payload = block + certificate([1, 3, 4])
        msg = wire.render(frame(0x23, payload))["message"]
        self.assertEqual(msg["block"]["header"]["hash"], hashlib.sha256(header).hexdigest())
        self.assertEqual(msg["block"]["header"]["chain_id"], "test-chain")
        self.assertEqual(msg["block"]["transactions"][0]["id"],
                         hashlib.sha256(transaction()).hexdigest())
        self.assertEqual([s["validator_index"] for s in msg["commit"]["signatures"]], [1, 3, 4])
        self.assertEqual(msg["block"]["last_commit"]["block_hash"], "77" * 32)
        # offsets of the commit's signature list
        commit_at = len(block)
        count_at = commit_at + 8 + 4 + 32
        elem = len(commit_signature(0))
        self.assertMessageRejects(0x23, block + certificate([]), "value_out_of_range", count_at)
        self.assertMessageRejects(0x23, block + certificate([1, 1]), "non_canonical", count_at + 4 + elem)
        self.assertMessageRejects(0x23, block + certificate([1, 3, 2]), "non_canonical", count_at + 4 + 2 * elem)
        too_many = block + u64(1) + u32(0) + b"\x77" * 32 + u32(257)
        self.assertMessageRejects(0x23, too_many, "count_exceeds_limit", count_at)
        self.assertMessageRejects(0x23, block_header(version=2) + block[len(header):], "value_out_of_range", 0)
        # a list element missing entirely is truncated where it would start
        short = header + u32(2) + transaction()
        self.assertMessageRejects(0x23, short, "truncated", len(short))
        self.assertMessageRejects(0x23, header + u32(10001), "count_exceeds_limit", len(header))

    def test_block_response_empty(self) -> None:
        msg = wire.render(frame(0x25, u64(3) + u32(0)))["message"]
        self.assertEqual(msg, {"request_id": 3, "blocks": []})
        self.assertMessageRejects(0x25, u64(3) + u32(65), "count_exceeds_limit", 8)

    def test_proposal(self) -> None:
        block = block_header() + u32(0) + u32(0) + b"\x00"
        fields = u64(1) + u32(2) + b"\x01" + u32(1) + b"\x11" * 32 + u64(5) + b"\x22" * 32 + b"\x33" * 64
        msg = wire.render(frame(0x21, fields + block))["message"]
        self.assertEqual(msg["pol_round"], 1)
        self.assertIsNone(msg["block"]["last_commit"])

    def test_client_messages(self) -> None:
        req = u16(1) + b"\x01" * 32 + u64(2) + var(b"\x05") + b"\x02" * 64
        msg = wire.render(frame(0x30, u64(9) + req))["message"]
        self.assertEqual(msg["request"]["body"], "05")
        self.assertEqual(wire.render(frame(0x31, u64(1) + u16(2) + var(b"")))["message"]["body"], "")
        self.assertEqual(wire.render(frame(0x32, u64(1) + u16(2) + var("ok".encode())))["message"]["message"], "ok")
        self.assertMessageRejects(0x32, u64(1) + u16(2) + u32(1025), "length_exceeds_limit", 10)
        self.assertMessageRejects(0x33, u64(1) + u16(2) + u32(1048577), "length_exceeds_limit", 10)
        self.assertMessageRejects(0x31, u64(1) + u16(2) + u32(4194305), "length_exceeds_limit", 10)

    def test_record_blob_messages(self) -> None:
        record = b"\x07" * 32
        msg = wire.render(frame(0x27, record + u64(2) + u64(5) + var(b"abc")))["message"]
        self.assertEqual((msg["offset"], msg["total"], msg["chunk"]), (2, 5, "616263"))
        self.assertEqual(wire.render(frame(0x28, record))["message"]["record"], record.hex())
        self.assertMessageRejects(0x27, record + u64(0) + u64(0) + var(b""), "value_out_of_range", 40)
        self.assertMessageRejects(0x27, record + u64(0) + u64(67108865) + var(b""), "value_out_of_range", 40)
        self.assertMessageRejects(0x27, record + u64(3) + u64(5) + var(b"abc"), "value_out_of_range", 48)
        self.assertMessageRejects(0x27, record + u64(0) + u64(5) + u32(1048577), "length_exceeds_limit", 48)
        self.assertMessageRejects(0x28, record[:31], "truncated", 0)


if __name__ == "__main__":
    unittest.main()
