extension SimulatedFileSystem {
    // MARK: Failing calls

    /// Makes one future call of `operation` throw ``StoreError/Code/io``: the one after `successes`
    /// more calls of that kind (on `path` only, if given) have gone through.
    ///
    /// A failed write may leave a prefix of its bytes, pending like any write; a failed sync
    /// settles the file's pending operations as a crash would and forgets them, so a later sync
    /// does not make them durable (see the type's overview); any other failed call has no effect.
    /// Failures that have not fired survive a crash.
    public func injectFailure(_ operation: Operation, after successes: Int = 0, path: String? = nil) {
        precondition(successes >= 0, "a failure cannot be injected in the past")
        state.withLock {
            $0.failures.append(ScheduledFailure(operation: operation, remaining: successes, path: path.map(State.key)))
        }
    }

    public func cancelInjectedFailures() {
        state.withLock { $0.failures.removeAll() }
    }

    // MARK: Corrupting reads

    /// Makes every read of `path` that covers byte `offset` return it with bit `bit` (0 is the
    /// least significant) flipped. What is stored does not change. Matched by the path the file
    /// was opened with, in its canonical spelling; it survives crashes.
    public func flipBitOnRead(_ path: String, offset: UInt64, bit: Int = 0) {
        precondition((0..<8).contains(bit), "a byte has bits 0 to 7")
        precondition(offset <= UInt64(Int.max), "offset out of range")
        state.withLock { $0.readFaults.append(ReadFault(path: State.key(path), offset: Int(offset), bit: bit)) }
    }

    public func clearReadFaults() {
        state.withLock { $0.readFaults.removeAll() }
    }

    // MARK: Damaging what is stored

    /// Flips bit `bit` of byte `offset` of the file at `path`, in its durable image and its
    /// volatile view (wherever the file is that long), as the medium rotting would.
    ///
    /// - Throws: `notFound` if there is no such file; `invalidArgument` if `offset` is past its end.
    public func flipStoredBit(_ path: String, offset: UInt64, bit: Int = 0) throws(StoreError) {
        precondition((0..<8).contains(bit), "a byte has bits 0 to 7")
        try locked { (state) throws(StoreError) in
            let node = try state.damageTarget(path)
            guard offset < UInt64(max(node.durable.count, node.volatile.count)) else {
                throw StoreError(.invalidArgument, "offset past the end of the file", path: path, offset: offset)
            }
            let at = Int(offset)
            if at < node.durable.count { node.durable[at] ^= 1 << UInt8(bit) }
            if at < node.volatile.count { node.volatile[at] ^= 1 << UInt8(bit) }
        }
    }

    /// Sets the stored length of the file at `path`, durable image and volatile view alike (cut
    /// off, or extended with zeros): a torn tail made to order. Pending operations stay pending.
    public func truncateStored(_ path: String, to size: UInt64) throws(StoreError) {
        try locked { (state) throws(StoreError) in
            let node = try state.damageTarget(path)
            let size = try state.extent(size, 0, path, "truncate")
            Image.resize(&node.durable, to: size)
            Image.resize(&node.volatile, to: size)
        }
    }

    /// Writes `bytes` at `offset` in the file at `path`, durable image and volatile view alike,
    /// as garbage left on the medium would be. Pending operations stay pending.
    public func overwriteStored(_ path: String, at offset: UInt64, with bytes: [UInt8]) throws(StoreError) {
        try locked { (state) throws(StoreError) in
            let node = try state.damageTarget(path)
            let start = try state.extent(offset, bytes.count, path, "write")
            Image.write(bytes[...], at: start, into: &node.durable)
            Image.write(bytes[...], at: start, into: &node.volatile)
        }
    }

    /// Creates (or replaces the content of) the file at `path`, with its missing directories, all
    /// already durable, as if written, synced and its directories synced before the test began.
    /// Counts as no operation and ignores a frozen machine.
    public func plantFile(_ path: String, content: [UInt8]) throws(StoreError) {
        try locked { (state) throws(StoreError) in try state.plant(path, content: content) }
    }

    // MARK: Observing

    /// What the file system has done so far.
    public var statistics: Statistics {
        state.withLock { $0.statistics }
    }

    /// What a crash now would leave at `path` if no pending operation survived: the durable image
    /// of the file that the durable directory entries lead to, or nil if they lead to no file.
    public func durableContent(_ path: String) -> [UInt8]? {
        state.withLock { state in
            guard case .file(let inode) = state.lookup(path, durable: true) else { return nil }
            return state.files[inode]!.durable
        }
    }

    /// What reads of the file at `path` return now, or nil if there is no file there.
    public func volatileContent(_ path: String) -> [UInt8]? {
        state.withLock { state in
            guard case .file(let inode) = state.lookup(path) else { return nil }
            return state.files[inode]!.volatile
        }
    }

    /// The durable names in `directory`, sorted, or nil if the durable entries lead to no directory there.
    public func durableList(_ directory: String) -> [String]? {
        state.withLock { state in
            guard case .directory(let inode) = state.lookup(directory, durable: true) else { return nil }
            return state.directories[inode]!.durable.compactMap { $0.value.inode == nil ? nil : $0.key }.sorted()
        }
    }

    /// The names in `directory` as callers see them now, sorted, or nil if there is no directory
    /// there. Unlike ``list(_:)`` it answers on a frozen machine, so a test can look before it crashes.
    public func volatileList(_ directory: String) -> [String]? {
        state.withLock { state in
            guard case .directory(let inode) = state.lookup(directory) else { return nil }
            return state.directories[inode]!.volatile.keys.sorted()
        }
    }

    /// Whether every crash leaves `path` exactly as it is now: the same file or directory under
    /// it (every name on the way durable, no pending operation able to change one), and for a
    /// file, no pending write or truncate and the same bytes on disk as in reads.
    public func isDurable(_ path: String) -> Bool {
        state.withLock { $0.isDurable(path) }
    }

    /// Directory operations (creations, removals, renames) waiting for a directory sync.
    public var pendingDirectoryOperations: Int {
        state.withLock { $0.pending.count }
    }

    /// Writes and truncates of the file at `path` waiting for a sync (0 if there is no such file).
    public func pendingFileOperations(_ path: String) -> Int {
        state.withLock { state in
            guard case .file(let inode) = state.lookup(path) else { return 0 }
            return state.files[inode]!.pending.count
        }
    }
}

extension SimulatedFileSystem.State {
    typealias FileNode = SimulatedFileSystem.FileNode
    typealias DirectoryNode = SimulatedFileSystem.DirectoryNode

    func damageTarget(_ path: String) throws(StoreError) -> FileNode {
        switch lookup(path) {
        case .file(let inode): return files[inode]!
        case .directory: throw StoreError(.invalidArgument, "a directory has no bytes to damage", path: path)
        case .missing, .notADirectory: throw StoreError(.notFound, "no such file", path: path)
        }
    }

    /// Binds `name` in `directory` to `inode` in both the volatile and the durable entries, newer
    /// than every pending operation, so that none of them can undo it.
    mutating func bindDurably(_ directory: DirectoryNode, _ name: String, _ inode: SimulatedFileSystem.Inode) {
        directory.volatile[name] = inode
        directory.durable[name] = SimulatedFileSystem.DurableEntry(inode: inode, sequence: nextSequence)
        nextSequence += 1
    }

    mutating func plant(_ path: String, content: [UInt8]) throws(StoreError) {
        let components = Self.components(path)
        guard let name = components.last else {
            throw StoreError(.invalidArgument, "the root is a directory", path: path)
        }
        guard UInt64(content.count) <= configuration.maximumFileSize else {
            throw Self.failure("write", "File too large", path)
        }
        var current = directories[Self.root]!
        for component in components.dropLast() {
            let inode: SimulatedFileSystem.Inode
            if let existing = current.volatile[component] {
                guard directories[existing] != nil else { throw Self.failure("mkdir", "Not a directory", path) }
                inode = existing
            } else {
                inode = newInode()
                directories[inode] = DirectoryNode()
            }
            bindDurably(current, component, inode)
            current = directories[inode]!
        }
        let inode: SimulatedFileSystem.Inode
        if let existing = current.volatile[name] {
            guard files[existing] != nil else { throw Self.failure("open", "Is a directory", path) }
            inode = existing
        } else {
            inode = newInode()
            files[inode] = FileNode()
        }
        bindDurably(current, name, inode)
        let node = files[inode]!
        node.durable = content
        node.volatile = content
        node.pending.removeAll()
    }

    func isDurable(_ path: String) -> Bool {
        var current = Self.root
        for name in Self.components(path) {
            guard let directory = directories[current], let inode = directory.volatile[name],
                let entry = directory.durable[name], entry.inode == inode
            else { return false }
            let parent = current
            if pending.contains(where: { $0.sequence > entry.sequence && $0.touches(parent, name) }) { return false }
            current = inode
        }
        guard let node = files[current] else { return true }
        return node.pending.isEmpty && node.durable == node.volatile
    }
}
