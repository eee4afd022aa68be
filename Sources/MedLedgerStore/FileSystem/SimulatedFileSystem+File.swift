import Synchronization

/// A handle on one inode of a ``SimulatedFileSystem``, like a file descriptor: it follows the file
/// through renames and keeps a removed file readable, and it dies with a crash.
final class SimulatedFile: StoreFile {
    let system: SimulatedFileSystem
    let handle: SimulatedFileSystem.Handle
    private let closed = Atomic<Bool>(false)

    var path: String { handle.path }

    init(system: SimulatedFileSystem, inode: SimulatedFileSystem.Inode, epoch: UInt64, path: String) {
        self.system = system
        handle = SimulatedFileSystem.Handle(
            inode: inode, epoch: epoch, path: path, key: SimulatedFileSystem.State.key(path))
    }

    private func checkOpen() throws(StoreError) {
        if closed.load(ordering: .acquiring) { throw StoreError(.unavailable, "the file is closed", path: path) }
    }

    func size() throws(StoreError) -> UInt64 {
        try checkOpen()
        return try system.locked { (state) throws(StoreError) in try state.size(handle) }
    }

    func read(at offset: UInt64, count: Int) throws(StoreError) -> [UInt8] {
        try checkOpen()
        return try system.locked { (state) throws(StoreError) in try state.read(handle, at: offset, count: count) }
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws(StoreError) {
        try checkOpen()
        try system.locked { (state) throws(StoreError) in try state.write(handle, bytes, at: offset) }
    }

    func truncate(to size: UInt64) throws(StoreError) {
        try checkOpen()
        try system.locked { (state) throws(StoreError) in try state.truncate(handle, to: size) }
    }

    func sync() throws(StoreError) {
        try checkOpen()
        try system.locked { (state) throws(StoreError) in try state.sync(handle) }
    }

    func close() {
        closed.store(true, ordering: .releasing)
    }
}

extension SimulatedFileSystem {
    /// What a file handle knows: its inode, the crash epoch it belongs to, and its path.
    struct Handle: Sendable {
        var inode: Inode
        var epoch: UInt64
        /// The path as the caller spelled it (``StoreFile/path``).
        var path: String
        /// The path's canonical spelling, which faults are keyed by.
        var key: String
    }

    /// Byte-array edits shared by the volatile view, the durable image and a crash.
    enum Image {
        static func write(_ bytes: ArraySlice<UInt8>, at offset: Int, into image: inout [UInt8]) {
            guard !bytes.isEmpty else { return }
            let end = offset + bytes.count
            if image.count < end { image.append(contentsOf: repeatElement(0, count: end - image.count)) }
            image.withUnsafeMutableBufferPointer { target in
                bytes.withUnsafeBufferPointer { source in
                    (target.baseAddress! + offset).update(from: source.baseAddress!, count: source.count)
                }
            }
        }

        static func resize(_ image: inout [UInt8], to size: Int) {
            if size < image.count {
                image.removeSubrange(size...)
            } else if size > image.count {
                image.append(contentsOf: repeatElement(0, count: size - image.count))
            }
        }

        static func apply(_ operation: DataOperation, to image: inout [UInt8]) {
            switch operation {
            case .write(let offset, let bytes): write(bytes[...], at: offset, into: &image)
            case .truncate(let size): resize(&image, to: size)
            }
        }
    }
}

extension SimulatedFileSystem.State {
    typealias Handle = SimulatedFileSystem.Handle
    typealias Image = SimulatedFileSystem.Image

    /// The handle's file, once the call is admitted; a handle from before a crash is dead.
    mutating func node(
        _ handle: Handle, _ operation: SimulatedFileSystem.Operation, counted: Bool
    ) throws(StoreError) -> SimulatedFileSystem.FileNode {
        guard handle.epoch == epoch, let node = files[handle.inode] else {
            throw StoreError(.unavailable, "the file was opened before a simulated crash", path: handle.path)
        }
        try admit(operation, path: handle.path, counted: counted)
        return node
    }

    /// The offset and end of a write or truncate, or `io` ("File too large") past the limit.
    func extent(_ offset: UInt64, _ count: Int, _ path: String, _ call: String) throws(StoreError) -> Int {
        let limit = configuration.maximumFileSize
        guard offset <= limit, UInt64(count) <= limit - offset else {
            throw Self.failure(call, "File too large", path)
        }
        return Int(offset)
    }

    mutating func size(_ handle: Handle) throws(StoreError) -> UInt64 {
        guard handle.epoch == epoch, let node = files[handle.inode] else {
            throw StoreError(.unavailable, "the file was opened before a simulated crash", path: handle.path)
        }
        if frozen { throw Self.frozenError(handle.path) }
        return UInt64(node.volatile.count)
    }

    mutating func read(_ handle: Handle, at offset: UInt64, count: Int) throws(StoreError) -> [UInt8] {
        let node = try node(handle, .read, counted: false)
        statistics.reads += 1
        guard count > 0, offset < UInt64(node.volatile.count) else { return [] }
        let start = Int(offset)
        let end = start + min(count, node.volatile.count - start)
        var bytes = Array(node.volatile[start..<end])
        corruptRead(&bytes, handle.key, offset: start, count: count)
        statistics.bytesRead += UInt64(bytes.count)
        return bytes
    }

    /// Flips the bits ``SimulatedFileSystem/flipBitOnRead(_:offset:bit:)`` asked for, and one more
    /// if the read is among those ``SimulatedFileSystem/Configuration/readBitFlipProbability`` picks.
    mutating func corruptRead(_ bytes: inout [UInt8], _ key: String, offset: Int, count: Int) {
        for fault in readFaults where fault.path == key && fault.offset >= offset && fault.offset < offset + bytes.count
        {
            bytes[fault.offset - offset] ^= 1 << UInt8(fault.bit)
            statistics.readBitFlips += 1
        }
        let probability = configuration.readBitFlipProbability
        guard probability > 0 else { return }
        typealias Generator = SimulatedFileSystem.Generator
        var word = Generator.mix(configuration.seed ^ Generator.hash(key))
        word = Generator.mix(word ^ UInt64(offset))
        word = Generator.mix(word ^ UInt64(count))
        guard Generator.unit(word) < probability else { return }
        let bit = Int(Generator.mix(word) % UInt64(bytes.count * 8))
        bytes[bit / 8] ^= 1 << UInt8(bit % 8)
        statistics.readBitFlips += 1
    }

    mutating func write(_ handle: Handle, _ bytes: [UInt8], at offset: UInt64) throws(StoreError) {
        let node: SimulatedFileSystem.FileNode
        do {
            node = try self.node(handle, .write, counted: true)
        } catch {
            // An injected failure: a short write may have landed before the error, as with ENOSPC.
            if error.code == .io, let node = files[handle.inode], !bytes.isEmpty,
                let start = try? extent(offset, bytes.count, handle.path, "pwrite")
            {
                let kept = generator.below(bytes.count)
                if kept > 0 {
                    let prefix = Array(bytes[..<kept])
                    Image.write(prefix[...], at: start, into: &node.volatile)
                    node.pending.append(.write(offset: start, bytes: prefix))
                    statistics.bytesWritten += UInt64(kept)
                }
            }
            throw error
        }
        let start = try extent(offset, bytes.count, handle.path, "pwrite")
        statistics.writes += 1
        guard !bytes.isEmpty else { return }
        Image.write(bytes[...], at: start, into: &node.volatile)
        node.pending.append(.write(offset: start, bytes: bytes))
        statistics.bytesWritten += UInt64(bytes.count)
    }

    mutating func truncate(_ handle: Handle, to size: UInt64) throws(StoreError) {
        let node = try node(handle, .truncate, counted: true)
        let size = try extent(size, 0, handle.path, "ftruncate")
        Image.resize(&node.volatile, to: size)
        node.pending.append(.truncate(size: size))
        statistics.truncates += 1
    }

    mutating func sync(_ handle: Handle) throws(StoreError) {
        let node: SimulatedFileSystem.FileNode
        do {
            node = try self.node(handle, .sync, counted: true)
        } catch {
            // An injected failure: writeback went as far as it went, and the pages count as clean.
            if error.code == .io, let node = files[handle.inode] {
                var generator = self.generator
                settle(node, using: &generator)
                self.generator = generator
            }
            throw error
        }
        for operation in node.pending {
            Image.apply(operation, to: &node.durable)
        }
        node.pending.removeAll()
        statistics.syncs += 1
    }
}
