import Foundation
import MedLedgerCrypto
import MedLedgerStore
import MedLedgerWire
import Testing

@testable import MedLedgerLedger

/// What a query answered: a page or a refusal.
enum QueryAnswer<Item: Hashable & Sendable>: Hashable {
    case page([Item], next: UInt64?)
    case refused(LedgerError)

    init(_ body: () throws(LedgerError) -> Page<Item>) {
        do {
            let page = try body()
            self = .page(page.items, next: page.next)
        } catch {
            self = .refused(error)
        }
    }
}

/// Every query of Protocol/LEDGER.md section 6 that the state answers, asked as everyone about
/// everything, plus the state's internal maps: two states that agree here answer alike.
func expectSameAnswers(
    _ restored: LedgerState, _ original: LedgerState, cast: SnapshotCast, records: [Bytes32], accesses: [Bytes32],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var (a, b) = (restored, original)
    #expect(a.stateRoot == b.stateRoot, sourceLocation: sourceLocation)
    #expect(
        a.height == b.height && a.lastBlockHash == b.lastBlockHash && a.lastBlockTime == b.lastBlockTime,
        sourceLocation: sourceLocation)
    #expect(a.recentBlockHashes == b.recentBlockHashes, sourceLocation: sourceLocation)

    let askers = cast.everyone.map(\.key) + [Bytes32(repeating: 0x42)]
    let small = 2  // small pages, so that cursors are compared too
    for patient in cast.patients.map(\.key) {
        #expect(a.patient(patient) == b.patient(patient), sourceLocation: sourceLocation)
        for asker in askers {
            for cursor: UInt64 in [0, 2] {
                #expect(
                    QueryAnswer { () throws(LedgerError) in
                        try a.timeline(patient: patient, requester: asker, cursor: cursor, limit: small)
                    }
                        == QueryAnswer { () throws(LedgerError) in
                            try b.timeline(patient: patient, requester: asker, cursor: cursor, limit: small)
                        },
                    "timeline", sourceLocation: sourceLocation)
                #expect(
                    QueryAnswer { () throws(LedgerError) in
                        try a.auditTrail(patient: patient, requester: asker, cursor: cursor, limit: small)
                    }
                        == QueryAnswer { () throws(LedgerError) in
                            try b.auditTrail(patient: patient, requester: asker, cursor: cursor, limit: small)
                        },
                    "audit trail", sourceLocation: sourceLocation)
                #expect(
                    QueryAnswer { () throws(LedgerError) in
                        try a.consentsInForce(patient: patient, requester: asker, cursor: cursor, limit: small)
                    }
                        == QueryAnswer { () throws(LedgerError) in
                            try b.consentsInForce(patient: patient, requester: asker, cursor: cursor, limit: small)
                        },
                    "consents in force", sourceLocation: sourceLocation)
            }
        }
    }
    for record in records {
        #expect(a.record(record) == b.record(record), sourceLocation: sourceLocation)
        for requester in askers {
            for purpose in Purpose.allCases {
                let x = Result { () throws(LedgerError) in
                    try a.mayRead(requester: requester, record: record, purpose: purpose, asker: requester)
                }
                let y = Result { () throws(LedgerError) in
                    try b.mayRead(requester: requester, record: record, purpose: purpose, asker: requester)
                }
                switch (x, y) {
                case (.success(let p), .success(let q)):
                    #expect(
                        p.allowed == q.allowed && p.consent == q.consent && p.reason == q.reason, "may read",
                        sourceLocation: sourceLocation)
                case (.failure(let p), .failure(let q)):
                    #expect(p == q, sourceLocation: sourceLocation)
                default:
                    Issue.record("may read: \(x) against \(y)", sourceLocation: sourceLocation)
                }
            }
        }
    }
    for access in accesses { #expect(a.access(access) == b.access(access), sourceLocation: sourceLocation) }
    for key in askers {
        #expect(a.patient(signingKey: key) == b.patient(signingKey: key), sourceLocation: sourceLocation)
        #expect(a.lastNonce(of: key) == b.lastNonce(of: key), sourceLocation: sourceLocation)
        #expect(
            a.practitioner(key) == b.practitioner(key) && a.organisation(key) == b.organisation(key),
            sourceLocation: sourceLocation)
        #expect(a.isRegistered(key) == b.isRegistered(key), sourceLocation: sourceLocation)
    }

    // The maps themselves, secondary indexes included.
    #expect(a.facilities == b.facilities && a.facilityKeys == b.facilityKeys, sourceLocation: sourceLocation)
    #expect(a.practitioners == b.practitioners && a.organisations == b.organisations, sourceLocation: sourceLocation)
    #expect(
        a.patients == b.patients && a.patientByKey == b.patientByKey && a.nonces == b.nonces,
        sourceLocation: sourceLocation)
    #expect(a.consents == b.consents && a.consentsByPatient == b.consentsByPatient, sourceLocation: sourceLocation)
    #expect(a.records == b.records && a.recordsByPatient == b.recordsByPatient, sourceLocation: sourceLocation)
    #expect(a.accesses == b.accesses && a.breakGlasses == b.breakGlasses, sourceLocation: sourceLocation)
    #expect(a.audit == b.audit && a.evidence == b.evidence, sourceLocation: sourceLocation)
    // A practitioner's break-glass entries: the same entries; restored in (height, id) order,
    // which the state cannot tell from the applied order within one block (and nothing reads).
    #expect(
        a.breakGlassByPractitioner.mapValues(Set.init) == b.breakGlassByPractitioner.mapValues(Set.init),
        sourceLocation: sourceLocation)
    for (practitioner, ids) in a.breakGlassByPractitioner {
        let ordered = ids.sorted { x, y in
            let (p, q) = (a.breakGlasses[x]!, a.breakGlasses[y]!)
            return p.height != q.height ? p.height < q.height : x < y
        }
        #expect(ids == ordered, "break-glass entries of \(practitioner.hex)", sourceLocation: sourceLocation)
    }
    #expect(Array(a.tree).map(\.key) == Array(b.tree).map(\.key), sourceLocation: sourceLocation)
}

@Suite("state snapshots", .serialized)
struct SnapshotTests {
    static let story: (chain: SnapshotChain, records: [Bytes32], accesses: [Bytes32], cast: SnapshotCast) = {
        let cast = SnapshotCast()
        let (chain, records, accesses) = try! buildSnapshotStory(cast)
        return (chain, records, accesses, cast)
    }()

    static func decode(_ bytes: [UInt8], genesis: Genesis? = nil) throws(StoreError) -> LedgerState {
        try SnapshotFormat.decode(bytes, genesis: genesis ?? story.chain.genesis, path: "test.mlsnap").state
    }

    @Test("the story holds what the restore must rebuild: orders that sorting by id would not give")
    func storyCoverage() throws {
        let story = Self.story
        let state = story.chain.state
        let cast = story.cast
        // Grant order is not id order for alice's consents, nor is add order for her records.
        let consents = try #require(state.consentsByPatient[cast.alice.key])
        let records = try #require(state.recordsByPatient[cast.alice.key])
        #expect(consents.count == 4 && records.count == 3)
        #expect(Array(consents) != consents.sorted() || Array(records) != records.sorted())
        #expect(state.breakGlassByPractitioner[cast.doctor.key]?.count == 3)
        #expect(state.patientByKey[cast.bobNew.key] == cast.bob.key && state.patientByKey[cast.bob.key] == nil)
        #expect(
            state.evidence.count == 1 && state.accesses.count == 4
                && state.practitioners[cast.nurse.key]?.active == false)
        #expect(state.records[story.records[2]]?.erasedAtHeight != nil)
        #expect(state.recentBlockHashes.count == 8 && state.recentBlockHashes.first != story.chain.genesis.hash)
        // Carol's hospital consent expired and her dentist consent started.
        let carol = try state.consentsInForce(patient: cast.carol.key, requester: cast.carol.key).items
        #expect(carol.map(\.grant.grantee) == [cast.dentist.key])
        #expect(state.audit.values.map(\.count).reduce(0, +) > 25)
    }

    @Test("a state restored from its snapshot, at every height, has the same root and answers every query alike")
    func restoreAtEveryHeight() throws {
        let story = Self.story
        #expect(story.chain.state.height == 14)
        for original in story.chain.states {
            let bytes = try SnapshotFormat.encode(original)
            let restored = try Self.decode(bytes)
            expectSameAnswers(restored, original, cast: story.cast, records: story.records, accesses: story.accesses)
            // Uncompressed, the same state.
            let stored = try SnapshotFormat.encode(original, compressionLevel: 0)
            #expect(stored[6] == SnapshotFormat.Codec.stored.rawValue)
            var again = try Self.decode(stored)
            var copy = original
            #expect(again.stateRoot == copy.stateRoot)
        }
        let last = try SnapshotFormat.encode(story.chain.state)
        #expect(last[6] == SnapshotFormat.Codec.zlib.rawValue)
        // Deterministic: the same state gives the same bytes.
        #expect(try SnapshotFormat.encode(story.chain.state) == last)
    }

    @Test("a restored state applies the following blocks exactly as the original did")
    func restoredStateContinues() throws {
        let story = Self.story
        for height in [0, 2, 5, 9, 12] {
            var state = try Self.decode(try SnapshotFormat.encode(story.chain.states[height]))
            for block in story.chain.blocks[height...] {
                state = try state.applying(block.block)
                var original = story.chain.states[Int(block.block.header.height)]
                #expect(state.stateRoot == original.stateRoot)
                #expect(state.stateRoot == block.block.header.stateRoot)
            }
            expectSameAnswers(
                state, story.chain.state, cast: story.cast, records: story.records, accesses: story.accesses)
        }
    }

    @Test("the file is laid out as Protocol/LOG.md section 10.2 says, read here by offsets alone")
    func layoutMatchesSpec() throws {
        let story = Self.story
        var state = story.chain.states[11]
        let file = try SnapshotFormat.encode(state)
        func u64(_ at: Int) -> UInt64 { file[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        #expect(Array(file[0..<4]) == [0x4D, 0x4C, 0x53, 0x4E])
        #expect(file[4] == 0 && file[5] == 1 && file[6] == 1 && file[7] == 0)
        #expect(u64(8) == 11)
        #expect(
            Bytes32(file[16..<48]) == state.lastBlockHash
                && state.lastBlockHash == story.chain.blocks[10].block.header.hash)
        #expect(
            Bytes32(file[48..<80]) == state.stateRoot
                && state.stateRoot == story.chain.blocks[10].block.header.stateRoot)
        #expect(Bytes32(file[80..<112]) == Bytes32(SHA256.hash(story.chain.genesis.canonicalBytes).bytes))
        let stored = Array(file[132...])
        #expect(u64(112) == UInt64(stored.count))
        let crc = file[128..<132].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(crc == Zlib.crc32(Array(file[0..<128]) + stored))
        guard case .inflated(let payload) = Zlib.inflate(stored[...], expectedLength: Int(u64(120))) else {
            Issue.record("the payload does not inflate")
            return
        }
        var reader = ByteReader(payload)
        #expect(try reader.readU64() == state.lastBlockTime)
        let count = try reader.readU32()
        #expect(count == 8)
        #expect(try (0..<count).map { _ in try Bytes32(from: &reader) } == state.recentBlockHashes)
        // Blocks 3 to 10 (block 11's own hash is in the header, not the window).
        #expect(state.recentBlockHashes == story.chain.blocks[2..<10].map(\.block.header.hash))
        let entries = try reader.readU64()
        var decoded: [(key: [UInt8], value: [UInt8])] = []
        for _ in 0..<entries {
            decoded.append((try reader.readLengthPrefixed(max: 256), try reader.readLengthPrefixed(max: 1 << 20)))
        }
        #expect(reader.isAtEnd)
        let expected = Array(state.tree)
        #expect(decoded.map(\.key) == expected.map(\.key) && decoded.map(\.value) == expected.map(\.value))
    }

    @Test("the restore refuses entries that are out of order, inconsistent, or of another root")
    func restoreRefusesBadEntries() throws {
        let story = Self.story
        var state = story.chain.state
        let root = state.stateRoot
        let entries = Array(state.tree)
        func restore(_ entries: [(key: [UInt8], value: [UInt8])], root: Bytes32 = root, recent: [Bytes32]? = nil)
            throws(LedgerError) -> LedgerState
        {
            try LedgerState(
                restoring: entries, genesis: story.chain.genesis, height: state.height,
                lastBlockHash: state.lastBlockHash,
                lastBlockTime: state.lastBlockTime, recentBlockHashes: recent ?? state.recentBlockHashes,
                stateRoot: root)
        }
        func code(_ body: () throws(LedgerError) -> LedgerState) -> LedgerError.Code? {
            do {
                _ = try body()
                return nil
            } catch {
                return error.code
            }
        }
        var restored = try restore(entries)
        #expect(restored.stateRoot == root)

        #expect(code { () throws(LedgerError) in try restore(entries, root: Bytes32(repeating: 9)) } == .invalidBlock)
        #expect(code { () throws(LedgerError) in try restore(Array(entries.reversed())) } == .invalidValue)
        #expect(code { () throws(LedgerError) in try restore(entries + [entries[0]]) } == .invalidValue)
        #expect(
            code { () throws(LedgerError) in try restore(entries, recent: Array(state.recentBlockHashes.dropFirst())) }
                == .invalidValue)
        // Dropping an audit event leaves a gap; dropping a consent leaves its grant unexplained.
        let audit = try #require(entries.firstIndex { $0.key.first == StateKey.Prefix.audit.rawValue })
        #expect(
            code { () throws(LedgerError) in
                try restore(entries.enumerated().filter { $0.offset != audit }.map(\.element))
            } == .invalidValue)
        let consent = try #require(entries.firstIndex { $0.key.first == StateKey.Prefix.consent.rawValue })
        #expect(
            code { () throws(LedgerError) in
                try restore(entries.enumerated().filter { $0.offset != consent }.map(\.element))
            } == .invalidValue)
        // A value that does not decode; one under another id's key.
        var garbled = entries
        garbled[consent].value = Array(garbled[consent].value.dropLast())
        #expect(code { () throws(LedgerError) in try restore(garbled) } == .malformed)
        let practitioner = try #require(entries.firstIndex { $0.key.first == StateKey.Prefix.practitioner.rawValue })
        var moved = entries
        moved[practitioner].key = [StateKey.Prefix.practitioner.rawValue] + [UInt8](repeating: 0, count: 32)
        moved.sort { $0.key.lexicographicallyPrecedes($1.key) }
        #expect(code { () throws(LedgerError) in try restore(moved) } == .invalidValue)
        // A genesis facility missing.
        #expect(code { () throws(LedgerError) in try restore(Array(entries.dropFirst())) } == .invalidValue)
    }

    @Test("a damaged, truncated, foreign or root-mismatched snapshot file is refused")
    func damagedFiles() throws {
        let story = Self.story
        let good = try SnapshotFormat.encode(story.chain.states[10])
        func code(_ bytes: [UInt8], genesis: Genesis? = nil) -> StoreError.Code? {
            do {
                _ = try Self.decode(bytes, genesis: genesis)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code(good) == nil)
        for offset in [0, 5, 9, 20, 60, 100, 115, 125, 130, good.count / 2, good.count - 1] {
            var bad = good
            bad[offset] ^= 0x04
            #expect(code(bad) != nil, "bit flipped at \(offset)")
        }
        #expect(code(Array(good.dropLast())) == .corrupt)
        #expect(code(good + [0]) == .corrupt)
        #expect(code(Array(good.prefix(100))) == .corrupt)
        #expect(code(Array("MLSG".utf8) + good.dropFirst(4)) == .wrongFormat)
        let other = SnapshotChain(chainID: "medledger-other-chain").genesis
        #expect(code(good, genesis: other) == .wrongFormat)

        // A CRC that is right over a state whose root is not the recorded one: only the root catches it.
        var forged = Array(good[0..<SnapshotFormat.headerSize])
        forged.replaceSubrange(48..<80, with: [UInt8](repeating: 0x5A, count: 32))
        let stored = Array(good[SnapshotFormat.headerSize...])
        let crc = Zlib.crc32(stored, continuing: Zlib.crc32(forged[0..<128]))
        forged.replaceSubrange(
            128..<132, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        do {
            _ = try Self.decode(forged + stored)
            Issue.record("a snapshot with the wrong state root loaded")
        } catch {
            #expect(error.code == .corrupt)
            #expect(error.message.contains("root"))
        }
    }

    @Test("snapshots every N blocks, only the newest K kept, the newest valid one loaded")
    func storeWritesKeepsAndLoads() throws {
        let story = Self.story
        let dir = ScratchDirectory("snapshots")
        let store = try SnapshotStore(directory: dir.join("snapshots"), options: .init(interval: 3, keep: 2))
        var written: [String] = []
        for state in story.chain.states {
            if let path = try store.writeIfDue(state) { written.append(path) }
        }
        #expect(
            written.map { ($0 as NSString).lastPathComponent } == [3, 6, 9, 12].map(SnapshotFormat.fileName(height:)))
        #expect(SnapshotFormat.fileName(height: 12) == "snapshot-00000000000000000012.mlsnap")
        #expect(try store.heights() == [9, 12])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.join("snapshots")).sorted()
                == [9, 12].map(SnapshotFormat.fileName(height:)))

        let loaded = store.loadNewest(genesis: story.chain.genesis)
        let snapshot = try #require(loaded.snapshot)
        #expect(snapshot.height == 12 && loaded.skipped.isEmpty)
        expectSameAnswers(
            snapshot.state, story.chain.states[12], cast: story.cast, records: story.records, accesses: story.accesses)

        // The newest damaged: it is quarantined and the one before it loaded.
        try ScratchDirectory.flipBit(in: store.path(height: 12), at: 200)
        let fallback = store.loadNewest(genesis: story.chain.genesis)
        #expect(fallback.snapshot?.height == 9)
        #expect(fallback.skipped.map(\.code) == [.corrupt])
        #expect(fallback.skipped.first?.path == store.path(height: 12))
        #expect(fallback.quarantined == [dir.join("snapshots/quarantine/" + SnapshotFormat.fileName(height: 12))])
        #expect(try store.heights() == [9])

        // Newer than the log: passed over, left in place. Of another chain: quarantined.
        #expect(store.loadNewest(genesis: story.chain.genesis, notAbove: 8).snapshot == nil)
        #expect(try store.heights() == [9])
        let foreign = store.loadNewest(genesis: SnapshotChain(chainID: "medledger-other-chain").genesis)
        #expect(foreign.snapshot == nil && foreign.skipped.map(\.code) == [.wrongFormat])
        #expect(try store.heights() == [])
        #expect(throws: StoreError.self) { try SnapshotStore(directory: dir.join("x"), options: .init(interval: 0)) }
    }

    @Test("write refuses a height or hash that is not the state's; leftovers of a crashed write are removed on open")
    func writeChecks() throws {
        let story = Self.story
        let dir = ScratchDirectory("snapshots")
        let store = try SnapshotStore(directory: dir.path)
        let state = story.chain.states[5]
        #expect(throws: StoreError.self) { try store.write(state: state, height: 6, blockHash: state.lastBlockHash) }
        #expect(throws: StoreError.self) { try store.write(state: state, height: 5, blockHash: .zero) }
        #expect(!store.isDue(height: 5) && store.isDue(height: 1000) && !store.isDue(height: 0))
        try ScratchDirectory.write([1, 2, 3], to: store.path(height: 7) + ".tmp")
        _ = try SnapshotStore(directory: dir.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [])
    }
}

@Suite("state recovery from snapshots and the log", .serialized)
struct SnapshotRecoveryTests {
    /// A log holding the story's blocks.
    static func log(in dir: ScratchDirectory, chain: SnapshotChain) throws -> SegmentLog {
        let (log, _) = try SegmentLog.open(directory: dir.join("log"), chainID: chain.chainID)
        for block in chain.blocks { try log.append(block) }
        return log
    }

    @Test("restart from the newest snapshot replays only the blocks after it; without snapshots, from genesis")
    func recover() throws {
        let story = SnapshotTests.story
        let dir = ScratchDirectory("recovery")
        let log = try Self.log(in: dir, chain: story.chain)
        defer { log.close() }
        let store = try SnapshotStore(directory: dir.join("snapshots"), options: .init(interval: 4, keep: 2))

        // No snapshot yet: genesis plus every block, and the due snapshot (12) is written.
        let first = try store.recoverState(genesis: story.chain.genesis, log: log)
        #expect(first.snapshotHeight == nil && first.replayedBlocks == 14)
        #expect(first.written == store.path(height: 12) && first.writeError == nil)
        expectSameAnswers(
            first.state, story.chain.state, cast: story.cast, records: story.records, accesses: story.accesses)

        // Next start: from snapshot 12, two blocks replayed.
        let second = try store.recoverState(genesis: story.chain.genesis, log: log)
        #expect(second.snapshotHeight == 12 && second.replayedBlocks == 2 && second.written == nil)
        expectSameAnswers(
            second.state, story.chain.state, cast: story.cast, records: story.records, accesses: story.accesses)

        // The snapshot damaged: quarantined, rebuilt from genesis, and written again.
        try ScratchDirectory.flipBit(in: store.path(height: 12), at: 200)
        let third = try store.recoverState(genesis: story.chain.genesis, log: log)
        #expect(third.snapshotHeight == nil && third.replayedBlocks == 14 && third.skipped.map(\.code) == [.corrupt])
        #expect(third.quarantined.count == 1 && third.written == store.path(height: 12))
        var state = third.state
        var original = story.chain.state
        #expect(state.stateRoot == original.stateRoot)
    }

    @Test("a snapshot the log disagrees with (another fork, a lost tail) is not used")
    func disagreeingSnapshot() throws {
        let story = SnapshotTests.story
        let dir = ScratchDirectory("recovery")
        let log = try Self.log(in: dir, chain: story.chain)
        defer { log.close() }
        let store = try SnapshotStore(directory: dir.join("snapshots"), options: .init(interval: 5, keep: 3))

        // Same genesis, other blocks: a sound snapshot of another history at height 5.
        var fork = SnapshotChain()
        for _ in 0..<5 { try fork.commit([]) }
        try store.write(state: fork.state, height: 5, blockHash: fork.state.lastBlockHash)
        // And one of this chain at 10 whose recent block hashes were altered (the root does not cover them).
        var altered = story.chain.states[10]
        altered.recentBlockHashes[3] = Bytes32(repeating: 3)
        try store.write(state: altered, height: 10, blockHash: altered.lastBlockHash)
        // And one of this chain past the log's end.
        var longer = story.chain
        try longer.commit([])
        try store.write(state: longer.state, height: 15, blockHash: longer.state.lastBlockHash)

        let recovery = try store.recoverState(genesis: story.chain.genesis, log: log)
        #expect(recovery.snapshotHeight == nil && recovery.replayedBlocks == 14)
        #expect(recovery.skipped.map(\.code) == [.invalidArgument, .corrupt, .corrupt])
        #expect(recovery.skipped.allSatisfy { $0.message.contains("log") })
        #expect(recovery.quarantined.count == 2)
        #expect(recovery.written == store.path(height: 10))
        #expect(try store.heights() == [10, 15])
        var state = recovery.state
        var original = story.chain.state
        #expect(state.stateRoot == original.stateRoot)
        let again = try store.recoverState(genesis: story.chain.genesis, log: log)
        #expect(again.snapshotHeight == 10 && again.replayedBlocks == 4)
    }

    @Test("an empty log recovers to the genesis state")
    func emptyLog() throws {
        let story = SnapshotTests.story
        let dir = ScratchDirectory("recovery")
        let (log, _) = try SegmentLog.open(directory: dir.join("log"), chainID: story.chain.chainID)
        defer { log.close() }
        let store = try SnapshotStore(directory: dir.join("snapshots"))
        let recovery = try store.recoverState(genesis: story.chain.genesis, log: log)
        var state = recovery.state
        var genesis = story.chain.states[0]
        #expect(state.height == 0 && state.stateRoot == genesis.stateRoot && recovery.replayedBlocks == 0)
    }
}
