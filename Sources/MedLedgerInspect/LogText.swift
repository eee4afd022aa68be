import MedLedgerStore
import MedLedgerWire

/// Small text helpers shared by the `log` subcommands' readable output.
enum LogText {
    /// Milliseconds since the Unix epoch as ISO 8601 UTC, `2026-11-18T08:26:40.000Z`.
    static func isoTime(ms: UInt64) -> String {
        let days = Int64(ms / 86_400_000)
        let inDay = ms % 86_400_000
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: some BinaryInteger, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let seconds = inDay / 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):"
            + "\(pad(seconds % 60, 2)).\(pad(inDay % 1000, 3))Z"
    }

    /// Inflated over stored bytes, two decimals: `2.37x`; `-` when nothing is stored.
    static func ratio(inflated: UInt64, stored: UInt64) -> String {
        guard stored > 0 else { return "-" }
        let hundredths = (inflated * 100 + stored / 2) / stored
        let cents = String(hundredths % 100)
        return "\(hundredths / 100).\(cents.count == 1 ? "0" + cents : cents)x"
    }

    /// `1-4`, `7`, or `-` for none.
    static func heights(_ first: UInt64?, _ last: UInt64?) -> String {
        guard let first, let last else { return "-" }
        return first == last ? "\(first)" : "\(first)-\(last)"
    }

    static func count(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(n) \(n == 1 ? singular : plural ?? singular + "s")"
    }

    /// Rows padded into columns two spaces apart; the columns in `right` are right-aligned.
    static func table(_ rows: [[String]], right: Set<Int>, indent: String) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            var line = indent
            for (index, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                let last = index == row.count - 1
                if right.contains(index) {
                    line += padding + cell
                } else {
                    line += last ? cell : cell + padding
                }
                if !last { line += "  " }
            }
            return line
        }
    }

    /// Labelled lines, the values lined up: `label   value`.
    static func fields(_ pairs: [(String, String)], indent: String = "", width: Int? = nil) -> [String] {
        let width = width ?? pairs.map(\.0.count).max() ?? 0
        return pairs.map { indent + $0.0 + String(repeating: " ", count: max(0, width - $0.0.count) + 2) + $0.1 }
    }

    /// Text from the log (names, reasons) made safe for a terminal: control characters escaped.
    static func safe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        let quoted = JSONValue.string(text).description
        return String(quoted.dropFirst().dropLast())
    }
}

/// What the index file is worth (Protocol/LOG.md section 4). It is derived data: never a failure
/// of the log, but worth knowing before a node starts.
public enum LogIndexStatus: Hashable, Sendable {
    case missing
    /// Not a valid index file at all.
    case damaged(String)
    /// A valid file whose entries do not match the segments. `openRebuilds`: whether opening the
    /// log notices (it checks bounds and the last entry only).
    case stale(String, openRebuilds: Bool)
    /// Every entry where the record of its height is; `frontierHeight`: the last height the index
    /// says was fsynced (Protocol/LOG.md section 7).
    case sound(interval: UInt16, entries: Int, lastHeight: UInt64?, frontierHeight: UInt64)

    public var isSound: Bool {
        if case .sound = self { return true }
        return false
    }

    /// Judges the directory's index file against where the scans found each record.
    public static func check(_ directory: LogDirectory, scans: [SegmentScan]) -> LogIndexStatus {
        guard let bytes = directory.indexFile else { return .missing }
        guard let index = SegmentIndex.decode(bytes) else {
            return .damaged("not a valid index file (its magic, version, layout or CRC is wrong)")
        }
        let openRebuilds = directory.trustedIndex() == nil
        for entry in index.entries {
            guard let scan = scans.first(where: { $0.segment.startHeight == entry.segmentStart }) else {
                return .stale(
                    "the entry for height \(entry.height) names a segment starting at height \(entry.segmentStart), which is not there",
                    openRebuilds: openRebuilds)
            }
            let actual = scan.offsets[entry.height]
            guard actual != entry.offset else { continue }
            return .stale(
                actual.map { "the entry for height \(entry.height) points at offset \(entry.offset) of \(scan.segment.name); the record is at offset \($0)" }
                    ?? "the entry for height \(entry.height) points into \(scan.segment.name), where no record of that height was found",
                openRebuilds: openRebuilds)
        }
        return .sound(
            interval: index.interval, entries: index.entries.count, lastHeight: index.entries.last?.height,
            frontierHeight: index.frontier.height)
    }

    public var text: String {
        switch self {
        case .missing:
            return "missing (opening the log rebuilds it; until then only the newest segment counts as a possibly torn tail)"
        case .damaged(let why):
            return "damaged: \(why) (opening the log rebuilds it)"
        case .stale(let why, let openRebuilds):
            return "stale: \(why)"
                + (openRebuilds
                    ? " (opening the log rebuilds it)"
                    : " (opening the log checks only bounds and the last entry and would keep it: delete \(SegmentIndex.fileName) so that the next open rebuilds it)")
        case .sound(let interval, let entries, let lastHeight, let frontierHeight):
            let last = lastHeight.map { ", the last at height \($0)" } ?? ""
            return "sound: interval \(interval), \(LogText.count(entries, "entry", "entries"))\(last); fsynced through height \(frontierHeight)"
        }
    }
}
