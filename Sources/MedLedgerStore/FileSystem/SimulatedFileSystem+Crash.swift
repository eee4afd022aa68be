extension SimulatedFileSystem {
    /// Loses power now: settles every pending write, truncate and directory operation from `seed`
    /// (see the type's overview for the rules), makes the result durable, and restarts the machine.
    ///
    /// Afterwards nothing is pending, the machine is no longer frozen, no crash is scheduled, and
    /// every handle opened before throws ``StoreError/Code/unavailable``. Injected failures and
    /// read faults that have not fired stay: they belong to the disk, not to the process. The same
    /// state crashed with the same seed always gives the same result.
    public func crash(seed: UInt64) {
        state.withLock { state in
            var generator = Generator(seed: seed)
            state.crash(using: &generator)
        }
    }

    /// ``crash(seed:)`` with the next seed from the generator seeded by ``Configuration/seed``.
    public func crash() {
        state.withLock { state in
            let seed = state.generator.next()
            var generator = Generator(seed: seed)
            state.crash(using: &generator)
        }
    }

    /// Lets `count` more counted operations run, then freezes the machine: the next counted
    /// operation throws ``StoreError/Code/unavailable`` without any effect, and so does every call
    /// after it (``exists(_:)`` still answers) until ``crash(seed:)``.
    ///
    /// `scheduleCrash(afterOperations: 0)` freezes at the next counted operation. See the type's
    /// overview for which operations are counted.
    public func scheduleCrash(afterOperations count: Int) {
        precondition(count >= 0, "a crash cannot be scheduled in the past")
        state.withLock { $0.crashCountdown = count }
    }

    public func cancelScheduledCrash() {
        state.withLock { $0.crashCountdown = nil }
    }

    /// Whether a scheduled crash has fired and the machine waits for ``crash(seed:)``.
    public var isFrozen: Bool {
        state.withLock { $0.frozen }
    }
}

extension SimulatedFileSystem.State {
    typealias Generator = SimulatedFileSystem.Generator

    mutating func crash(using generator: inout Generator) {
        for inode in files.keys.sorted() {
            let node = files[inode]!
            settle(node, using: &generator)
            node.volatile = node.durable
        }
        for operation in pending where generator.chance(configuration.directoryOperationSurvival) {
            makeDurable(operation)
        }
        pending.removeAll()
        for directory in directories.values {
            directory.durable = directory.durable.filter { $0.value.inode != nil }
            directory.volatile = directory.durable.compactMapValues(\.inode)
        }
        collectGarbage()
        epoch += 1
        frozen = false
        crashCountdown = nil
        statistics.crashes += 1
    }

    /// Decides the fate of each pending write and truncate of one file, writes the survivors to
    /// its durable image in issue order, and forgets them (the volatile view is left alone).
    mutating func settle(_ node: SimulatedFileSystem.FileNode, using generator: inout Generator) {
        guard !node.pending.isEmpty else { return }
        let ordered = configuration.pendingWritesSurviveInOrder
        let cut = ordered ? generator.below(node.pending.count + 1) : 0
        for (index, operation) in node.pending.enumerated() {
            switch operation {
            case .truncate(let size):
                let survives = ordered ? index < cut : generator.chance(configuration.truncateSurvival)
                if survives { Image.resize(&node.durable, to: size) }
            case .write(let offset, let bytes):
                let kept: Int
                if ordered {
                    kept = index < cut ? bytes.count : index == cut ? fateAtCut(offset, bytes.count, &generator) : 0
                } else {
                    kept = fate(offset, bytes.count, &generator)
                }
                Image.write(bytes[..<kept], at: offset, into: &node.durable)
                let end = offset + bytes.count
                if kept < bytes.count, configuration.zeroFilledExtensions, end > node.durable.count,
                    generator.below(2) == 1
                {
                    Image.resize(&node.durable, to: end)
                }
            }
        }
        node.pending.removeAll()
    }

    /// How many leading bytes of a pending write survive: all (kept), none (lost), or a tear.
    func fate(_ offset: Int, _ count: Int, _ generator: inout Generator) -> Int {
        let weights = configuration.writeOutcomes
        let canTear = tearPoints(offset, count) != nil
        let torn = canTear ? weights.torn : 0
        let total = weights.kept + weights.lost + torn
        guard total > 0 else { return 0 }  // only tearing allowed, and this write cannot tear
        let draw = generator.below(total)
        if draw < weights.kept { return count }
        if draw < weights.kept + weights.lost { return 0 }
        return tear(offset, count, &generator)!
    }

    /// The fate of the write where ``Configuration/pendingWritesSurviveInOrder`` cuts: lost or torn,
    /// by their weights.
    func fateAtCut(_ offset: Int, _ count: Int, _ generator: inout Generator) -> Int {
        let weights = configuration.writeOutcomes
        let torn = tearPoints(offset, count) != nil ? weights.torn : 0
        guard torn > 0 else { return 0 }
        if generator.below(weights.lost + torn) < weights.lost { return 0 }
        return tear(offset, count, &generator)!
    }

    /// A torn write's surviving prefix length, or nil if this write cannot tear.
    func tear(_ offset: Int, _ count: Int, _ generator: inout Generator) -> Int? {
        guard let (first, number, step) = tearPoints(offset, count) else { return nil }
        return first + step * generator.below(number)
    }

    /// The prefix lengths a tear may leave: `number` of them, from `first`, `step` apart; nil if none.
    func tearPoints(_ offset: Int, _ count: Int) -> (first: Int, number: Int, step: Int)? {
        switch configuration.tearGranularity {
        case .byte:
            return count >= 2 ? (1, count - 1, 1) : nil
        case .sectors(let size):
            let firstBoundary = (offset / size + 1) * size
            let lastBoundary = ((offset + count - 1) / size) * size
            guard count > 0, firstBoundary <= lastBoundary else { return nil }
            return (firstBoundary - offset, (lastBoundary - firstBoundary) / size + 1, size)
        }
    }

    /// Forgets the inodes that no name reaches from the root.
    mutating func collectGarbage() {
        var reachable: Set<SimulatedFileSystem.Inode> = [Self.root]
        var stack = [Self.root]
        while let inode = stack.popLast() {
            for child in directories[inode]!.volatile.values where reachable.insert(child).inserted {
                if directories[child] != nil { stack.append(child) }
            }
        }
        files = files.filter { reachable.contains($0.key) }
        directories = directories.filter { reachable.contains($0.key) }
    }
}
