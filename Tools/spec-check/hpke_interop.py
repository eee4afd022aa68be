"""HPKE (RFC 9180) interoperability between MedLedgerCrypto and pyhpke.

pyhpke (https://pypi.org/project/pyhpke/) is an independent implementation of
RFC 9180 over pyca/cryptography. This script exchanges sealed messages with the
Swift implementation through JSON files in ``Protocol/vectors/hpke/``:

``--generate``
    pyhpke seals messages to fixed recipient keys, under MedLedger's suite
    (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) and one AES-128-GCM
    case, and writes ``pyhpke-sealed.json``. The Swift tests open every one.
    Plaintexts and ephemeral keys are fresh each run, so the file changes:
    commit it only when the cases change.

``--check`` (the default)
    pyhpke opens every message of ``swift-sealed.json`` (written by the Swift
    test ``HPKEInteropTests`` when run with ``MEDLEDGER_WRITE_VECTORS=1``) and
    compares plaintexts and exported secrets; where a case records its
    ephemeral ``ikmE``, pyhpke also re-seals with that key and must produce
    the same ``enc`` and ciphertexts byte for byte. It then re-opens its own
    ``pyhpke-sealed.json`` as a self-check.

``--extract-kat PATH``
    Reads the CFRG ``test-vectors.json`` of RFC 9180 at PATH and writes the
    entries the Swift known-answer tests use (mode_base, DHKEM(X25519,
    HKDF-SHA256), HKDF-SHA256, AES-128-GCM and AES-256-GCM), unchanged, to
    ``Tests/MedLedgerCryptoTests/Vectors/hpke/rfc9180-base-x25519-sha256.json``.

If pyhpke is not installed, ``--check`` prints a line starting ``SKIPPED`` and
exits 0, unless ``--require`` is given (for CI), when it exits 2. Install it
with ``python3 -m pip install pyhpke``. Paths are resolved from this script's
location, so it runs from any working directory. Exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent.parent
VECTORS_DIR = ROOT / "Protocol" / "vectors" / "hpke"
PYHPKE_SEALED = VECTORS_DIR / "pyhpke-sealed.json"
SWIFT_SEALED = VECTORS_DIR / "swift-sealed.json"
KAT_FILE = ROOT / "Tests" / "MedLedgerCryptoTests" / "Vectors" / "hpke" / "rfc9180-base-x25519-sha256.json"

MODE_BASE = 0
KEM_X25519 = 0x0020
KDF_HKDF_SHA256 = 0x0001
AEAD_AES128GCM = 0x0001
AEAD_AES256GCM = 0x0002

# Fixed recipients: DeriveKeyPair(ikm) of these ASCII strings (the Swift test uses the same ones).
RECIPIENT_IKM = {
    "A": b"MedLedger HPKE interop recipient A",
    "B": b"MedLedger HPKE interop recipient B",
}


def load_pyhpke() -> Optional[Any]:
    """The pyhpke module, or None if it is not installed."""
    try:
        import pyhpke  # noqa: PLC0415
    except ImportError:
        return None
    return pyhpke


def suite_for(pyhpke: Any, case: dict[str, Any]) -> Any:
    """The pyhpke CipherSuite of a vector's kem_id, kdf_id and aead_id."""
    if case.get("mode", MODE_BASE) != MODE_BASE:
        raise ValueError(f"only mode_base (0) is exchanged, not mode {case['mode']}")
    return pyhpke.CipherSuite.new(
        pyhpke.KEMId(case["kem_id"]), pyhpke.KDFId(case["kdf_id"]), pyhpke.AEADId(case["aead_id"])
    )


# MARK: - Generating pyhpke-sealed.json


def generate(pyhpke: Any) -> int:
    """Seal the interop cases with pyhpke and write pyhpke-sealed.json."""
    plans: list[dict[str, Any]] = [
        {
            "name": "record-key-wrap",
            "comment": "one message: a 32-byte record data key wrapped for a patient, as DESIGN.md describes",
            "aead_id": AEAD_AES256GCM,
            "recipient": "A",
            "info": b"MedLedger record key v1",
            "messages": [(b"record 0001 for patient A", os.urandom(32))],
            "exports": [],
            "fixed_ephemeral": True,
        },
        {
            "name": "empty-info-aad-plaintext",
            "comment": "empty info, aad and plaintext: the ciphertext is only the tag",
            "aead_id": AEAD_AES256GCM,
            "recipient": "A",
            "info": b"",
            "messages": [(b"", b"")],
            "exports": [(b"", 32)],
            "fixed_ephemeral": True,
        },
        {
            "name": "long-message",
            "comment": "long info, aad and plaintext",
            "aead_id": AEAD_AES256GCM,
            "recipient": "B",
            "info": os.urandom(64),
            "messages": [(os.urandom(100), os.urandom(1000))],
            "exports": [],
            "fixed_ephemeral": True,
        },
        {
            "name": "context-five-messages",
            "comment": "one context, five messages at sequence numbers 0 to 4, and three exports",
            "aead_id": AEAD_AES256GCM,
            "recipient": "A",
            "info": b"MedLedger HPKE interop context",
            "messages": [(f"message-{i}".encode(), os.urandom(7 * i)) for i in range(5)],
            "exports": [(b"", 32), (b"MedLedger export", 64), (b"\x00", 1)],
            "fixed_ephemeral": True,
        },
        {
            "name": "aes128-context",
            "comment": "AES-128-GCM (aead_id 1), three messages and one export",
            "aead_id": AEAD_AES128GCM,
            "recipient": "B",
            "info": b"MedLedger HPKE interop AES-128-GCM",
            "messages": [(f"aad-{i}".encode(), os.urandom(16 + i)) for i in range(3)],
            "exports": [(b"exporter", 48)],
            "fixed_ephemeral": True,
        },
        {
            "name": "random-ephemeral",
            "comment": "pyhpke's own GenerateKeyPair for the ephemeral key, so no ikmE is recorded",
            "aead_id": AEAD_AES256GCM,
            "recipient": "B",
            "info": b"MedLedger record key v1",
            "messages": [(b"record 0002 for patient B", os.urandom(32)), (b"second", b"two")],
            "exports": [(b"context", 32)],
            "fixed_ephemeral": False,
        },
    ]
    vectors = []
    for plan in plans:
        case: dict[str, Any] = {
            "name": plan["name"],
            "comment": plan["comment"],
            "mode": MODE_BASE,
            "kem_id": KEM_X25519,
            "kdf_id": KDF_HKDF_SHA256,
            "aead_id": plan["aead_id"],
        }
        suite = suite_for(pyhpke, case)
        ikm_r = RECIPIENT_IKM[plan["recipient"]]
        recipient = suite.kem.derive_key_pair(ikm_r)
        case["ikmR"] = ikm_r.hex()
        case["skRm"] = recipient.private_key.to_private_bytes().hex()
        case["pkRm"] = recipient.public_key.to_public_bytes().hex()
        ephemeral = None
        if plan["fixed_ephemeral"]:
            ikm_e = os.urandom(32)
            ephemeral = suite.kem.derive_key_pair(ikm_e)
            case["ikmE"] = ikm_e.hex()
        case["info"] = plan["info"].hex()
        enc, sender = suite.create_sender_context(recipient.public_key, plan["info"], eks=ephemeral)
        case["enc"] = enc.hex()
        case["encryptions"] = [
            {"seq": seq, "aad": aad.hex(), "pt": pt.hex(), "ct": sender.seal(pt, aad).hex()}
            for seq, (aad, pt) in enumerate(plan["messages"])
        ]
        case["exports"] = [
            {"exporter_context": context.hex(), "L": length, "exported_value": sender.export(context, length).hex()}
            for context, length in plan["exports"]
        ]
        vectors.append(case)
    document = {
        "description": "HPKE (RFC 9180) base-mode messages sealed by pyhpke, for MedLedgerCrypto to open",
        "producer": f"pyhpke {pyhpke_version()} via Tools/spec-check/hpke_interop.py --generate",
        "vectors": vectors,
    }
    VECTORS_DIR.mkdir(parents=True, exist_ok=True)
    PYHPKE_SEALED.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {PYHPKE_SEALED.relative_to(ROOT)}")
    return 0


def pyhpke_version() -> str:
    """The installed pyhpke version, for the record."""
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("pyhpke")
    except Exception:  # noqa: BLE001
        return "(unknown version)"


# MARK: - Checking


def x25519_public_key(private_key: bytes) -> bytes:
    """The X25519 public key of a raw private key, computed by pyca/cryptography."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: PLC0415

    public = X25519PrivateKey.from_private_bytes(private_key).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def check_case(pyhpke: Any, case: dict[str, Any]) -> list[str]:
    """Problems found opening (and, with ikmE, re-sealing) one vector; empty if none."""
    problems: list[str] = []
    suite = suite_for(pyhpke, case)
    if "ikmR" in case:
        derived = suite.kem.derive_key_pair(bytes.fromhex(case["ikmR"]))
        if derived.private_key.to_private_bytes().hex() != case["skRm"]:
            problems.append("DeriveKeyPair(ikmR) does not give skRm")
    skr = suite.kem.deserialize_private_key(bytes.fromhex(case["skRm"]))
    if x25519_public_key(bytes.fromhex(case["skRm"])).hex() != case["pkRm"]:
        problems.append("pkRm is not the public key of skRm")
    info = bytes.fromhex(case["info"])
    enc = bytes.fromhex(case["enc"])
    recipient = suite.create_recipient_context(enc, skr, info)
    for message in case["encryptions"]:
        aad = bytes.fromhex(message["aad"])
        try:
            opened = recipient.open(bytes.fromhex(message["ct"]), aad)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"message seq {message['seq']} did not open: {exc!r}")
            break  # pyhpke moves its sequence number even on failure; later messages would not line up
        if opened.hex() != message["pt"]:
            problems.append(f"message seq {message['seq']} opened to different plaintext")
    for export in case["exports"]:
        value = recipient.export(bytes.fromhex(export["exporter_context"]), export["L"])
        if value.hex() != export["exported_value"]:
            problems.append(f"export {export['exporter_context']!r} L={export['L']} differs")
    if "ikmE" in case:
        ephemeral = suite.kem.derive_key_pair(bytes.fromhex(case["ikmE"]))
        pkr = suite.kem.deserialize_public_key(bytes.fromhex(case["pkRm"]))
        resealed_enc, sender = suite.create_sender_context(pkr, info, eks=ephemeral)
        if resealed_enc != enc:
            problems.append("re-sealing with ikmE gives a different enc")
        for message in case["encryptions"]:
            ct = sender.seal(bytes.fromhex(message["pt"]), bytes.fromhex(message["aad"]))
            if ct.hex() != message["ct"]:
                problems.append(f"re-sealing message seq {message['seq']} with ikmE gives a different ciphertext")
    return problems


def check_file(pyhpke: Any, path: Path) -> tuple[int, int]:
    """Check every vector of one file, printing a line per vector; (passed, failed)."""
    label = path.relative_to(ROOT)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"FAIL {label}: missing")
        return 0, 1
    passed = failed = 0
    for case in document["vectors"]:
        try:
            problems = check_case(pyhpke, case)
        except Exception as exc:  # noqa: BLE001
            problems = [f"unexpected {exc!r}"]
        messages = len(case["encryptions"])
        if problems:
            failed += 1
            print(f"FAIL {label} {case['name']}: " + "; ".join(problems))
        else:
            passed += 1
            resealed = ", re-sealed byte for byte" if "ikmE" in case else ""
            print(f"ok {label} {case['name']} ({messages} messages opened{resealed})")
    return passed, failed


def check(pyhpke: Any) -> int:
    """Open swift-sealed.json (and re-open pyhpke-sealed.json) with pyhpke."""
    print(f"pyhpke {pyhpke_version()}")
    passed = failed = 0
    for path in (SWIFT_SEALED, PYHPKE_SEALED):
        p, f = check_file(pyhpke, path)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


# MARK: - Extracting the RFC 9180 known-answer vectors


def extract_kat(source: Path) -> int:
    """Copy the entries the Swift known-answer tests use from the CFRG test-vectors.json."""
    entries = json.loads(source.read_text(encoding="utf-8"))
    wanted = [
        entry
        for entry in entries
        if entry["mode"] == MODE_BASE
        and entry["kem_id"] == KEM_X25519
        and entry["kdf_id"] == KDF_HKDF_SHA256
        and entry["aead_id"] in (AEAD_AES128GCM, AEAD_AES256GCM)
    ]
    if {entry["aead_id"] for entry in wanted} != {AEAD_AES128GCM, AEAD_AES256GCM}:
        print(f"{source} lacks the expected entries", file=sys.stderr)
        return 1
    KAT_FILE.parent.mkdir(parents=True, exist_ok=True)
    KAT_FILE.write_text(json.dumps(wanted, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(wanted)} entries to {KAT_FILE.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="open swift-sealed.json with pyhpke (default)")
    action.add_argument("--generate", action="store_true", help="seal with pyhpke and write pyhpke-sealed.json")
    action.add_argument("--extract-kat", metavar="PATH", type=Path, help="filter the CFRG test-vectors.json")
    parser.add_argument("--require", action="store_true", help="fail (exit 2) instead of skipping without pyhpke")
    args = parser.parse_args()

    if args.extract_kat:
        return extract_kat(args.extract_kat)
    pyhpke = load_pyhpke()
    if pyhpke is None:
        message = "pyhpke is not installed (python3 -m pip install pyhpke)"
        if args.require or args.generate:
            print(f"error: {message}", file=sys.stderr)
            return 2
        print(f"SKIPPED HPKE interop check: {message}")
        return 0
    return generate(pyhpke) if args.generate else check(pyhpke)


if __name__ == "__main__":
    sys.exit(main())
