import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// A transaction the node accepted into its mempool (or had committed already).
public struct SubmittedTransaction: Sendable, Hashable {
    /// The signed transaction; submit it again to learn what became of it.
    public var transaction: Transaction
    /// The first answer: in the mempool, or committed at a height.
    public var answer: SubmitAnswer

    /// The transaction id (SHA-256 of its canonical bytes): a consent's id is its grant's id.
    public var id: Bytes32 { transaction.id }
}

extension LedgerClient {
    /// Submits a signed transaction, or asks again what became of it (`submit_transaction`).
    ///
    /// Returns the node's answer as it is, `rejected` included.
    public func submit(_ transaction: Transaction) throws(LedgerClientError) -> SubmitAnswer {
        let (response, _) = try call(.submitTransaction, body: transaction.canonicalBytes)
        return try decode(SubmitAnswer.self, response, .submitTransaction)
    }

    /// Signs `body` with the next nonce of `key` and submits it.
    ///
    /// The first transaction of a signer asks the chain for its last nonce (a verified state
    /// proof of `0x05 || signer`); the next ones count up locally. A `nonce_reused` rejection
    /// (another client of the same key was faster) makes the client ask again and retry, once.
    ///
    /// - Throws: ``ClientError/rejected(code:name:reason:)`` when the ledger refuses it.
    @discardableResult
    public func submit(_ body: TransactionBody, signedBy key: Ed25519.PrivateKey) throws(LedgerClientError) -> SubmittedTransaction {
        let signer = key.publicKey.wire
        for attempt in 0..<2 {
            let nonce = try nextNonce(for: signer)
            let transaction = Transaction.signed(body, by: key, nonce: nonce, chainID: chainID)
            let answer = try submit(transaction)
            switch answer {
            case .inMempool, .committed:
                return SubmittedTransaction(transaction: transaction, answer: answer)
            case .rejected(let code, let reason):
                if code == LedgerError.Code.nonceReused.rawValue, attempt == 0 {
                    state.withLock { $0.nonces.invalidate(signer) }
                    continue
                }
                throw .rejected(code: code, name: LedgerClientError.codeName(code), reason: reason)
            }
        }
        throw .rejected(
            code: LedgerError.Code.nonceReused.rawValue, name: LedgerError.Code.nonceReused.name,
            reason: "the signer's nonces are being used by another client at the same time")
    }

    /// The next nonce for `signer`: one past the last committed or handed out.
    public func nextNonce(for signer: Bytes32) throws(LedgerClientError) -> UInt64 {
        if state.withLock({ $0.nonces.knows(signer) }) {
            return state.withLock { $0.nonces.next(signer) }
        }
        let committed = try committedNonce(of: signer)
        return state.withLock { state in
            state.nonces.learn(signer, committed: committed)
            return state.nonces.next(signer)
        }
    }

    /// The signer's last committed nonce (0 if it never signed), from a verified state proof.
    public func committedNonce(of signer: Bytes32) throws(LedgerClientError) -> UInt64 {
        let proven = try verifiedValue(key: StateKey.key(.nonce, signer))
        guard let value = proven.value else { return 0 }
        do {
            var reader = ByteReader(value)
            let nonce = try reader.readU64("nonce")
            try reader.expectEnd("nonce")
            return nonce
        } catch {
            throw .badAnswer("the nonce of \(signer.hex) is not a u64: \(error)")
        }
    }

    /// Waits until `transaction` commits and returns its height, by submitting it again (a node
    /// answers `committed(height)` for the transactions it committed: CLIENT.md section 2).
    ///
    /// - Throws: ``ClientError/rejected(code:name:reason:)`` if it is rejected meanwhile (for
    ///   instance because a consent it relies on was revoked), ``ClientError/timeout(what:after:)``.
    public func waitForCommit(_ transaction: Transaction, timeout: Duration? = nil) throws(LedgerClientError) -> UInt64 {
        let limit = timeout ?? configuration.commitTimeout
        let deadline = ContinuousClock.now + limit
        while true {
            switch try submit(transaction) {
            case .committed(let height):
                return height
            case .rejected(let code, let reason):
                throw .rejected(code: code, name: LedgerClientError.codeName(code), reason: reason)
            case .inMempool:
                guard ContinuousClock.now < deadline else {
                    throw .timeout(what: "transaction \(transaction.id.hex) did not commit", after: limit)
                }
                usleepDuration(configuration.pollInterval)
            }
        }
    }

    /// Signs, submits and waits for the commit: the height.
    @discardableResult
    public func submitAndWait(_ body: TransactionBody, signedBy key: Ed25519.PrivateKey, timeout: Duration? = nil)
        throws(LedgerClientError) -> (transaction: Transaction, height: UInt64)
    {
        let submitted = try submit(body, signedBy: key)
        if case .committed(let height) = submitted.answer { return (submitted.transaction, height) }
        return (submitted.transaction, try waitForCommit(submitted.transaction, timeout: timeout))
    }
}
