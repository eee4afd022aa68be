import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// Suite 3: the signatures of a 10,000-transaction block, across the cores and on one.
struct SignatureSuite {
    let workload: Workload
    let options: MeasureOptions

    func run() throws {
        let transactions = workload.grants
        let chainID = workload.chainID
        let count = transactions.count
        let checks = try Self.checks(transactions, chainID: chainID)
        let cores = ProcessInfoCores.active
        precondition(BatchVerifier.verify(checks, cache: nil).allValid, "every benchmark signature must verify")

        struct Row {
            let step: String
            let timing: Timing
        }
        let rows = [
            Row(
                step: "LedgerState.verify: decode + checks + BatchVerifier (parallel)",
                timing: try measure(options) { blackHole(try LedgerState.verify(transactions, chainID: chainID, cache: nil)) }),
            Row(
                step: "BatchVerifier.verify(checks, cache: nil): parallel, \(cores) workers",
                timing: measure(options) { blackHole(BatchVerifier.verify(checks, cache: nil)) }),
            Row(
                step: "BatchVerifier.verify(checks, parallelThreshold: Int.max, cache: nil): sequential",
                timing: measure(options) { blackHole(BatchVerifier.verify(checks, parallelThreshold: Int.max, cache: nil)) }),
            Row(
                step: "preparing the checks alone (decode, signed bytes, keys)",
                timing: try measure(options) { blackHole(try Self.checks(transactions, chainID: chainID)) }),
        ]

        print(
            """

            3. Block signature verification: the \(Format.grouped(count)) grant_consent signatures of block 2 \
            (Ed25519 over OpenSSL), \(cores) cores active

            """)
        var table = Table([
            ("step", .left), ("best", .right), ("median", .right), ("best signatures/s", .right),
            ("median signatures/s", .right),
        ])
        for row in rows {
            table.add([
                row.step, Format.duration(row.timing.best), Format.duration(row.timing.median),
                Format.rate(Double(count) / row.timing.best), Format.rate(Double(count) / row.timing.median),
            ])
        }
        print(table.render())
        let sequential = rows[2].timing
        func speedUp(_ timing: Timing) -> String {
            Format.ratio(sequential.best / timing.best) + " best, " + Format.ratio(sequential.median / timing.median)
                + " median"
        }
        print("")
        print(
            "  speed-up over sequential: LedgerState.verify \(speedUp(rows[0].timing));"
                + " BatchVerifier parallel \(speedUp(rows[1].timing))")
    }

    /// The checks `LedgerState.verify` builds, through the public API: each body decoded (a body
    /// that does not decode is refused before its signature), then key, signature and signed bytes.
    static func checks(_ transactions: [Transaction], chainID: String) throws -> [SignatureCheck] {
        var checks: [SignatureCheck] = []
        checks.reserveCapacity(transactions.count)
        for transaction in transactions {
            blackHole(try TransactionBody.decode(type: transaction.txType, body: transaction.body))
            checks.append(
                SignatureCheck(
                    publicKey: transaction.signer.ed25519,
                    signature: try Ed25519.Signature(bytes: transaction.signature.bytes),
                    domain: .transaction, chainID: chainID, message: transaction.signedBytes))
        }
        return checks
    }
}
