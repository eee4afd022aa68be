import MedLedgerLedger
import MedLedgerWire

extension SnapshotStore {
    /// How the state was brought back on start.
    public struct Recovery: Sendable, CustomStringConvertible {
        /// The state after the log's last block.
        public var state: LedgerState
        /// The height of the snapshot replay started from; nil when it started from genesis.
        public var snapshotHeight: UInt64?
        /// Blocks applied on top of the snapshot (or genesis).
        public var replayedBlocks: UInt64
        /// Snapshots passed over, with why (each error names its file).
        public var skipped: [StoreError]
        /// Where rejected snapshots were moved.
        public var quarantined: [String]
        /// A snapshot written during recovery, or why writing it failed (not fatal).
        public var written: String?
        public var writeError: StoreError?

        public var description: String {
            var text = snapshotHeight.map { "from the snapshot at height \($0)" } ?? "from genesis"
            text += ", \(replayedBlocks) block(s) replayed to height \(state.height)"
            for error in skipped { text += "; skipped snapshot: \(error)" }
            if let written { text += "; wrote \(written)" }
            if let writeError { text += "; could not write a snapshot: \(writeError)" }
            return text
        }
    }

    /// The state after the last block of `log`: the newest snapshot that checks out against the
    /// log, plus the blocks after it; or genesis plus every block (Protocol/LOG.md section 10.4).
    ///
    /// A snapshot is used only if the log's block at its height has the snapshot's block hash,
    /// state root and time, and the snapshot's recent block hashes are the log's. If replaying
    /// from a snapshot fails, the snapshot is quarantined and the state rebuilt from genesis.
    /// When the newest due snapshot height passed during replay is newer than the snapshot
    /// loaded, a snapshot is written for it.
    ///
    /// - Throws: what reading the log throws; `corrupt` (with the height) if a block in the log
    ///   does not apply from genesis or the last block's commit certificate does not verify:
    ///   the node must not start on that log.
    public func recoverState(genesis: Genesis, log: SegmentLog) throws(StoreError) -> Recovery {
        let lastHeight = log.lastHeight
        let genesisState: LedgerState
        do {
            genesisState = try LedgerState(genesis: genesis)
        } catch {
            throw StoreError(.invalidArgument, "the genesis is not valid: \(error)")
        }
        // The last block's own certificate (replay checks every earlier one as the next block's last_commit).
        if lastHeight > 0 {
            let last = try log.read(height: lastHeight)
            do {
                try genesisState.validators.verify(
                    last.commit, height: lastHeight, blockHash: last.block.header.hash, chainID: genesis.chainID)
            } catch {
                throw StoreError(
                    .corrupt, "the last block's commit certificate does not verify: \(error)", height: lastHeight)
            }
        }

        let loaded = loadNewest(genesis: genesis, notAbove: lastHeight) { header, state in
            checkAgainstLog(header, state, log: log, genesis: genesis)
        }
        var recovery = Recovery(
            state: genesisState, snapshotHeight: nil, replayedBlocks: 0, skipped: loaded.skipped,
            quarantined: loaded.quarantined)
        var replayed: (state: LedgerState, snapshotDue: LedgerState?)?
        if let snapshot = loaded.snapshot {
            do {
                replayed = try replay(log, from: snapshot.state, through: lastHeight)
                recovery.snapshotHeight = snapshot.height
                recovery.replayedBlocks = lastHeight - snapshot.height
            } catch {
                // The log itself failing is the log's problem: no state can be had without it.
                guard case .ledger(let refusal) = error.cause else { throw error.storeError }
                let path = path(height: snapshot.height)
                recovery.skipped.append(
                    StoreError(
                        .corrupt, "block \(error.height) does not apply to the snapshot's state: \(refusal)",
                        path: path,
                        height: snapshot.height))
                if let moved = try? quarantine(path) { recovery.quarantined.append(moved) }
            }
        }
        if replayed == nil {
            do {
                replayed = try replay(log, from: genesisState, through: lastHeight)
                recovery.replayedBlocks = lastHeight
            } catch {
                throw error.storeError
            }
        }
        recovery.state = replayed!.state
        if let due = replayed!.snapshotDue {
            do {
                recovery.written = try write(state: due, height: due.height, blockHash: due.lastBlockHash)
            } catch {
                recovery.writeError = error
            }
        }
        return recovery
    }

    /// A block that does not apply, or the log failing under the replay.
    struct ReplayFailure: Error {
        enum Cause {
            case log(StoreError)
            case ledger(LedgerError)
        }

        var height: UInt64
        var cause: Cause
        var directory: String

        /// As the recovery reports it.
        var storeError: StoreError {
            switch cause {
            case .log(let error): error
            case .ledger(let error):
                StoreError(
                    .corrupt, "block \(height) of the log does not apply: \(error)", path: directory, height: height)
            }
        }
    }

    /// Applies the log's blocks after `state` through `lastHeight`; also returns the state at the
    /// newest due snapshot height passed, if any.
    func replay(_ log: SegmentLog, from state: LedgerState, through lastHeight: UInt64) throws(ReplayFailure)
        -> (state: LedgerState, snapshotDue: LedgerState?)
    {
        var state = state
        var due: LedgerState?
        let newestDue = lastHeight - lastHeight % options.interval
        var height = state.height
        while height < lastHeight {
            height += 1
            let block: CommittedBlock
            do {
                block = try log.read(height: height)
            } catch {
                throw ReplayFailure(height: height, cause: .log(error), directory: log.directory)
            }
            do {
                state = try state.applying(block.block)
            } catch {
                throw ReplayFailure(height: height, cause: .ledger(error), directory: log.directory)
            }
            if height == newestDue { due = state }
        }
        return (state, due)
    }

    /// Why the log disagrees with a snapshot, or nil when it agrees on the block hash, state
    /// root and time at the snapshot's height and on the recent block hashes.
    func checkAgainstLog(_ header: SnapshotFormat.Header, _ state: LedgerState, log: SegmentLog, genesis: Genesis)
        -> StoreError?
    {
        let path = path(height: header.height)
        func mismatch(_ why: String) -> StoreError {
            StoreError(.corrupt, "the log disagrees: " + why, path: path, height: header.height)
        }
        guard header.height > 0 else { return nil }
        do {
            let block = try log.read(height: header.height).block.header
            guard block.hash == header.blockHash else {
                return mismatch(
                    "block \(header.height) is \(block.hash.hex), the snapshot follows \(header.blockHash.hex)")
            }
            guard block.stateRoot == header.stateRoot else {
                return mismatch(
                    "block \(header.height) has state root \(block.stateRoot.hex), the snapshot \(header.stateRoot.hex)"
                )
            }
            guard block.time == state.lastBlockTime else {
                return mismatch("block \(header.height) has time \(block.time), the snapshot \(state.lastBlockTime)")
            }
            // After block h the window holds the hashes of blocks h - count to h - 1 (block 0 being genesis).
            let count = UInt64(state.recentBlockHashes.count)
            for (offset, hash) in state.recentBlockHashes.enumerated() {
                let height = header.height - count + UInt64(offset)
                var expected = genesis.hash
                if height > 0 { expected = try log.read(height: height).block.header.hash }
                guard hash == expected else {
                    return mismatch("recent block hash \(offset) is not the hash of block \(height)")
                }
            }
            return nil
        } catch {
            return error
        }
    }
}
