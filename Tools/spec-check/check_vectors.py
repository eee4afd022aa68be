"""Check every vector of ``Protocol/vectors/`` against the independent decoder.

For each ``NAME.hex`` with its ``NAME.json`` (section 9 of WIRE.md):

* an ordinary vector is decoded and its section 8 rendering compared with the
  JSON, as JSON values (member order irrelevant); a sealed vector's
  ``"sealed"`` member is the input needed to open it, not part of the
  comparison;
* a ``reject-NAME`` vector must fail with exactly the error, layer and offset
  of its JSON.

Prints ``ok NAME`` or ``FAIL NAME: ...`` per vector, then ``N passed, M failed``;
exits non-zero if anything failed or no vector was found. Paths are resolved
from this script's location, so it runs from any working directory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import medledger_wire as wire  # noqa: E402

VECTORS_DIR = Path(__file__).resolve().parent.parent.parent / "Protocol" / "vectors"
REJECTION_KEYS = ("error", "layer", "offset")
MAX_DIFF_LINES = 12


def json_diff(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Differences between two JSON values, one line per differing leaf."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines: list[str] = []
        for key in sorted(expected.keys() | actual.keys()):
            where = f"{path}.{key}"
            if key not in actual:
                lines.append(f"{where}: missing (expected {short(expected[key])})")
            elif key not in expected:
                lines.append(f"{where}: unexpected member (got {short(actual[key])})")
            else:
                lines.extend(json_diff(expected[key], actual[key], where))
        return lines
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: expected {len(expected)} elements, got {len(actual)}"]
        lines = []
        for index, (left, right) in enumerate(zip(expected, actual)):
            lines.extend(json_diff(left, right, f"{path}[{index}]"))
        return lines
    # bool is an int in Python: compare types too, so true != 1.
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: expected {short(expected)}, got {short(actual)}"]
    return []


def short(value: Any, limit: int = 80) -> str:
    """A JSON value, cut to ``limit`` characters for a diff line."""
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def seal_context(expected: dict[str, Any]) -> Optional[wire.SealContext]:
    """The key and sequence given by a sealed vector's ``"sealed"`` member."""
    sealed = expected.get("sealed")
    if sealed is None:
        return None
    return wire.SealContext.from_key_log_line(
        sealed["key_log"], sealed["direction"], sealed["sequence"]
    )


def check_vector(hex_path: Path) -> Optional[str]:
    """Check one vector; returns None when it passes, else why it failed."""
    name = hex_path.stem
    json_path = hex_path.with_suffix(".json")
    if not json_path.exists():
        return f"no {json_path.name}"
    try:
        data = wire.read_hex_file(hex_path.read_text(encoding="ascii"))
        expected = json.loads(json_path.read_text(encoding="utf-8"))
        seal = seal_context(expected)
    except (ValueError, KeyError, TypeError) as exc:
        return f"cannot load vector: {exc}"
    expected = {key: value for key, value in expected.items() if key != "sealed"}
    is_reject = name.startswith("reject-")
    if is_reject:
        if not all(key in expected for key in REJECTION_KEYS):
            return f"{json_path.name} lacks one of {', '.join(REJECTION_KEYS)}"
        expected = {key: expected[key] for key in REJECTION_KEYS}

    try:
        frame = wire.decode_frame(data, seal)
    except wire.WireError as exc:
        actual = exc.to_json()
        if actual == expected:
            return None
        detail = f" ({exc.detail})" if exc.detail else ""
        return f"expected {short(expected)}, got {short(actual)}{detail}"
    except wire.MissingKeyError as exc:
        return str(exc)

    if is_reject:
        return f"expected {short(expected)}, got a decoded frame"
    actual = wire.render_frame(frame)
    diff = json_diff(expected, actual)
    if not diff:
        return None
    more = len(diff) - MAX_DIFF_LINES
    lines = diff[:MAX_DIFF_LINES] + ([f"... {more} more"] if more > 0 else [])
    return "expected vs got:\n    " + "\n    ".join(lines)


def main() -> int:
    """Check all vectors and print the summary line."""
    hex_files = sorted(VECTORS_DIR.glob("*.hex"))
    passed = failed = 0
    for hex_path in hex_files:
        problem = check_vector(hex_path)
        if problem is None:
            passed += 1
            print(f"ok {hex_path.stem}")
        else:
            failed += 1
            print(f"FAIL {hex_path.stem}: {problem}")
    if not hex_files:
        print(f"no vectors found in {VECTORS_DIR}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not hex_files else 0


if __name__ == "__main__":
    sys.exit(main())
