import MedLedgerLedger
import MedLedgerWire

/// Suite 2: a 10,000-transaction block applied to the state, and the state root.
///
/// The block is block 2 of the workload: every grant, on the state after block 1 (1,000 patients
/// and the practitioners registered). Each figure starts from that committed state, as a
/// validator does; `LedgerState` is a value, so every run works on its own copy and pays for the
/// copy-on-write of what it touches.
struct StateSuite {
    let workload: Workload
    let options: MeasureOptions

    func run() throws {
        let base = workload.registeredState
        let (block, verified, proposed) = try workload.proposeGrantBlock(count: workload.grants.count)
        let count = verified.count
        var proposedState = proposed
        let expectedRoot = proposedState.stateRoot
        var checked = try base.applying(block, verified: verified)
        precondition(checked.stateRoot == expectedRoot, "applying the proposed block gives another state root")
        let context = BlockContext(height: base.height + 1, time: block.header.time)
        let commit = workload.registrationCommit
        let proposer = workload.secondProposer
        let keyCount = checked.tree.count

        struct Row {
            let step: String
            let timing: Timing
            /// Items per operation and what they are, for the rate column.
            let items: Int
            let unit: String
        }
        var rows: [Row] = []
        rows.append(
            Row(
                step: "proposeBlock: apply + transactions root + state root",
                timing: try measure(options) {
                    blackHole(try base.proposeBlock(transactions: verified, lastCommit: commit, proposer: proposer))
                }, items: count, unit: "tx/s"))
        rows.append(
            Row(
                step: "applying(_:verified:): checks + apply + state root",
                timing: try measure(options) { blackHole(try base.applying(block, verified: verified)) }, items: count,
                unit: "tx/s"))
        rows.append(
            Row(
                step: "applying(_:): the same, signatures verified inside",
                timing: try measure(options) { blackHole(try base.applying(block)) }, items: count, unit: "tx/s"))
        rows.append(
            Row(
                step: "apply alone: \(Format.grouped(count)) x LedgerState.apply, no root",
                timing: try measure(options, setup: { base }) { state in
                    for transaction in verified { try state.apply(transaction, in: context) }
                }, items: count, unit: "tx/s"))
        rows.append(
            Row(
                step: "state root alone, after those applies (incremental)",
                timing: try measure(
                    options,
                    setup: {
                        var state = base
                        for transaction in verified { try state.apply(transaction, in: context) }
                        return state
                    }
                ) { state in blackHole(state.stateRoot) }, items: count, unit: "tx/s"))
        rows.append(
            Row(
                step: "transactions root alone: \(Format.grouped(count)) ids (Merkle)",
                timing: measure(options) { blackHole(LedgerState.transactionsRoot(block.transactions)) }, items: count,
                unit: "tx/s"))
        let tree = checked.tree
        rows.append(
            Row(
                step: "state root from scratch: \(Format.grouped(keyCount)) keys, every node hashed",
                timing: measure(options, setup: { StateTree(tree) }) { fresh in blackHole(fresh.rootHash) },
                items: keyCount, unit: "keys/s"))

        let patients = Format.grouped(workload.patients.count)
        let practitioners = Format.grouped(workload.practitioners.count)
        print(
            """

            2. State: block 2 of \(Format.grouped(count)) grant_consent transactions from \(patients) patients
               (\(practitioners) practitioners and the 4 facilities as grantees), applied to the state after block 1;
               the state then holds \(Format.grouped(keyCount)) keys

            """)
        var table = Table([
            ("step", .left), ("best", .right), ("median", .right), ("best rate", .right), ("median rate", .right),
        ])
        for row in rows {
            table.add([
                row.step, Format.duration(row.timing.best), Format.duration(row.timing.median),
                Format.rate(Double(row.items) / row.timing.best) + " " + row.unit,
                Format.rate(Double(row.items) / row.timing.median) + " " + row.unit,
            ])
        }
        print(table.render())
        print(
            """
              (the state roots hash on two threads from 2,048 pending writes; \
            rates in the root rows are the block's transactions, or the tree's keys, per second of that step alone)
            """)
    }
}
