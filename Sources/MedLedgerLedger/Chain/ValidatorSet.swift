import MedLedgerCrypto
import MedLedgerWire

/// One validator: a facility's validator key and its voting power.
public struct Validator: Hashable, Sendable, WireCodable {
    public var key: Bytes32
    public var power: UInt64

    public init(key: Bytes32, power: UInt64) {
        self.key = key
        self.power = power
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(key)
        writer.write(power)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        key = try Bytes32(from: &reader)
        power = try reader.readU64("power")
    }
}

/// The validators that decide blocks, in genesis order (a commit signature names its validator by
/// position here).
public struct ValidatorSet: Hashable, Sendable, WireCodable {
    public let validators: [Validator]
    public let totalPower: UInt64

    public static let maxValidators = WireLimits.commitSignaturesMax

    public init(_ validators: [Validator]) throws(LedgerError) {
        guard !validators.isEmpty, validators.count <= Self.maxValidators else {
            throw LedgerError(.invalidGenesis, "a validator set has 1 to \(Self.maxValidators) validators")
        }
        guard Set(validators.map(\.key)).count == validators.count else {
            throw LedgerError(.invalidGenesis, "a validator key appears twice")
        }
        var total: UInt64 = 0
        for validator in validators {
            guard validator.power > 0 else { throw LedgerError(.invalidGenesis, "voting power must be positive") }
            let (sum, overflow) = total.addingReportingOverflow(validator.power)
            guard !overflow, sum <= UInt64(Int64.max) else { throw LedgerError(.invalidGenesis, "total voting power overflows") }
            total = sum
        }
        self.validators = validators
        self.totalPower = total
    }

    public func encode(to writer: inout ByteWriter) { writer.writeList(validators) }

    public init(from reader: inout ByteReader) throws(WireError) {
        let start = reader.position
        let validators: [Validator] = try reader.readList(max: Self.maxValidators, "validators")
        do {
            try self.init(validators)
        } catch {
            throw reader.error(.valueOutOfRange, at: start, error.reason)
        }
    }

    /// SHA-256 of the canonical set: the `validators_hash` of block headers.
    public var hash: Bytes32 { Bytes32(SHA256.hash(canonicalBytes).bytes)! }

    /// The quorum: strictly more than two thirds of the total power.
    public func isQuorum(_ power: UInt64) -> Bool {
        // power > 2/3 * total, in integers without overflow (total <= Int64.max).
        power.multipliedFullWidth(by: 3) > totalPower.multipliedFullWidth(by: 2)
    }

    public func index(of key: Bytes32) -> Int? { validators.firstIndex { $0.key == key } }

    /// Checks that `commit` decides `blockHash` at `height`: every signature valid for its
    /// validator's precommit, one per validator, and more than two thirds of the power.
    ///
    /// Signatures are checked across the cores.
    public func verify(_ commit: CommitCertificate, height: UInt64, blockHash: Bytes32, chainID: String) throws(LedgerError) {
        guard commit.height == height else {
            throw LedgerError(.invalidCommit, "the certificate is for height \(commit.height), not \(height)")
        }
        guard commit.blockHash == blockHash else {
            throw LedgerError(.invalidCommit, "the certificate decides block \(commit.blockHash.hex), not \(blockHash.hex)")
        }
        var seen = Set<UInt16>()
        var power: UInt64 = 0
        var checks: [SignatureCheck] = []
        for signature in commit.signatures {
            guard Int(signature.validatorIndex) < validators.count else {
                throw LedgerError(
                    .invalidCommit, "signature by validator \(signature.validatorIndex), but the set has \(validators.count)")
            }
            guard seen.insert(signature.validatorIndex).inserted else {
                throw LedgerError(.invalidCommit, "validator \(signature.validatorIndex) signed twice")
            }
            let validator = validators[Int(signature.validatorIndex)]
            let vote = commit.precommit(for: signature, validator: validator.key)
            checks.append(
                SignatureCheck(
                    publicKey: validator.key.ed25519, signature: try! Ed25519.Signature(bytes: signature.signature.bytes),
                    domain: .vote, chainID: chainID, message: vote.signedBytes))
            power += validator.power
        }
        let result = BatchVerifier.verify(checks)
        if let bad = result.failures.first {
            throw LedgerError(
                .invalidCommit, "the precommit signature of validator \(commit.signatures[bad].validatorIndex) does not verify")
        }
        guard isQuorum(power) else {
            throw LedgerError(.invalidCommit, "the signers hold \(power) of \(totalPower) voting power; more than 2/3 is needed")
        }
    }

    /// BFT time from a commit: the power-weighted median of its precommit times, so no minority can
    /// move the clock (Protocol/LEDGER.md, "Time").
    public func medianTime(of commit: CommitCertificate) -> UInt64 {
        var weighted = commit.signatures.compactMap { signature -> (UInt64, UInt64)? in
            guard Int(signature.validatorIndex) < validators.count else { return nil }
            return (signature.timestamp, validators[Int(signature.validatorIndex)].power)
        }
        weighted.sort { $0.0 < $1.0 }
        let total = weighted.reduce(UInt64(0)) { $0 + $1.1 }
        var cumulative: UInt64 = 0
        for (time, power) in weighted {
            cumulative += power
            if cumulative * 2 > total { return time }
        }
        return weighted.last?.0 ?? 0
    }
}

/// Binary Merkle roots over lists (transactions, evidence), after RFC 6962 section 2.1:
/// `leaf = SHA-256(0x00 || item)`, `node = SHA-256(0x01 || left || right)`, the split at the largest
/// power of two below the count, and the empty list's root is 32 zero bytes.
public enum MerkleList {
    public static func root(_ items: [[UInt8]]) -> Bytes32 {
        guard !items.isEmpty else { return .zero }
        return Bytes32(subtree(items[...]))!
    }

    static func subtree(_ items: ArraySlice<[UInt8]>) -> [UInt8] {
        if items.count == 1 { return SHA256.hash([0x00] + items.first!).bytes }
        var split = 1
        while split * 2 < items.count { split *= 2 }
        let left = subtree(items.prefix(split))
        let right = subtree(items.dropFirst(split))
        return SHA256.hash([0x01] + left + right).bytes
    }
}
