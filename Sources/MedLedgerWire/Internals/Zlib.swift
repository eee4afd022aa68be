import CZlib

/// The one place MedLedger calls zlib: CRC-32 (`crc32`), deflate (`deflateInit_`, `deflate`,
/// `deflateEnd`) and bounded inflate (`inflateInit_`, `inflate`, `inflateEnd`).
public enum Zlib {
    /// CRC-32 as zlib computes it (ISO-HDLC: reflected 0xEDB88320, init and final xor 0xFFFFFFFF).
    public static func crc32(_ bytes: some Collection<UInt8>, continuing crc: UInt32 = 0) -> UInt32 {
        let contiguous = bytes.withContiguousStorageIfAvailable { crc32(buffer: $0, continuing: crc) }
        return contiguous ?? Array(bytes).withUnsafeBufferPointer { crc32(buffer: $0, continuing: crc) }
    }

    private static func crc32(buffer: UnsafeBufferPointer<UInt8>, continuing crc: UInt32) -> UInt32 {
        var value = UInt(crc)
        var base = buffer.baseAddress
        var left = buffer.count
        // zlib takes a 32-bit length: feed large buffers in pieces.
        while left > 0, let pointer = base {
            let chunk = Swift.min(left, Int(Int32.max))
            value = CZlib.crc32(value, pointer, UInt32(chunk))
            base = pointer + chunk
            left -= chunk
        }
        return UInt32(truncatingIfNeeded: value)
    }

    /// Compresses `input` into one zlib stream (RFC 1950) at `level` (0 to 9, or -1 for zlib's default).
    public static func deflate(_ input: [UInt8], level: Int32 = Z_DEFAULT_COMPRESSION) -> [UInt8] {
        var stream = z_stream()
        let initStatus = deflateInit_(&stream, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(initStatus == Z_OK, "deflateInit failed with \(initStatus): out of memory")
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let produced: Int = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                let status = CZlib.deflate(&stream, Z_FINISH)
                // With deflateBound's capacity one Z_FINISH call always completes the stream.
                precondition(status == Z_STREAM_END, "deflate did not finish within deflateBound: \(status)")
                return outBuffer.count - Int(stream.avail_out)
            }
        }
        output.removeLast(output.count - produced)
        return output
    }

    /// What a bounded inflate found.
    public enum InflateOutcome: Equatable, Sendable {
        /// The stream ended exactly at the end of the input and produced exactly the expected bytes.
        case inflated([UInt8])
        /// More than the expected number of bytes came out.
        case tooLong
        /// zlib found the data malformed (bad header, bad deflate data, bad Adler-32).
        case malformed(String)
        /// The input ended before the stream did.
        case incomplete
        /// Bytes follow the end of the stream.
        case trailingData
        /// The stream ended having produced fewer bytes than expected.
        case tooShort(Int)
    }

    /// Inflates one zlib stream that must produce exactly `expectedLength` bytes, never producing or
    /// allocating more than `expectedLength + 1` (Protocol/WIRE.md section 3).
    public static func inflate(_ input: ArraySlice<UInt8>, expectedLength: Int) -> InflateOutcome {
        var stream = z_stream()
        let initStatus = inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(initStatus == Z_OK, "inflateInit failed with \(initStatus): out of memory")
        defer { inflateEnd(&stream) }
        // One spare byte tells "exactly expectedLength" from "more than expectedLength".
        var output = [UInt8](repeating: 0, count: expectedLength + 1)
        var status: Int32 = Z_OK
        var consumed = 0
        let produced: Int = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                // Z_FINISH may still return Z_BUF_ERROR when output space ran out; loop on progress.
                while true {
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    if status != Z_OK || stream.avail_out == 0 || stream.avail_in == 0 { break }
                }
                consumed = inBuffer.count - Int(stream.avail_in)
                return outBuffer.count - Int(stream.avail_out)
            }
        }
        if produced > expectedLength { return .tooLong }
        switch status {
        case Z_STREAM_END:
            if consumed < input.count { return .trailingData }
            if produced < expectedLength { return .tooShort(produced) }
            output.removeLast()
            return .inflated(output)
        case Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR, Z_MEM_ERROR:
            let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
            return .malformed(status == Z_NEED_DICT ? "the stream needs a preset dictionary" : message)
        default:
            // Z_OK or Z_BUF_ERROR with input exhausted: the data stopped before the stream's end.
            return .incomplete
        }
    }
}
