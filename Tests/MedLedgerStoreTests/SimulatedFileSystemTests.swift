import Dispatch
import MedLedgerStore
import MedLedgerWire
import Testing

/// The workloads' randomness: the project's SplitMix64, so a failing seed replays.
private struct WorkloadRandom {
    var source: SplitMix64
    init(_ seed: UInt64) { source = SplitMix64(seed: seed ^ 0x5EED_F11E_5EED_F11E) }
    mutating func below(_ bound: Int) -> Int { Int(source.next() % UInt64(bound)) }
    mutating func bytes(_ count: Int) -> [UInt8] { source.bytes(count) }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The code of the error `body` throws, or nil if it throws none.
private func failure(_ body: () throws -> Void) -> StoreError.Code? {
    do {
        try body()
        return nil
    } catch let error as StoreError {
        return error.code
    } catch {
        Issue.record("not a StoreError: \(error)")
        return nil
    }
}

private func simulator(
    seed: UInt64 = 0, _ adjust: (inout SimulatedFileSystem.Configuration) -> Void = { _ in }
) -> SimulatedFileSystem {
    var configuration = SimulatedFileSystem.Configuration(seed: seed)
    adjust(&configuration)
    return SimulatedFileSystem(configuration: configuration)
}

/// A directory `d` that is already durable, so tests see only the effects of what they do in it.
private func simulatorWithDirectory(
    seed: UInt64 = 0, _ adjust: (inout SimulatedFileSystem.Configuration) -> Void = { _ in }
) throws -> SimulatedFileSystem {
    let fs = simulator(seed: seed, adjust)
    try fs.createDirectory("d")
    try fs.syncDirectory("/")
    return fs
}

@Suite("simulated file system: the volatile view")
struct SimulatedFileSystemBasicsTests {
    @Test("reads see writes at once; writes past the end leave zeros; truncate cuts or extends with zeros")
    func readsAndWrites() throws {
        let fs = try simulatorWithDirectory()
        let file = try fs.open("d/f", create: true)
        #expect(try file.size() == 0)
        try file.write(bytes("hello"), at: 0)
        try file.write(bytes("XY"), at: 8)
        #expect(try file.size() == 10)
        #expect(try file.read(at: 0, count: 100) == bytes("hello") + [0, 0, 0] + bytes("XY"))
        #expect(try file.read(at: 1, count: 3) == bytes("ell"))
        #expect(try file.read(at: 10, count: 5) == [])
        #expect(try file.read(at: 99, count: 5) == [])
        #expect(try file.read(at: 0, count: 0) == [])
        try file.write(bytes("J"), at: 0)
        try file.truncate(to: 3)
        #expect(try file.read(at: 0, count: 10) == bytes("Jel"))
        try file.truncate(to: 5)
        #expect(try file.read(at: 0, count: 10) == bytes("Jel") + [0, 0])
        try file.write([], at: 100)
        #expect(try file.size() == 5)
        #expect(fs.volatileContent("d/f") == bytes("Jel") + [0, 0])
        #expect(file.path == "d/f")
    }

    @Test("namespace: createDirectory makes parents; list, exists, rename (replacing), remove")
    func namespace() throws {
        let fs = simulator()
        try fs.createDirectory("/a/b/c")
        try fs.createDirectory("a/b/c")  // already there: nothing to do
        #expect(fs.exists("a/b/c") && fs.exists("/a/b") && !fs.exists("a/x"))
        let one = try fs.open("a/b/one", create: true)
        try one.write(bytes("1"), at: 0)
        let two = try fs.open("a/b/two", create: true)
        try two.write(bytes("2"), at: 0)
        #expect(try fs.list("a/b") == ["c", "one", "two"])
        #expect(try fs.list("/") == ["a"])
        try fs.rename("a/b/one", to: "a/b/two")
        #expect(try fs.list("a/b") == ["c", "two"])
        #expect(try fs.readAll("a/b/two") == bytes("1"))
        // A handle follows its inode: `one` now writes the file named two; `two` the unnamed old one.
        try one.write(bytes("!"), at: 1)
        #expect(try fs.readAll("a/b/two") == bytes("1!"))
        #expect(try two.read(at: 0, count: 9) == bytes("2"))
        try fs.remove("a/b/two")
        #expect(!fs.exists("a/b/two"))
        #expect(try one.read(at: 0, count: 9) == bytes("1!"))
        try fs.rename("a/b/c", to: "a/c")
        #expect(try fs.list("a") == ["b", "c"])
    }

    @Test("paths: a leading slash, repeated slashes, '.' and '..' name the same entry")
    func paths() throws {
        let fs = simulator()
        try fs.createDirectory("x/y")
        let file = try fs.open("/x/y/f", create: true)
        try file.write(bytes("same"), at: 0)
        for spelling in ["x/y/f", "//x//y/f", "./x/./y/f", "x/z/../y/f", "/x/y/f/"] {
            #expect(try fs.readAll(spelling) == bytes("same"), "\(spelling)")
        }
        try fs.syncDirectory(".")
        try fs.syncDirectory("")
    }

    @Test("errors: notFound for a missing file or directory, io for what POSIX refuses")
    func errors() throws {
        let fs = simulator()
        try fs.createDirectory("d")
        _ = try fs.open("d/f", create: true)
        #expect(failure { _ = try fs.open("d/missing", create: false) } == .notFound)
        #expect(failure { _ = try fs.open("nowhere/f", create: true) } == .notFound)
        #expect(failure { _ = try fs.list("nowhere") } == .notFound)
        #expect(failure { _ = try fs.open("d", create: false) } == .io)
        #expect(failure { _ = try fs.open("d/f/g", create: true) } == .io)
        #expect(failure { _ = try fs.list("d/f") } == .io)
        #expect(failure { try fs.remove("d/missing") } == .io)
        #expect(failure { try fs.remove("d") } == .io)
        #expect(failure { try fs.rename("d/missing", to: "d/g") } == .io)
        #expect(failure { try fs.rename("d/f", to: "nowhere/g") } == .io)
        #expect(failure { try fs.rename("d/f", to: "d") } == .io)
        #expect(failure { try fs.rename("d", to: "d/inside") } == .io)
        #expect(failure { try fs.createDirectory("d/f/g") } == .io)
        #expect(failure { try fs.syncDirectory("nowhere") } == .io)
        #expect(failure { try fs.syncDirectory("d/f") } == .io)
        let limited = simulator { $0.maximumFileSize = 1024 }
        let file = try limited.open("f", create: true)
        #expect(failure { try file.write([1, 2], at: 1023) } == .io)
        #expect(failure { try file.truncate(to: 1025) } == .io)
        try file.write([1], at: 1023)
    }

    @Test("a closed handle refuses further use with unavailable")
    func closedHandle() throws {
        let fs = simulator()
        let file = try fs.open("f", create: true)
        file.close()
        file.close()
        #expect(failure { _ = try file.size() } == .unavailable)
        #expect(failure { try file.write([1], at: 0) } == .unavailable)
        #expect(failure { try file.sync() } == .unavailable)
    }

    @Test("statistics count syncs, directory syncs, bytes written and counted operations")
    func statistics() throws {
        let fs = simulator()
        try fs.createDirectory("d")  // 1
        let file = try fs.open("d/f", create: true)  // 2
        try file.write([1, 2, 3], at: 0)  // 3
        try file.write([4], at: 3)  // 4
        _ = try file.read(at: 0, count: 4)
        try file.sync()  // 5
        try file.sync()  // 6
        try fs.syncDirectory("d")  // 7
        _ = try fs.open("d/f", create: false)
        _ = try fs.list("d")
        let stats = fs.statistics
        #expect(stats.operations == 7)
        #expect(stats.syncs == 2 && stats.directorySyncs == 1)
        #expect(stats.writes == 2 && stats.bytesWritten == 4)
        #expect(stats.reads == 1 && stats.bytesRead == 4)
        #expect(stats.directoryOperations == 2)
    }

    @Test("threads may share the file system and its handles")
    func threads() throws {
        let fs = try simulatorWithDirectory()
        let shared = try fs.open("d/shared", create: true)
        let records = 100
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            do {
                let own = try fs.open("d/own-\(thread)", create: true)
                for record in 0..<records {
                    let byte = UInt8(truncatingIfNeeded: thread * records + record)
                    try own.write([byte], at: UInt64(record))
                    try own.sync()
                    try shared.write([byte], at: UInt64(thread * records + record))
                }
                try shared.sync()
            } catch {
                Issue.record("thread \(thread): \(error)")
            }
        }
        try fs.syncDirectory("d")
        #expect(fs.statistics.syncs == 4 * records + 4)
        #expect(fs.statistics.bytesWritten == UInt64(8 * records))
        for thread in 0..<4 {
            #expect(fs.isDurable("d/own-\(thread)"))
            let expected = (0..<records).map { UInt8(truncatingIfNeeded: thread * records + $0) }
            #expect(fs.durableContent("d/own-\(thread)") == expected)
            let shared = fs.durableContent("d/shared") ?? []
            #expect(shared.count == 4 * records)
            #expect(Array(shared.dropFirst(thread * records).prefix(records)) == expected)
        }
    }
}

@Suite("simulated file system: crashes and file contents")
struct SimulatedFileSystemCrashTests {
    /// Every byte a crash may leave: the synced byte, a zero (a hole or a zero-filled extension),
    /// or the byte of a pending write at that offset.
    private static func possible(
        _ result: [UInt8], synced: [UInt8], writes: [(offset: Int, bytes: [UInt8])], longest: Int
    ) -> Bool {
        guard result.count <= longest else { return false }
        for (position, byte) in result.enumerated() {
            if byte == 0 || (position < synced.count && synced[position] == byte) { continue }
            let written = writes.contains { write in
                position >= write.offset && position < write.offset + write.bytes.count
                    && write.bytes[position - write.offset] == byte
            }
            if !written { return false }
        }
        return true
    }

    @Test("synced content survives every crash; unsynced writes and truncates come back possible (1,000 seeds)")
    func durabilityContract() throws {
        var pendingAtCrash = 0
        var changedByCrash = 0
        for seed in UInt64(0)..<1000 {
            var random = WorkloadRandom(seed)
            let fs = try simulatorWithDirectory(seed: seed)
            let names = ["d/a", "d/b", "d/c"]
            var files: [any StoreFile] = []
            for name in names { files.append(try fs.open(name, create: true)) }
            try fs.syncDirectory("d")
            var synced = Array(repeating: [UInt8](), count: names.count)
            var current = synced
            var writes = Array(repeating: [(offset: Int, bytes: [UInt8])](), count: names.count)
            var longest = Array(repeating: 0, count: names.count)
            for _ in 0..<12 {
                let which = random.below(names.count)
                switch random.below(6) {
                case 0:
                    try files[which].sync()
                    synced[which] = current[which]
                    writes[which] = []
                    longest[which] = current[which].count
                case 1:
                    let size = random.below(current[which].count + 8)
                    try files[which].truncate(to: UInt64(size))
                    current[which] =
                        Array(current[which].prefix(size))
                        + Array(repeating: 0, count: max(0, size - current[which].count))
                    longest[which] = max(longest[which], size)
                default:
                    let offset = random.below(current[which].count + 4)
                    let data = random.bytes(1 + random.below(40))
                    try files[which].write(data, at: UInt64(offset))
                    if current[which].count < offset + data.count {
                        current[which] += Array(repeating: 0, count: offset + data.count - current[which].count)
                    }
                    current[which].replaceSubrange(offset..<(offset + data.count), with: data)
                    writes[which].append((offset, data))
                    longest[which] = max(longest[which], offset + data.count)
                }
            }
            for index in names.indices {
                #expect(fs.volatileContent(names[index]) == current[index], "seed \(seed)")
                #expect(fs.isDurable(names[index]) == (fs.pendingFileOperations(names[index]) == 0), "seed \(seed)")
            }
            fs.crash(seed: seed &* 31 &+ 7)
            for index in names.indices {
                let after = try fs.readAll(names[index])
                #expect(fs.durableContent(names[index]) == after)
                if fs.pendingFileOperations(names[index]) != 0 { Issue.record("pending after a crash") }
                if writes[index].isEmpty && current[index] == synced[index] {
                    #expect(after == synced[index], "seed \(seed): a synced file changed")
                } else {
                    pendingAtCrash += 1
                    if after != current[index] { changedByCrash += 1 }
                    #expect(
                        Self.possible(after, synced: synced[index], writes: writes[index], longest: longest[index]),
                        "seed \(seed): \(names[index]) came back as bytes no write put there")
                }
            }
        }
        #expect(pendingAtCrash > 1000)
        #expect(changedByCrash > pendingAtCrash / 3)
    }

    /// One append of 100 bytes after a synced 10-byte file; the bytes of the append that survive.
    private static func appendOutcomes(
        seeds: Range<UInt64>, _ adjust: (inout SimulatedFileSystem.Configuration) -> Void
    ) throws -> [(kept: Int, zeroFilled: Bool)] {
        let base = Array(repeating: UInt8(0xAA), count: 10)
        let append = (1...100).map { UInt8($0) }
        var outcomes: [(Int, Bool)] = []
        for seed in seeds {
            let fs = try simulatorWithDirectory(seed: seed, adjust)
            try fs.plantFile("d/f", content: base)
            let file = try fs.open("d/f", create: false)
            try file.write(append, at: 10)
            fs.crash(seed: seed)
            let after = try fs.readAll("d/f")
            #expect(Array(after.prefix(10)) == base, "seed \(seed)")
            let tail = Array(after.dropFirst(10))
            let kept = zip(tail, append).prefix { $0 == $1 }.count
            let rest = tail.dropFirst(kept)
            #expect(
                rest.allSatisfy { $0 == 0 } && (rest.isEmpty || tail.count == append.count), "seed \(seed): \(tail)")
            outcomes.append((kept, !rest.isEmpty))
        }
        return outcomes
    }

    @Test("an unsynced append is kept, lost or torn after any byte; all three happen")
    func byteTears() throws {
        let outcomes = try Self.appendOutcomes(seeds: 0..<300) { $0.zeroFilledExtensions = false }
        #expect(outcomes.allSatisfy { !$0.zeroFilled })
        let kept = outcomes.map(\.kept)
        #expect(kept.contains(100) && kept.contains(0))
        let tears = Set(kept.filter { $0 > 0 && $0 < 100 })
        #expect(tears.count > 30, "tears land at many byte offsets: \(tears.sorted())")
    }

    @Test(
        "with sector granularity a tear ends on a 512-byte boundary of the file; a write inside one sector never tears")
    func sectorTears() throws {
        var ends: Set<Int> = []
        for seed in UInt64(0)..<300 {
            let fs = try simulatorWithDirectory(seed: seed) {
                $0.tearGranularity = .sectors(size: 512)
                $0.zeroFilledExtensions = false
            }
            try fs.plantFile("d/f", content: Array(repeating: 7, count: 100))
            let file = try fs.open("d/f", create: false)
            try file.write(Array(repeating: 9, count: 1500), at: 100)
            try file.write(Array(repeating: 5, count: 100), at: 1700)  // inside the sector 1536..<2048
            fs.crash(seed: seed)
            let after = try fs.readAll("d/f")
            let firstEnd = 100 + after.dropFirst(100).prefix { $0 == 9 }.count
            #expect([100, 512, 1024, 1536, 1600].contains(firstEnd), "seed \(seed): ends at \(firstEnd)")
            ends.insert(firstEnd)
            let second = after.count > 1700 ? Array(after[1700...]) : []
            #expect(second.isEmpty || second == Array(repeating: 5, count: 100), "seed \(seed)")
        }
        #expect(ends == [100, 512, 1024, 1536, 1600])
    }

    @Test("a lost or torn extension may leave zeros where its bytes should be (on by default)")
    func zeroFilledExtensions() throws {
        let outcomes = try Self.appendOutcomes(seeds: 0..<300) { _ in }
        #expect(outcomes.contains { $0.zeroFilled && $0.kept == 0 })
        #expect(outcomes.contains { $0.zeroFilled && $0.kept > 0 })
        #expect(outcomes.contains { !$0.zeroFilled && $0.kept < 100 })
    }

    @Test("pendingWritesSurviveInOrder keeps a prefix of the appends, the last survivor maybe torn")
    func orderedSurvival() throws {
        var lengths: Set<Int> = []
        for seed in UInt64(0)..<300 {
            let fs = try simulatorWithDirectory(seed: seed) {
                $0.pendingWritesSurviveInOrder = true
                $0.zeroFilledExtensions = false
            }
            let file = try fs.open("d/f", create: true)
            try fs.syncDirectory("d")
            let all = (0..<50).map { UInt8($0 + 1) }
            for chunk in 0..<5 { try file.write(Array(all[(chunk * 10)..<(chunk * 10 + 10)]), at: UInt64(chunk * 10)) }
            fs.crash(seed: seed)
            let after = try fs.readAll("d/f")
            #expect(after == Array(all.prefix(after.count)), "seed \(seed)")
            lengths.insert(after.count)
        }
        #expect(lengths.contains(0) && lengths.contains(50) && lengths.count > 20)
    }

    @Test("an unsynced truncate is kept or lost; a synced one always holds")
    func truncates() throws {
        var sizes: Set<Int> = []
        for seed in UInt64(0)..<100 {
            let fs = try simulatorWithDirectory(seed: seed)
            try fs.plantFile("d/f", content: Array(repeating: 3, count: 100))
            let file = try fs.open("d/f", create: false)
            try file.truncate(to: 10)
            fs.crash(seed: seed)
            let after = try fs.readAll("d/f")
            #expect(after == Array(repeating: 3, count: after.count) && [10, 100].contains(after.count))
            sizes.insert(after.count)

            let synced = try fs.open("d/f", create: false)
            try synced.truncate(to: 5)
            try synced.sync()
            fs.crash(seed: seed)
            #expect(try fs.readAll("d/f") == Array(repeating: 3, count: 5))
        }
        #expect(sizes == [10, 100])
    }

    @Test("a crash with the same seed gives the same state; other seeds give others")
    func determinism() throws {
        func run(crashSeed: UInt64) throws -> [String: [UInt8]] {
            var random = WorkloadRandom(42)
            let fs = try simulatorWithDirectory(seed: 42)
            for index in 0..<6 {
                let file = try fs.open("d/f\(index)", create: true)
                for _ in 0..<5 { try file.write(random.bytes(1 + random.below(30)), at: UInt64(random.below(40))) }
                if index % 2 == 0 { try file.sync() }
                if index == 3 { try fs.remove("d/f1") }
            }
            try fs.rename("d/f2", to: "d/f4")
            fs.crash(seed: crashSeed)
            var state: [String: [UInt8]] = [:]
            for name in try fs.list("d") { state[name] = try fs.readAll("d/" + name) }
            return state
        }
        let first = try run(crashSeed: 7)
        #expect(try run(crashSeed: 7) == first)
        let others = try (8..<16).map { try run(crashSeed: $0) }
        #expect(others.contains { $0 != first })
    }
}

@Suite("simulated file system: crashes and names")
struct SimulatedFileSystemNameTests {
    @Test(
        "a created file whose directory was not synced may vanish, synced content and all; after syncDirectory it stays"
    )
    func createdFiles() throws {
        var vanished = 0
        for seed in UInt64(0)..<200 {
            let fs = try simulatorWithDirectory(seed: seed)
            let file = try fs.open("d/new", create: true)
            try file.write(bytes("content"), at: 0)
            try file.sync()
            #expect(!fs.isDurable("d/new"))
            #expect(fs.durableContent("d/new") == nil)
            fs.crash(seed: seed)
            if fs.exists("d/new") {
                #expect(try fs.readAll("d/new") == bytes("content"))
            } else {
                vanished += 1
                #expect(try fs.list("d") == [])
            }

            let kept = try fs.open("d/kept", create: true)
            try kept.write(bytes("kept"), at: 0)
            try kept.sync()
            try fs.syncDirectory("d")
            #expect(fs.isDurable("d/kept"))
            fs.crash(seed: seed)
            #expect(try fs.readAll("d/kept") == bytes("kept"))
        }
        #expect(vanished > 50 && vanished < 150)
    }

    @Test("a created directory may vanish with its files until its parent is synced")
    func createdDirectories() throws {
        var survived = 0
        for seed in UInt64(0)..<200 {
            let fs = simulator(seed: seed)
            try fs.createDirectory("a/b")
            let file = try fs.open("a/b/f", create: true)
            try file.write([1], at: 0)
            try file.sync()
            try fs.syncDirectory("a/b")
            fs.crash(seed: seed)
            if fs.exists("a/b/f") { survived += 1 }
            #expect(fs.exists("a/b") || !fs.exists("a/b/f"))

            try fs.createDirectory("x/y")
            let durable = try fs.open("x/y/f", create: true)
            try durable.write([2], at: 0)
            try durable.sync()
            try fs.syncDirectory("x/y")
            try fs.syncDirectory("x")
            try fs.syncDirectory("/")
            fs.crash(seed: seed)
            #expect(try fs.readAll("x/y/f") == [2])
        }
        #expect(survived > 20 && survived < 100)  // both mkdirs must survive: about one in four
    }

    @Test("a rename before the directory sync may be undone, never half done; after the sync it holds")
    func renames() throws {
        var undone = 0
        for seed in UInt64(0)..<200 {
            let fs = try simulatorWithDirectory(seed: seed)
            try fs.plantFile("d/current", content: bytes("old"))
            try fs.plantFile("d/moving", content: bytes("new"))
            try fs.rename("d/moving", to: "d/current")
            #expect(try fs.readAll("d/current") == bytes("new"))
            #expect(fs.durableContent("d/current") == bytes("old"))
            fs.crash(seed: seed)
            switch try fs.list("d") {
            case ["current", "moving"]:
                undone += 1
                #expect(try fs.readAll("d/current") == bytes("old"))
                #expect(try fs.readAll("d/moving") == bytes("new"))
            case ["current"]:
                #expect(try fs.readAll("d/current") == bytes("new"))
            case let names:
                Issue.record("seed \(seed): a rename half done: \(names)")
            }

            try fs.plantFile("d/moving", content: bytes("newer"))
            try fs.rename("d/moving", to: "d/current")
            try fs.syncDirectory("d")
            fs.crash(seed: seed)
            #expect(try fs.list("d") == ["current"])
            #expect(try fs.readAll("d/current") == bytes("newer"))
        }
        #expect(undone > 50 && undone < 150)
    }

    @Test("a removed file may come back with its durable content until the directory is synced")
    func removals() throws {
        var returned = 0
        for seed in UInt64(0)..<200 {
            let fs = try simulatorWithDirectory(seed: seed)
            try fs.plantFile("d/f", content: bytes("durable"))
            let file = try fs.open("d/f", create: false)
            try fs.remove("d/f")
            try file.write(bytes("D"), at: 0)  // an unlinked, open file still takes writes
            fs.crash(seed: seed)
            if fs.exists("d/f") {
                returned += 1
                #expect([bytes("durable"), bytes("Durable")].contains(try fs.readAll("d/f")))
            }
            if fs.exists("d/f") { try fs.remove("d/f") }
            try fs.syncDirectory("d")
            fs.crash(seed: seed)
            #expect(!fs.exists("d/f"))
        }
        #expect(returned > 50 && returned < 150)
    }

    @Test("directory operations on different names survive independently of their order")
    func independentNames() throws {
        var laterOnly = 0
        for seed in UInt64(0)..<100 {
            let fs = try simulatorWithDirectory(seed: seed)
            _ = try fs.open("d/first", create: true)
            _ = try fs.open("d/second", create: true)
            fs.crash(seed: seed)
            if try fs.list("d") == ["second"] { laterOnly += 1 }
        }
        #expect(laterOnly > 0)
    }

    @Test("syncing either directory of a cross-directory rename makes it durable whole")
    func crossDirectoryRename() throws {
        for seed in UInt64(0)..<50 {
            let fs = simulator(seed: seed)
            try fs.plantFile("a/f", content: [1])
            try fs.plantFile("b/keep", content: [2])
            try fs.rename("a/f", to: "b/f")
            try fs.syncDirectory(seed % 2 == 0 ? "a" : "b")
            fs.crash(seed: seed)
            #expect(try fs.list("a") == [] && fs.list("b") == ["f", "keep"])
        }
    }

    @Test(
        "writeAtomically leaves the old or the new content after a crash at every step, and the new one once it returned"
    )
    func writeAtomically() throws {
        let old = bytes("old content")
        let new = bytes("the new, longer content")
        // Learn how many counted operations one call takes.
        let probe = try simulatorWithDirectory()
        try probe.plantFile("d/state", content: old)
        let before = probe.statistics.operations
        try probe.writeAtomically(new, to: "d/state")
        let steps = probe.statistics.operations - before
        #expect(steps == 6)  // open, truncate, write, sync, rename, syncDirectory

        for existing in [true, false] {
            var seen: Set<[UInt8]?> = []
            for step in 0...steps {
                for seed in UInt64(0)..<40 {
                    let fs = try simulatorWithDirectory(seed: seed)
                    if existing { try fs.plantFile("d/state", content: old) }
                    fs.scheduleCrash(afterOperations: step)
                    var returned = false
                    do {
                        try fs.writeAtomically(new, to: "d/state")
                        returned = true
                    } catch {
                        #expect(error.code == .unavailable && fs.isFrozen)
                    }
                    #expect(returned == (step == steps))
                    fs.crash(seed: seed)
                    let after = fs.exists("d/state") ? try fs.readAll("d/state") : nil
                    seen.insert(after)
                    if returned {
                        #expect(after == new, "step \(step) seed \(seed)")
                    } else {
                        #expect(
                            after == new || after == (existing ? old : nil),
                            "step \(step) seed \(seed): \(String(describing: after))")
                    }
                    // A leftover temporary file does not stop the next write.
                    try fs.writeAtomically(bytes("next"), to: "d/state")
                    fs.crash(seed: seed &+ 1)
                    #expect(try fs.readAll("d/state") == bytes("next"))
                }
            }
            #expect(seen == [new, existing ? old : nil])
        }
    }
}

@Suite("simulated file system: freezing, failures and corruption")
struct SimulatedFileSystemFaultTests {
    @Test(
        "a scheduled crash lets N operations run, refuses the next without effect, and freezes everything until crash()"
    )
    func scheduledCrash() throws {
        let fs = try simulatorWithDirectory()
        let file = try fs.open("d/f", create: true)
        try fs.syncDirectory("d")
        fs.scheduleCrash(afterOperations: 2)
        try file.write([1], at: 0)
        _ = try file.read(at: 0, count: 1)  // reads are not counted
        try file.sync()
        #expect(!fs.isFrozen)
        #expect(failure { try file.write([2], at: 1) } == .unavailable)
        #expect(fs.isFrozen)
        #expect(fs.volatileContent("d/f") == [1])
        #expect(failure { _ = try file.read(at: 0, count: 1) } == .unavailable)
        #expect(failure { _ = try file.size() } == .unavailable)
        #expect(failure { _ = try fs.open("d/f", create: false) } == .unavailable)
        #expect(failure { _ = try fs.list("d") } == .unavailable)
        #expect(failure { try fs.syncDirectory("d") } == .unavailable)
        #expect(fs.exists("d/f"))
        #expect(fs.volatileList("d") == ["f"] && fs.volatileList("d/f") == nil)
        fs.crash(seed: 1)
        #expect(!fs.isFrozen)
        #expect(failure { _ = try file.read(at: 0, count: 1) } == .unavailable)
        #expect(failure { try file.write([3], at: 0) } == .unavailable)
        let reopened = try fs.open("d/f", create: false)
        #expect(try reopened.read(at: 0, count: 9) == [1])
        #expect(fs.statistics.crashes == 1)
    }

    @Test("crash() without a seed replays from the configuration's seed")
    func unseededCrash() throws {
        func outcome(_ seed: UInt64) throws -> [[UInt8]] {
            let fs = try simulatorWithDirectory(seed: seed)
            var results: [[UInt8]] = []
            for round in 0..<20 {
                try fs.plantFile("d/f", content: [])
                let file = try fs.open("d/f", create: false)
                try file.write(Array(repeating: UInt8(round), count: 64), at: 0)
                fs.crash()
                results.append(try fs.readAll("d/f"))
            }
            return results
        }
        #expect(try outcome(5) == outcome(5))
        #expect(try outcome(5) != outcome(6))
    }

    @Test("an injected write failure throws io after the chosen number of writes, maybe leaving a prefix")
    func writeFailure() throws {
        for seed in UInt64(0)..<20 {
            let fs = try simulatorWithDirectory(seed: seed)
            let file = try fs.open("d/f", create: true)
            let other = try fs.open("d/other", create: true)
            fs.injectFailure(.write, after: 1, path: "/d/f")
            try other.write([9], at: 0)  // another path: not counted
            try file.write([1, 1], at: 0)
            #expect(failure { try file.write([2, 2, 2, 2], at: 2) } == .io)
            let content = try #require(fs.volatileContent("d/f"))
            #expect(content.count >= 2 && content.count < 6 && content.dropFirst(2).allSatisfy { $0 == 2 })
            try file.write([3], at: 0)
            #expect(fs.statistics.injectedFailures == 1)
        }
    }

    @Test("after a failed sync the writes stay readable but a later sync does not make them durable (fsyncgate)")
    func failedSync() throws {
        let fs = try simulatorWithDirectory { $0.writeOutcomes = .init(kept: 0, lost: 1, torn: 0) }
        try fs.plantFile("d/f", content: bytes("old"))
        let file = try fs.open("d/f", create: false)
        try file.write(bytes("NEW"), at: 0)
        fs.injectFailure(.sync)
        #expect(failure { try file.sync() } == .io)
        #expect(try file.read(at: 0, count: 3) == bytes("NEW"))
        try file.sync()
        #expect(fs.durableContent("d/f") == bytes("old"))
        fs.crash(seed: 0)
        #expect(try fs.readAll("d/f") == bytes("old"))
    }

    @Test("other injected failures throw io and change nothing")
    func otherFailures() throws {
        let fs = try simulatorWithDirectory()
        try fs.plantFile("d/a", content: [1])
        fs.injectFailure(.rename)
        #expect(failure { try fs.rename("d/a", to: "d/b") } == .io)
        #expect(try fs.list("d") == ["a"])
        try fs.remove("d/a")
        fs.injectFailure(.syncDirectory)
        #expect(failure { try fs.syncDirectory("d") } == .io)
        #expect(fs.pendingDirectoryOperations == 1)
        fs.injectFailure(.open, path: "d/x")
        _ = try fs.open("d/y", create: true)
        #expect(failure { _ = try fs.open("d/x", create: true) } == .io)
        #expect(!fs.exists("d/x"))
        fs.injectFailure(.read)
        let y = try fs.open("d/y", create: false)
        #expect(failure { _ = try y.read(at: 0, count: 1) } == .io)
        fs.injectFailure(.truncate)
        fs.cancelInjectedFailures()
        try y.truncate(to: 0)
    }

    @Test("read bit flips are chosen by the seed: the same seed corrupts the same reads the same way")
    func readBitFlips() throws {
        let content = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        func corruptedReads(_ seed: UInt64) throws -> [Int: [UInt8]] {
            let fs = simulator(seed: seed) { $0.readBitFlipProbability = 0.2 }
            try fs.plantFile("f", content: content)
            let file = try fs.open("f", create: false)
            var corrupted: [Int: [UInt8]] = [:]
            for index in 0..<200 {
                let offset = index * 16
                let read = try file.read(at: UInt64(offset), count: 64)
                let truth = Array(content[offset..<min(offset + 64, content.count)])
                let differing = zip(read, truth).map { ($0 ^ $1).nonzeroBitCount }.reduce(0, +)
                #expect(differing == 0 || differing == 1, "one bit flipped at most")
                #expect(try file.read(at: UInt64(offset), count: 64) == read, "the same read is corrupted the same way")
                if differing == 1 { corrupted[offset] = read }
            }
            #expect(fs.volatileContent("f") == content, "what is stored is untouched")
            #expect(fs.statistics.readBitFlips == 2 * corrupted.count)
            return corrupted
        }
        let first = try corruptedReads(11)
        #expect(first.count > 15 && first.count < 70)
        #expect(try corruptedReads(11) == first)
        #expect(try corruptedReads(12) != first)
    }

    @Test("an explicit read fault flips one bit of every read that covers it, until cleared")
    func explicitReadFault() throws {
        let fs = simulator()
        try fs.plantFile("d/f", content: Array(repeating: 0, count: 100))
        fs.flipBitOnRead("/d/f", offset: 50, bit: 3)
        let file = try fs.open("d/f", create: false)
        #expect(try file.read(at: 40, count: 20)[10] == 0b1000)
        #expect(try file.read(at: 50, count: 1) == [0b1000])
        #expect(try file.read(at: 0, count: 50).allSatisfy { $0 == 0 })
        #expect(try file.read(at: 51, count: 49).allSatisfy { $0 == 0 })
        #expect(fs.volatileContent("d/f")![50] == 0)
        fs.clearReadFaults()
        #expect(try file.read(at: 50, count: 1) == [0])
    }

    @Test("stored damage (a flipped bit, a cut, garbage) is in the durable image and survives crashes")
    func storedDamage() throws {
        let fs = simulator()
        try fs.plantFile("d/f", content: Array(repeating: 0, count: 100))
        try fs.flipStoredBit("d/f", offset: 10, bit: 7)
        try fs.overwriteStored("d/f", at: 20, with: [0xEE, 0xEE])
        try fs.truncateStored("d/f", to: 60)
        fs.crash(seed: 3)
        let after = try fs.readAll("d/f")
        #expect(after.count == 60 && after[10] == 0x80 && after[20] == 0xEE && after[21] == 0xEE)
        #expect(after.enumerated().allSatisfy { [10, 20, 21].contains($0.offset) || $0.element == 0 })
        #expect(failure { try fs.flipStoredBit("d/f", offset: 60) } == .invalidArgument)
        #expect(failure { try fs.flipStoredBit("d/missing", offset: 0) } == .notFound)
        #expect(failure { try fs.truncateStored("d", to: 0) } == .invalidArgument)
    }

    @Test("a planted file is durable at once, its directories too")
    func planted() throws {
        let fs = simulator()
        try fs.plantFile("deep/er/f", content: [1, 2])
        #expect(fs.isDurable("deep/er/f") && fs.isDurable("deep"))
        #expect(fs.durableList("deep/er") == ["f"])
        #expect(fs.pendingDirectoryOperations == 0)
        fs.crash(seed: 0)
        #expect(try fs.readAll("deep/er/f") == [1, 2])
    }
}
