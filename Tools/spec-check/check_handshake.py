"""Check Protocol/vectors/handshake/*.json against Protocol/WIRE.md section 4, independently.

For each handshake vector: the public keys follow from the private ones; the
X25519 shared secret, the transcript hash ``th`` (from the two HELLO frames as
decoded by ``medledger_wire``), and the HKDF-SHA256 keys ``key_i2r`` and
``key_r2i`` are recomputed with pyca/cryptography; both AUTH frames open with
those keys at sequence 0 and their signatures verify over
``string tag || string chain_id || u8 role || th``; the key-log line is the
section 4.4 line.

Prints ``ok NAME`` or ``FAIL NAME: ...`` per vector, then ``N passed, M failed``.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import medledger_wire as wire  # noqa: E402

VECTORS_DIR = Path(__file__).resolve().parent.parent.parent / "Protocol" / "vectors" / "handshake"


def string(value: bytes) -> bytes:
    """Section 1 ``string``: u32 length, then the bytes."""
    return struct.pack(">I", len(value)) + value


def check(vector: dict) -> list[str]:
    """Every way the vector disagrees with section 4; empty when it agrees."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    problems: list[str] = []

    def expect(what: str, expected: bytes, actual: bytes) -> None:
        if expected != actual:
            problems.append(f"{what}: vector {expected.hex()}, recomputed {actual.hex()}")

    sides = {}
    for role in ("initiator", "responder"):
        side = vector[role]
        node = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(side["node_seed"]))
        expect(f"{role} node_key", bytes.fromhex(side["node_key"]), node.public_key().public_bytes(*raw))
        ephemeral = X25519PrivateKey.from_private_bytes(bytes.fromhex(side["ephemeral_private"]))
        expect(f"{role} ephemeral_public", bytes.fromhex(side["ephemeral_public"]), ephemeral.public_key().public_bytes(*raw))
        sides[role] = (node, ephemeral)

    frames = [bytes.fromhex(frame) for frame in vector["frames"]]
    hello_i = wire.decode_frame(frames[0]).message
    hello_r = wire.decode_frame(frames[1]).message
    expect("initiator HELLO ephemeral_key", bytes.fromhex(vector["initiator"]["ephemeral_public"]), hello_i["ephemeral_key"])
    expect("initiator HELLO nonce", bytes.fromhex(vector["initiator"]["nonce"]), hello_i["nonce"])

    peer_public = X25519PublicKey.from_public_bytes(hello_r["ephemeral_key"])
    shared = sides["initiator"][1].exchange(peer_public)
    shared_other = sides["responder"][1].exchange(X25519PublicKey.from_public_bytes(hello_i["ephemeral_key"]))
    expect("shared_secret (initiator side)", bytes.fromhex(vector["shared_secret"]), shared)
    expect("shared_secret (responder side)", bytes.fromhex(vector["shared_secret"]), shared_other)

    channel_code = {"peer": 1, "client": 2}[hello_i["channel"]]
    context = (
        bytes([channel_code]) + string(hello_i["chain_id"].encode()) + bytes([hello_i["min_version"], hello_i["max_version"], hello_r["min_version"]])
        + hello_i["ephemeral_key"] + hello_i["nonce"] + hello_r["ephemeral_key"] + hello_r["nonce"]
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(context)
    th = digest.finalize()
    expect("transcript_hash", bytes.fromhex(vector["transcript_hash"]), th)

    keys = {}
    for direction in ("i2r", "r2i"):
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=th, info=f"medledger/v1 key {direction}".encode())
        keys[direction] = hkdf.derive(shared)
        expect(f"key_{direction}", bytes.fromhex(vector[f"key_{direction}"]), keys[direction])

    line = f"MEDLEDGER_V1 {hello_i['nonce'].hex()} {keys['i2r'].hex()} {keys['r2i'].hex()}"
    if vector["key_log"] != line:
        problems.append(f"key_log: vector {vector['key_log']!r}, recomputed {line!r}")

    chain = vector["chain_id"].encode()
    for frame, direction, role_code, role in ((frames[2], "i2r", 1, "initiator"), (frames[3], "r2i", 2, "responder")):
        decoded = wire.decode_frame(frame, wire.SealContext(keys[direction], 0))
        if decoded.header.type_name != "auth":
            problems.append(f"{role} AUTH: frame is {decoded.header.type_name}")
            continue
        auth = decoded.message
        expect(f"{role} AUTH node_key", bytes.fromhex(vector[role]["node_key"]), auth["node_key"])
        signing_input = string(b"medledger/handshake/v1") + string(chain) + bytes([role_code]) + th
        try:
            Ed25519PublicKey.from_public_bytes(auth["node_key"]).verify(auth["signature"], signing_input)
        except Exception:  # InvalidSignature
            problems.append(f"{role} AUTH signature does not verify over role {role_code} || th")
    return problems


def main() -> int:
    paths = sorted(VECTORS_DIR.glob("*.json"))
    passed = failed = 0
    for path in paths:
        problems = check(json.loads(path.read_text()))
        if problems:
            failed += 1
            print(f"FAIL {path.stem}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok {path.stem}")
    print(f"{passed} passed, {failed} failed")
    return 0 if passed and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
