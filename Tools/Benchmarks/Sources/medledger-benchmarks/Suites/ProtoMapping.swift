import Foundation
import MedLedgerBenchProto
import MedLedgerLedger
import MedLedgerWire

/// Builds the protobuf twin (Proto/block.proto) of a MedLedger block, field for field.
enum ProtoMapping {
    static func data(_ bytes: Bytes32) -> Data { Data(bytes.bytes) }
    static func data(_ bytes: Bytes64) -> Data { Data(bytes.bytes) }

    static func header(_ header: BlockHeader) -> Medledger_Bench_BlockHeader {
        var proto = Medledger_Bench_BlockHeader()
        proto.version = UInt32(header.version)
        proto.chainID = header.chainID
        proto.height = header.height
        proto.time = header.time
        proto.previousHash = data(header.previousHash)
        proto.lastCommitHash = data(header.lastCommitHash)
        proto.transactionsRoot = data(header.transactionsRoot)
        proto.evidenceRoot = data(header.evidenceRoot)
        proto.stateRoot = data(header.stateRoot)
        proto.validatorsHash = data(header.validatorsHash)
        proto.nextValidatorsHash = data(header.nextValidatorsHash)
        proto.proposer = data(header.proposer)
        return proto
    }

    static func grant(_ grant: GrantConsent) -> Medledger_Bench_GrantConsent {
        var proto = Medledger_Bench_GrantConsent()
        proto.patient = data(grant.patient)
        proto.grantee = data(grant.grantee)
        proto.actions = UInt32(grant.actions.rawValue)
        proto.purposes = UInt32(grant.purposes.rawValue)
        var scope = Medledger_Bench_ConsentScope()
        switch grant.scope {
        case .allRecords:
            scope.allRecords = true
        case .categories(let categories):
            var list = Medledger_Bench_ConsentScope.Categories()
            list.categories = categories
            scope.categories = list
        case .records(let records):
            var list = Medledger_Bench_ConsentScope.Records()
            list.records = records.map(data)
            scope.records = list
        }
        proto.scope = scope
        proto.start = grant.start
        if let expiry = grant.expiry { proto.expiry = expiry }
        return proto
    }

    static func transaction(_ transaction: Transaction, body: TransactionBody) -> Medledger_Bench_Transaction {
        guard case .grantConsent(let grant) = body else { preconditionFailure("the benchmark block holds grants only") }
        var proto = Medledger_Bench_Transaction()
        proto.txType = UInt32(transaction.txType)
        proto.signer = data(transaction.signer)
        proto.nonce = transaction.nonce
        proto.grantConsent = self.grant(grant)
        proto.signature = data(transaction.signature)
        return proto
    }

    static func commit(_ commit: CommitCertificate) -> Medledger_Bench_CommitCertificate {
        var proto = Medledger_Bench_CommitCertificate()
        proto.height = commit.height
        proto.round = commit.round
        proto.blockHash = data(commit.blockHash)
        proto.signatures = commit.signatures.map { signature in
            var proto = Medledger_Bench_CommitSignature()
            proto.validatorIndex = UInt32(signature.validatorIndex)
            proto.timestamp = signature.timestamp
            proto.signature = data(signature.signature)
            return proto
        }
        return proto
    }

    static func block(_ block: Block, bodies: [TransactionBody]) -> Medledger_Bench_Block {
        precondition(block.evidence.isEmpty, "the protobuf twin has no evidence field")
        var proto = Medledger_Bench_Block()
        proto.header = header(block.header)
        proto.transactions = zip(block.transactions, bodies).map { transaction($0, body: $1) }
        if let lastCommit = block.lastCommit { proto.lastCommit = commit(lastCommit) }
        return proto
    }
}
