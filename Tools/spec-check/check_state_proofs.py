"""Check Protocol/vectors/state/proofs.json against Protocol/STATE.md, independently.

Written from STATE.md alone, with the standard library only. For every tree in
the file: its root is recomputed from its entries (section 2); every proof is
decoded strictly (section 3.1), re-encoded to the same bytes, and verified
(section 3.2) against the root, and the outcome must equal the vector's
``valid``; a valid proof with any one bit flipped must then fail to decode or
fail to verify. Every malformed proof must fail to decode with the named
WIRE.md error at the given offset.

Prints ``ok NAME`` or ``FAIL NAME: ...`` per check, then ``N passed, M failed``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

VECTORS_FILE = Path(__file__).resolve().parent.parent.parent / "Protocol" / "vectors" / "state" / "proofs.json"

EMPTY = bytes(32)
MAX_DEPTH = 256


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def bit(path: bytes, index: int) -> int:
    """Path bit ``index``: bit 7 - (index mod 8) of byte index // 8 (section 2)."""
    return (path[index // 8] >> (7 - index % 8)) & 1


def leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    return sha256(b"\x00" + key_hash + value_hash)


def internal_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


# --- Section 2: the root --------------------------------------------------------------------


def subtree_hash(leaves: list[tuple[bytes, bytes]], depth: int) -> bytes:
    """T(S, d) over (k, value_hash) pairs whose paths agree on their first ``depth`` bits."""
    if not leaves:
        return EMPTY
    if len(leaves) == 1:
        return leaf_hash(*leaves[0])
    if depth >= 256:
        raise ValueError("two keys with the same path")
    left = [leaf for leaf in leaves if bit(leaf[0], depth) == 0]
    right = [leaf for leaf in leaves if bit(leaf[0], depth) == 1]
    return internal_hash(subtree_hash(left, depth + 1), subtree_hash(right, depth + 1))


def root_hash(entries: dict[bytes, bytes]) -> bytes:
    return subtree_hash([(sha256(key), sha256(value)) for key, value in entries.items()], 0)


# --- Section 3.1: decoding ------------------------------------------------------------------


class DecodeError(Exception):
    """A WIRE.md section 7 error name and the offset of the field that broke the rule."""

    def __init__(self, name: str, offset: int, detail: str):
        super().__init__(f"{name} at {offset}: {detail}")
        self.name = name
        self.offset = offset


@dataclass
class Proof:
    # None for an empty terminal, else (leaf_key_hash, leaf_value_hash).
    leaf: tuple[bytes, bytes] | None
    # One entry per level from the root down: a 32-byte hash, or None when empty.
    siblings: list[bytes | None]


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, count: int, what: str) -> bytes:
        if count > len(self.data) - self.pos:
            raise DecodeError("truncated", self.pos, f"{what} needs {count} bytes")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk


def decode(data: bytes) -> Proof:
    reader = Reader(data)
    tag_offset = reader.pos
    tag = reader.take(1, "terminal")[0]
    if tag == 0:
        leaf = None
    elif tag == 1:
        leaf = (reader.take(32, "leaf_key_hash"), reader.take(32, "leaf_value_hash"))
    else:
        raise DecodeError("unknown_enum", tag_offset, f"terminal {tag}")

    depth_offset = reader.pos
    depth = int.from_bytes(reader.take(2, "depth"), "big")
    if depth > MAX_DEPTH:
        raise DecodeError("count_exceeds_limit", depth_offset, f"depth {depth}")

    bitmap_offset = reader.pos
    bitmap = reader.take((depth + 7) // 8, "sibling_bitmap")

    def is_set(level: int) -> bool:
        return bool(bit(bitmap, level))

    if depth % 8 and any(is_set(level) for level in range(depth, len(bitmap) * 8)):
        raise DecodeError("non_canonical", bitmap_offset, "bits set after bit D - 1")
    if depth > 0 and not is_set(depth - 1):
        raise DecodeError("non_canonical", bitmap_offset, "deepest sibling empty")

    siblings: list[bytes | None] = []
    for level in range(depth):
        if not is_set(level):
            siblings.append(None)
            continue
        offset = reader.pos
        sibling = reader.take(32, f"sibling {level}")
        if sibling == EMPTY:
            raise DecodeError("non_canonical", offset, f"sibling {level} is 32 zero bytes")
        siblings.append(sibling)

    if reader.pos != len(data):
        raise DecodeError("trailing_bytes", reader.pos, f"{len(data) - reader.pos} bytes left over")
    return Proof(leaf, siblings)


def encode(proof: Proof) -> bytes:
    out = bytearray()
    if proof.leaf is None:
        out.append(0)
    else:
        out.append(1)
        out += proof.leaf[0] + proof.leaf[1]
    depth = len(proof.siblings)
    out += depth.to_bytes(2, "big")
    bitmap = bytearray((depth + 7) // 8)
    for level, sibling in enumerate(proof.siblings):
        if sibling is not None:
            bitmap[level // 8] |= 0x80 >> (level % 8)
    out += bitmap
    for sibling in proof.siblings:
        if sibling is not None:
            out += sibling
    return bytes(out)


# --- Section 3.2: verification --------------------------------------------------------------


def verify(proof: Proof, root: bytes, key: bytes, value: bytes | None) -> bool:
    depth = len(proof.siblings)
    # Step 1 (the decoder already enforced these; kept for proofs built in memory).
    if depth > MAX_DEPTH or any(s == EMPTY for s in proof.siblings):
        return False
    if depth > 0 and proof.siblings[-1] is None:
        return False
    # Step 2.
    k = sha256(key)
    # Step 3.
    if proof.leaf is None:
        if value is not None:
            return False
        h = EMPTY
    else:
        leaf_k, leaf_v = proof.leaf
        if value is not None:
            if leaf_k != k or leaf_v != sha256(value):
                return False
        elif leaf_k == k:
            return False
        if any(bit(leaf_k, i) != bit(k, i) for i in range(depth)):
            return False
        h = leaf_hash(leaf_k, leaf_v)
    # Step 4.
    for i in range(depth - 1, -1, -1):
        s = proof.siblings[i] if proof.siblings[i] is not None else EMPTY
        h = internal_hash(h, s) if bit(k, i) == 0 else internal_hash(s, h)
    # Step 5.
    return h == root


# --- The vectors ----------------------------------------------------------------------------


def check_proof(case: dict, root: bytes) -> str | None:
    """Why the proof vector disagrees with STATE.md; None when it agrees."""
    data = bytes.fromhex(case["proof"])
    key = bytes.fromhex(case["key"])
    value = None if case["value"] is None else bytes.fromhex(case["value"])
    try:
        proof = decode(data)
    except DecodeError as error:
        return f"does not decode: {error}"
    if encode(proof) != data:
        return "re-encodes to different bytes"
    outcome = verify(proof, root, key, value)
    if outcome != case["valid"]:
        return f"verifies {outcome}, vector says {case['valid']}"
    if outcome:
        # Negative control: no single-bit change of a valid proof may still verify.
        for index in range(len(data) * 8):
            mutated = bytearray(data)
            mutated[index // 8] ^= 0x80 >> (index % 8)
            try:
                changed = decode(bytes(mutated))
            except DecodeError:
                continue
            if verify(changed, root, key, value):
                return f"still verifies with bit {index} flipped"
    return None


def check_malformed(case: dict) -> str | None:
    data = bytes.fromhex(case["proof"])
    try:
        decode(data)
    except DecodeError as error:
        if (error.name, error.offset) != (case["error"], case["offset"]):
            return f"expected {case['error']} at {case['offset']}, got {error.name} at {error.offset}"
        return None
    return f"decoded; expected {case['error']} at {case['offset']}"


def main() -> int:
    try:
        vectors = json.loads(VECTORS_FILE.read_text())
    except OSError as error:
        print(f"cannot read {VECTORS_FILE}: {error}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    results: list[tuple[str, str | None]] = []
    for tree in vectors["trees"]:
        entries = {bytes.fromhex(e["key"]): bytes.fromhex(e["value"]) for e in tree["entries"]}
        if len(entries) != len(tree["entries"]):
            results.append((f"{tree['name']}/entries", "a key appears twice"))
            continue
        root = bytes.fromhex(tree["root"])
        computed = root_hash(entries)
        problem = None if computed == root else f"root {computed.hex()}, vector says {root.hex()}"
        results.append((f"{tree['name']}/root", problem))
        for case in tree["proofs"]:
            results.append((f"{tree['name']}/{case['name']}", check_proof(case, root)))
    for case in vectors["malformed"]:
        results.append((f"malformed/{case['name']}", check_malformed(case)))

    passed = failed = 0
    for name, problem in results:
        if problem is None:
            passed += 1
            print(f"ok {name}")
        else:
            failed += 1
            print(f"FAIL {name}: {problem}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
