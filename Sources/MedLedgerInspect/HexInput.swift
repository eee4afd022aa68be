import MedLedgerWire

/// Hex as people paste it: whitespace anywhere, `#` comment lines (as in Protocol/vectors), an
/// optional `0x` prefix, and `:` or `-` between bytes.
public enum HexInput {
    /// The bytes of `text`, or an error naming the first bad character's position (counted from 1).
    public static func parse(_ text: String) throws(InspectError) -> [UInt8] {
        var digits: [UInt8] = []
        var position = 0
        var lineStart = true
        var inComment = false
        var previous: UInt8 = 0
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let char = bytes[index]
            position = index + 1
            index += 1
            if char == UInt8(ascii: "\n") {
                lineStart = true
                inComment = false
                continue
            }
            if inComment { continue }
            if lineStart, char == UInt8(ascii: "#") {
                inComment = true
                continue
            }
            if char == UInt8(ascii: " ") || char == UInt8(ascii: "\t") || char == UInt8(ascii: "\r") { continue }
            lineStart = false
            if char == UInt8(ascii: ":") || char == UInt8(ascii: "-") { continue }
            if (char == UInt8(ascii: "x") || char == UInt8(ascii: "X")), previous == UInt8(ascii: "0"),
                digits.count % 2 == 1
            {
                digits.removeLast()  // a 0x prefix
                previous = char
                continue
            }
            guard Hex.decode(String(decoding: [char, char], as: UTF8.self)) != nil else {
                let shown = char < 0x80 ? "'\(Character(Unicode.Scalar(char)))'" : "a non-ASCII byte"
                throw InspectError(
                    "invalid hex: \(shown) at character \(position) is not a hex digit",
                    hint: "give the frame as hex digits (0-9, a-f); spaces, line breaks and # comment lines are ignored")
            }
            digits.append(char)
            previous = char
        }
        guard digits.count % 2 == 0 else {
            throw InspectError(
                "invalid hex: \(digits.count) hex digits is an odd number, so the last byte is incomplete",
                hint: "every byte is two hex digits; check that nothing was cut off when copying")
        }
        guard !digits.isEmpty else {
            throw InspectError("no hex digits in the input", hint: "pass the frame as hex, or - to read it from standard input")
        }
        return Hex.decode(String(decoding: digits, as: UTF8.self))!
    }
}
