"""Check ``Protocol/vectors/ledger/`` against ``Protocol/LEDGER.md``, independently.

Written from LEDGER.md (sections 1-3, 8 and 9) and WIRE.md (sections 1, 5.1,
6, 7 and 8) alone, never from the Swift sources. The envelope and the
canonical primitives come from :mod:`medledger_wire` (itself written from
WIRE.md); everything about the bodies is here.

For each ``NAME.hex`` (a canonical Transaction envelope) with its
``NAME.json``:

1. the envelope is decoded strictly (WIRE.md 5.1, nothing after it);
2. its signature is verified (Ed25519, signing input ``string
   "medledger/tx/v1" || string chain_id || the fields before the
   signature``, WIRE.md 6): ``bad_signature`` if it fails;
3. ``tx_type`` must be one of LEDGER.md 3.3: ``unknown_transaction_type``
   otherwise;
4. the body is decoded strictly per ``tx_type`` with every decoding rule
   LEDGER.md states: ``malformed`` with the WIRE.md 7 error name and its
   offset within the body bytes (WIRE.md 1, "Error offsets");
5. a valid transaction is rendered (WIRE.md 8 for the envelope, plus
   ``"type"`` and ``"decoded_body"``) and compared with the JSON as JSON
   values; a rejection is compared with the JSON's ``"rejection"``;
6. for a valid transaction, the embedded signatures that the transaction
   alone lets one check are verified: the patient attestation of
   ``register_patient`` (by the facility key in the body), each recovery
   approval of ``replace_patient_key`` (by its key), and the fetch request of
   ``access_entry`` (by its requester).

The order of steps 2-4 is this checker's choice (LEDGER.md does not fix it);
for every rejection vector the other checks are also run and reported as a
note when they would fail too, so that a vector that is ambiguous on this
point is visible.

Prints ``ok NAME`` or ``FAIL NAME: ...`` per vector (and ``note NAME: ...``
lines), then ``N passed, M failed``; exits non-zero if anything failed or no
vector was found. Paths are resolved from this script's location.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import medledger_wire as wire  # noqa: E402
from check_vectors import json_diff, short  # noqa: E402

VECTORS_DIR = Path(__file__).resolve().parent.parent.parent / "Protocol" / "vectors" / "ledger"
MAX_DIFF_LINES = 12

# ---------------------------------------------------------------------------
# Signing (WIRE.md 6, LEDGER.md 3.1)
# ---------------------------------------------------------------------------

TAG_TX = "medledger/tx/v1"
TAG_PATIENT_ATTESTATION = "medledger/patient-attestation/v1"
TAG_KEY_RECOVERY = "medledger/key-recovery/v1"
TAG_FETCH_REQUEST = "medledger/fetch-request/v1"

ENVELOPE_SIGNATURE_LENGTH = 64
MAX_BODY = 65536


def encode_string(text: str) -> bytes:
    """WIRE.md 1 ``string``: ``u32`` length then the UTF-8 bytes."""
    raw = text.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


def signing_input(tag: str, chain_id: str, canonical: bytes) -> bytes:
    """WIRE.md 6: ``string tag || string chain_id || canonical bytes``."""
    return encode_string(tag) + encode_string(chain_id) + canonical


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 (RFC 8032) verification; any failure (bad key included) is False."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


@dataclass
class EmbeddedSignature:
    """A signature inside a body that can be checked from the transaction alone."""

    what: str  # for messages, e.g. "approval 1 (7c4b...)"
    tag: str
    key: bytes
    signed: bytes  # the canonical bytes after tag and chain id
    signature: bytes


# ---------------------------------------------------------------------------
# Enum and bit-set tables (LEDGER.md 1, 3.2, 3.3)
# ---------------------------------------------------------------------------

#: Practitioner roles, a ``u32`` bit set: bit -> name (LEDGER.md 1).
ROLE_BITS = {
    0: "physician",
    1: "nurse",
    2: "dentist",
    3: "lab_technician",
    4: "pharmacist",
    5: "administrative",
    8: "break_glass",
}
#: Actions, a ``u8`` bit set (LEDGER.md 3.2).
ACTION_BITS = {0: "read", 1: "write"}
#: Purposes (``u8`` enum, code p) and purpose sets (bit p - 1) (LEDGER.md 3.2).
PURPOSES = {1: "treatment", 2: "emergency", 3: "research", 4: "insurance", 5: "payment"}
PURPOSE_BITS = {code - 1: name for code, name in PURPOSES.items()}
#: Authority kinds (LEDGER.md 3.2); "break-glass" rendered in snake case.
AUTHORITY_KINDS = {1: "consent", 2: "break_glass"}
#: ConsentScope kinds (LEDGER.md 3.2).
SCOPE_KINDS = {1: "all_records", 2: "categories", 3: "records"}
#: Organisation kinds (LEDGER.md 3.3, type 3).
ORGANISATION_KINDS = {1: "research", 2: "pharma", 3: "insurer", 4: "public_health", 5: "other"}
#: Delegate relations (LEDGER.md 3.3, type 5).
RELATIONS = {1: "parent", 2: "guardian", 3: "spouse", 4: "proxy"}
#: access_entry outcomes (LEDGER.md 3.3, type 11).
OUTCOMES = {1: "granted", 2: "refused"}

# Limits (LEDGER.md 3.2, 3.3).
MAX_CATEGORIES = 32
MAX_SCOPE_RECORDS = 64
MAX_DELEGATES = 8
MAX_RECOVERY_KEYS = 10
MAX_APPROVALS = 10
MAX_NAME = 128
MAX_CATEGORY = 64
MAX_NOTE = 256
MAX_REASON = 512

#: The length of a FetchRequest's fields before its signature.
FETCH_REQUEST_SIGNED_LENGTH = 32 + 32 + 32 + 1 + (1 + 32) + 32 + 32 + 32
#: The first four fields of replace_patient_key (patient, key_version,
#: new_signing_key, new_encryption_key).
KEY_RECOVERY_SIGNED_LENGTH = 32 + 4 + 32 + 32


# ---------------------------------------------------------------------------
# Body decoding helpers
# ---------------------------------------------------------------------------


@dataclass
class BodyContext:
    """What a body decoder needs besides the bytes: the envelope's signer,
    and a place to collect the embedded signatures to verify."""

    signer: bytes
    embedded: list[EmbeddedSignature] = field(default_factory=list)


def bit_set(r: wire.Reader, width: int, bits: dict[int, str], non_empty: bool,
            name: str) -> list[str]:
    """A bit set of ``width`` bytes: undefined bits (and, if ``non_empty``, the
    empty set) are ``value_out_of_range`` at the field; names in bit order."""
    start = r.pos
    value = {1: r.u8, 4: r.u32}[width]()
    defined = sum(1 << bit for bit in bits)
    if value & ~defined:
        raise r.fail("value_out_of_range", start, f"{name} 0x{value:x} has undefined bits")
    if non_empty and value == 0:
        raise r.fail("value_out_of_range", start, f"{name} is empty")
    return [label for bit, label in sorted(bits.items()) if value >> bit & 1]


def strictly_increasing(r: wire.Reader, previous: Optional[bytes], current: bytes,
                        element_at: int, what: str) -> None:
    """Sorted and distinct: ``non_canonical`` at the element out of order."""
    if previous is not None and not previous < current:
        reason = "repeats" if previous == current else "sorts before"
        raise r.fail("non_canonical", element_at, f"{what} {current.hex()} {reason} the previous one")


def non_empty_string(r: wire.Reader, limit: int, name: str) -> str:
    """``string<=limit`` that must not be empty (``value_out_of_range`` at its prefix)."""
    start = r.pos
    text = r.string_upto(limit)
    if not text:
        raise r.fail("value_out_of_range", start, f"{name} is empty")
    return text


def wrapped_key(r: wire.Reader) -> dict[str, Any]:
    """WrappedKey (LEDGER.md 3.2)."""
    return {"encapsulated_key": r.fixed(32), "sealed_key": r.fixed(48)}


def authority(r: wire.Reader) -> dict[str, Any]:
    """Authority (LEDGER.md 3.2): ``u8 kind`` then ``bytes[32] id``."""
    return {"kind": r.enum(AUTHORITY_KINDS), "id": r.fixed(32)}


def consent_scope(r: wire.Reader) -> dict[str, Any]:
    """ConsentScope (LEDGER.md 3.2)."""
    kind = r.enum(SCOPE_KINDS)
    if kind == "all_records":
        return {"kind": kind}
    if kind == "categories":
        # "u32 count (1 to 32)": a range, so value_out_of_range either side
        # (LEDGER.md does not say count_exceeds_limit above 32).
        count_at = r.pos
        count = r.u32()
        if not 1 <= count <= MAX_CATEGORIES:
            raise r.fail("value_out_of_range", count_at, f"category count {count} not in 1..32")
        categories: list[str] = []
        previous: Optional[bytes] = None
        for _ in range(count):
            element_at = r.pos
            category = r.string_upto(MAX_CATEGORY)
            raw = category.encode("utf-8")
            # "sorted bytewise": compared as the strings' UTF-8 bytes.
            strictly_increasing(r, previous, raw, element_at, "category")
            previous = raw
            categories.append(category)
        return {"kind": kind, "categories": categories}
    # records: list<=64 of bytes[32], at least one, sorted and distinct.
    count_at, count = r.count(MAX_SCOPE_RECORDS)
    r.at_least(count, 1, count_at, "record count")
    records: list[bytes] = []
    for _ in range(count):
        element_at = r.pos
        record = r.fixed(32)
        strictly_increasing(r, records[-1] if records else None, record, element_at, "record")
        records.append(record)
    return {"kind": kind, "records": records}


def fetch_request(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    """FetchRequest (LEDGER.md 3.2); its signature is queued for checking."""
    start = r.pos
    request = {
        "record": r.fixed(32),
        "custodian": r.fixed(32),
        "requester": r.fixed(32),
        "purpose": r.enum(PURPOSES),
        "authority": authority(r),
        "nonce": r.fixed(32),
        "recent_block_hash": r.fixed(32),
        "encryption_key": r.fixed(32),
    }
    signed = r.data[start : r.pos]
    request["signature"] = r.fixed(64)
    ctx.embedded.append(
        EmbeddedSignature("fetch request signature", TAG_FETCH_REQUEST,
                          request["requester"], signed, request["signature"])
    )
    return request


# ---------------------------------------------------------------------------
# Bodies (LEDGER.md 3.3), one decoder per tx_type
# ---------------------------------------------------------------------------


def body_register_patient(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    body = {"encryption_key": r.fixed(32), "facility": r.fixed(32), "attestation": r.fixed(64)}
    ctx.embedded.append(
        EmbeddedSignature("patient attestation", TAG_PATIENT_ATTESTATION, body["facility"],
                          ctx.signer + body["encryption_key"], body["attestation"])
    )
    return body


def body_register_practitioner(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    return {
        "practitioner": r.fixed(32),
        "encryption_key": r.fixed(32),
        "roles": bit_set(r, 4, ROLE_BITS, True, "roles"),
        "display_name": r.string_upto(MAX_NAME),
    }


def body_register_organisation(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    return {
        "organisation": r.fixed(32),
        "encryption_key": r.fixed(32),
        "kind": r.enum(ORGANISATION_KINDS),
        "name": r.string_upto(MAX_NAME),
    }


def body_deregister(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    return {"subject": r.fixed(32)}


def body_set_delegates(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    patient = r.fixed(32)
    _, count = r.count(MAX_DELEGATES)
    delegates: list[dict[str, Any]] = []
    for _ in range(count):
        element_at = r.pos
        # The ordering rule is checked once the whole element has been read
        # (WIRE.md 1), so a bad relation is reported before the order.
        delegate = {"key": r.fixed(32), "relation": r.enum(RELATIONS)}
        strictly_increasing(r, delegates[-1]["key"] if delegates else None,
                            delegate["key"], element_at, "delegate key")
        delegates.append(delegate)
    return {"patient": patient, "delegates": delegates}


def body_set_recovery(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    patient = r.fixed(32)
    threshold_at = r.pos
    threshold = r.u8()
    _, count = r.count(MAX_RECOVERY_KEYS)
    keys: list[bytes] = []
    for _ in range(count):
        element_at = r.pos
        key = r.fixed(32)
        strictly_increasing(r, keys[-1] if keys else None, key, element_at, "recovery key")
        keys.append(key)
    # The threshold's range depends on the list after it: checked once the
    # list has been read, reported at the threshold.
    if not ((count == 0 and threshold == 0) or 1 <= threshold <= count):
        raise r.fail("value_out_of_range", threshold_at,
                     f"threshold {threshold} with {count} keys")
    return {"patient": patient, "threshold": threshold, "keys": keys}


def body_replace_patient_key(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    start = r.pos
    body: dict[str, Any] = {
        "patient": r.fixed(32),
        "key_version": r.u32(),
        "new_signing_key": r.fixed(32),
        "new_encryption_key": r.fixed(32),
    }
    signed = r.data[start : r.pos]
    _, count = r.count(MAX_APPROVALS)
    approvals: list[dict[str, Any]] = []
    for index in range(count):
        element_at = r.pos
        approval = {"key": r.fixed(32), "signature": r.fixed(64)}
        # "sorted by key": taken as strictly increasing (see the report).
        strictly_increasing(r, approvals[-1]["key"] if approvals else None,
                            approval["key"], element_at, "approval key")
        approvals.append(approval)
        ctx.embedded.append(
            EmbeddedSignature(f"recovery approval {index} by {approval['key'].hex()[:16]}...",
                              TAG_KEY_RECOVERY, approval["key"], signed, approval["signature"])
        )
    body["approvals"] = approvals
    return body


def body_grant_consent(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient": r.fixed(32),
        "grantee": r.fixed(32),
        "actions": bit_set(r, 1, ACTION_BITS, True, "actions"),
        # LEDGER.md only says bits 5-7 are invalid; an empty set is accepted.
        "purposes": bit_set(r, 1, PURPOSE_BITS, False, "purposes"),
        "scope": consent_scope(r),
        "start": r.u64(),
    }
    expiry_at = r.pos
    expiry = r.optional(r.u64)
    if expiry is not None and not expiry > body["start"]:
        raise r.fail("value_out_of_range", expiry_at,
                     f"expiry {expiry} not after start {body['start']}")
    body["expiry"] = expiry
    return body


def body_revoke_consent(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    return {"patient": r.fixed(32), "consent": r.fixed(32)}


def body_add_record(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    return {
        "record": r.fixed(32),
        "patient": r.fixed(32),
        "custodian": r.fixed(32),
        "category": r.string_upto(MAX_CATEGORY),
        "resource_type": r.string_upto(MAX_CATEGORY),
        "ciphertext_hash": r.fixed(32),
        "padded_size": r.u64(),  # "is a bucket" is a ledger rule (invalid_value)
        "created": r.u64(),
        "key_for_patient": wrapped_key(r),
        "key_for_custodian": wrapped_key(r),
        "authority": authority(r),
    }


def body_access_entry(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    request = fetch_request(r, ctx)
    kind = r.enum(OUTCOMES)
    if kind == "granted":
        outcome: dict[str, Any] = {"kind": kind, "key_for_requester": wrapped_key(r)}
    else:
        # "u16 code (a section 8 code)": not a decoding rule (it names no
        # error), so any u16 is accepted here.
        outcome = {"kind": kind, "code": r.u16(), "note": r.string_upto(MAX_NOTE)}
    return {"request": request, "outcome": outcome}


def body_break_glass(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    return {
        "patient": r.fixed(32),
        "custodian": r.fixed(32),
        "reason": non_empty_string(r, MAX_REASON, "reason"),
    }


def body_set_preferences(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    return {"patient": r.fixed(32), "break_glass_opt_out": r.boolean()}


def body_erase_record(r: wire.Reader, ctx: BodyContext) -> dict[str, Any]:
    return {"patient": r.fixed(32), "record": r.fixed(32)}


BodyDecoder = Callable[[wire.Reader, BodyContext], dict[str, Any]]

#: LEDGER.md 3.3: tx_type -> (type name, body decoder).
TX_TYPES: dict[int, tuple[str, BodyDecoder]] = {
    1: ("register_patient", body_register_patient),
    2: ("register_practitioner", body_register_practitioner),
    3: ("register_organisation", body_register_organisation),
    4: ("deregister", body_deregister),
    5: ("set_delegates", body_set_delegates),
    6: ("set_recovery", body_set_recovery),
    7: ("replace_patient_key", body_replace_patient_key),
    8: ("grant_consent", body_grant_consent),
    9: ("revoke_consent", body_revoke_consent),
    10: ("add_record", body_add_record),
    11: ("access_entry", body_access_entry),
    12: ("break_glass", body_break_glass),
    13: ("set_preferences", body_set_preferences),
    14: ("erase_record", body_erase_record),
}


# ---------------------------------------------------------------------------
# A whole transaction
# ---------------------------------------------------------------------------


class Rejected(Exception):
    """A LEDGER.md section 8 rejection, rendered as the vectors render it."""

    def __init__(self, rendering: dict[str, Any], detail: str = "") -> None:
        super().__init__(f"{short(rendering)}{': ' + detail if detail else ''}")
        self.rendering = rendering
        self.detail = detail


def decode_envelope(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The WIRE.md 5.1 Transaction, strictly; returns it and its signed bytes."""
    r = wire.Reader(data)
    tx = wire.decode_transaction(r)
    r.finish()
    return tx, data[: len(data) - ENVELOPE_SIGNATURE_LENGTH]


def envelope_signature_ok(tx: dict[str, Any], signed: bytes, chain_id: str) -> bool:
    return ed25519_verify(tx["signer"], tx["signature"], signing_input(TAG_TX, chain_id, signed))


def decode_body(tx: dict[str, Any]) -> tuple[str, dict[str, Any], BodyContext]:
    """Type name, decoded body and embedded signatures; raises :class:`Rejected`."""
    entry = TX_TYPES.get(tx["tx_type"])
    if entry is None:
        raise Rejected({"error": "unknown_transaction_type"}, f"tx_type {tx['tx_type']}")
    name, decoder = entry
    ctx = BodyContext(signer=tx["signer"])
    r = wire.Reader(tx["body"])
    try:
        body = decoder(r, ctx)
        r.finish()
    except wire.WireError as exc:
        raise Rejected(
            {"error": "malformed", "body_error": exc.error, "offset": exc.offset}, exc.detail
        ) from None
    return name, body, ctx


def check_transaction(tx: dict[str, Any], signed: bytes, chain_id: str
                      ) -> tuple[str, dict[str, Any], BodyContext]:
    """Steps 2-4 of the module docstring, in that order."""
    if not envelope_signature_ok(tx, signed, chain_id):
        raise Rejected({"error": "bad_signature"}, "envelope signature does not verify")
    return decode_body(tx)


def other_failures(tx: dict[str, Any], signed: bytes, chain_id: str) -> list[str]:
    """Every failure among signature, type and body, whatever the order."""
    found = []
    if not envelope_signature_ok(tx, signed, chain_id):
        found.append("bad_signature")
    try:
        decode_body(tx)
    except Rejected as exc:
        found.append(short(exc.rendering))
    return found


def render_transaction(tx: dict[str, Any], name: str, body: dict[str, Any]) -> dict[str, Any]:
    rendered = wire.to_json_value(tx)
    rendered["type"] = name
    rendered["decoded_body"] = wire.to_json_value(body)
    return rendered


def diff_lines(expected: Any, actual: Any) -> Optional[str]:
    diff = json_diff(expected, actual)
    if not diff:
        return None
    more = len(diff) - MAX_DIFF_LINES
    lines = diff[:MAX_DIFF_LINES] + ([f"... {more} more"] if more > 0 else [])
    return "expected vs got:\n    " + "\n    ".join(lines)


def check_vector(hex_path: Path) -> tuple[Optional[str], list[str]]:
    """Check one vector: (None or why it failed, notes)."""
    notes: list[str] = []
    json_path = hex_path.with_suffix(".json")
    if not json_path.exists():
        return f"no {json_path.name}", notes
    try:
        data = wire.read_hex_file(hex_path.read_text(encoding="ascii"))
        expected = json.loads(json_path.read_text(encoding="utf-8"))
        chain_id = expected["chain_id"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"cannot load vector: {exc}", notes
    if not isinstance(chain_id, str):
        return "chain_id is not a string", notes
    if ("transaction" in expected) == ("rejection" in expected):
        return "the JSON must have exactly one of 'transaction' and 'rejection'", notes
    unexpected = expected.keys() - {"chain_id", "transaction", "rejection"}
    if unexpected:
        return f"unexpected members {sorted(unexpected)}", notes

    try:
        tx, signed = decode_envelope(data)
    except wire.WireError as exc:
        return f"envelope does not decode: {exc}", notes

    try:
        name, body, ctx = check_transaction(tx, signed, chain_id)
    except Rejected as exc:
        if "rejection" not in expected:
            return f"expected a valid transaction, got rejection {exc}", notes
        problem = diff_lines(expected["rejection"], exc.rendering)
        if problem is not None:
            return f"rejection {exc}; {problem}", notes
        failures = other_failures(tx, signed, chain_id)
        if len(failures) > 1:
            notes.append("also fails with: " + ", ".join(failures[1:]) +
                         " (the order of these checks decides the expected rejection)")
        return None, notes

    if "rejection" in expected:
        return f"expected rejection {short(expected['rejection'])}, got a valid {name}", notes
    problem = diff_lines(expected["transaction"], render_transaction(tx, name, body))
    if problem is not None:
        return problem, notes
    bad = [
        f"{sig.what} (tag {sig.tag}, key {sig.key.hex()}) does not verify"
        for sig in ctx.embedded
        if not ed25519_verify(sig.key, sig.signature, signing_input(sig.tag, chain_id, sig.signed))
    ]
    if bad:
        return "; ".join(bad), notes
    if ctx.embedded:
        notes.append(f"{len(ctx.embedded)} embedded signature(s) verified")
    return None, notes


def main() -> int:
    """Check all ledger vectors and print the summary line."""
    hex_files = sorted(VECTORS_DIR.glob("*.hex"))
    passed = failed = 0
    for hex_path in hex_files:
        problem, notes = check_vector(hex_path)
        if problem is None:
            passed += 1
            print(f"ok {hex_path.stem}")
        else:
            failed += 1
            print(f"FAIL {hex_path.stem}: {problem}")
        for note in notes:
            print(f"note {hex_path.stem}: {note}")
    if not hex_files:
        print(f"no vectors found in {VECTORS_DIR}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not hex_files else 0


if __name__ == "__main__":
    sys.exit(main())
