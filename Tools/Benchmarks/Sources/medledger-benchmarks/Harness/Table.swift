/// A plain text table: a header row, a rule, and rows; text columns left-aligned, figures right-aligned.
struct Table {
    enum Alignment { case left, right }

    var columns: [(title: String, alignment: Alignment)]
    var rows: [[String]] = []

    init(_ columns: [(String, Alignment)]) {
        self.columns = columns.map { (title: $0.0, alignment: $0.1) }
    }

    mutating func add(_ row: [String]) {
        precondition(row.count == columns.count, "a row needs one cell per column")
        rows.append(row)
    }

    func render(indent: String = "  ") -> String {
        let widths = columns.indices.map { column in
            ([columns[column].title] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.indices.map { column -> String in
                let cell = cells[column]
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return columns[column].alignment == .left ? cell + padding : padding + cell
            }
            var text = indent + padded.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        var lines = [line(columns.map(\.title))]
        lines.append(indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }
}

/// Number formatting without locale surprises.
enum Format {
    /// `value` with `digits` decimals, rounded half away from zero.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = UInt64(scaled / scale)
        let fraction = UInt64(scaled - Double(whole) * scale)
        var text = grouped(whole)
        if digits > 0 {
            let digitsText = String(fraction)
            text += "." + String(repeating: "0", count: digits - digitsText.count) + digitsText
        }
        return (value < 0 && scaled != 0 ? "-" : "") + text
    }

    /// An integer with thousands separators: 1,234,567.
    static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }

    static func grouped(_ value: Int) -> String { value < 0 ? "-" + grouped(UInt64(-value)) : grouped(UInt64(value)) }

    /// A rate (per second) with three significant figures at most and no decimals above 100.
    static func rate(_ value: Double) -> String {
        value >= 100 ? fixed(value, 0) : value >= 10 ? fixed(value, 1) : fixed(value, 2)
    }

    /// A duration in the most readable unit: "812 ns", "3.41 µs", "2.05 ms", "1.234 s".
    static func duration(_ seconds: Double) -> String {
        if seconds < 1e-6 { return fixed(seconds * 1e9, 0) + " ns" }
        if seconds < 1e-3 { return fixed(seconds * 1e6, 2) + " µs" }
        if seconds < 1 { return fixed(seconds * 1e3, 2) + " ms" }
        return fixed(seconds, 3) + " s"
    }

    /// A ratio: "3.42x".
    static func ratio(_ value: Double) -> String { fixed(value, 2) + "x" }
}
