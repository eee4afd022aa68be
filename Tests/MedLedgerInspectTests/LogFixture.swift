import Foundation
import MedLedgerCrypto
import MedLedgerInspect
import MedLedgerLedger
import MedLedgerStore
import MedLedgerTestSupport
import MedLedgerWire
import Testing

/// The log fixture of Protocol/vectors/log: a genesis of four facilities and six blocks of real,
/// signed ledger transactions with valid commit certificates, written by `SegmentLog`.
///
/// Everything is deterministic (keys from fixed seeds, fixed times, Ed25519's deterministic
/// signatures, HPKE with fixed ephemeral keys, zlib at a fixed level), so the files regenerate
/// byte for byte: `MEDLEDGER_WRITE_VECTORS=1 swift test --filter LogFixtureTests` rewrites them.
enum LogFixture {
    static let directory = VectorFiles.directory.appendingPathComponent("log", isDirectory: true)
    static let chainDirectory = directory.appendingPathComponent("chain", isDirectory: true)
    static let genesisFile = directory.appendingPathComponent("genesis.json")
    /// How the fixture's path appears in golden files: as typed from the repository root.
    static let displayPath = "Protocol/vectors/log/chain"

    static let chainID = "medledger-log-fixture"
    static let genesisTime: UInt64 = 1_795_000_000_000
    /// Small segments and a short index interval, so that six blocks roll segments and index twice.
    static let options = SegmentLog.Options(maxSegmentSize: 4096, compressionLevel: 6, indexInterval: 4)

    // MARK: Keys

    static func seed(_ label: String) -> SecureBytes {
        SecureBytes(SHA256.hash(Array("medledger log fixture: \(label)".utf8)).bytes)
    }
    static func signing(_ label: String) -> Ed25519.PrivateKey { try! Ed25519.PrivateKey(seed: seed("sign " + label)) }
    static func encryption(_ label: String) -> X25519.PrivateKey { try! X25519.PrivateKey(rawKey: seed("box " + label)) }
    static func bytes(_ label: String) -> Bytes32 { Bytes32(SHA256.hash(Array("medledger log fixture: \(label)".utf8)).bytes)! }

    /// Someone who signs transactions: keys and the next nonce.
    final class Party: @unchecked Sendable {
        let signing: Ed25519.PrivateKey
        let encryption: X25519.PrivateKey
        var nonce: UInt64 = 0

        init(_ label: String) {
            signing = LogFixture.signing(label)
            encryption = LogFixture.encryption(label)
        }

        var key: Bytes32 { signing.publicKey.wire }
        var box: Bytes32 { Bytes32(encryption.publicKey.bytes)! }

        func sign(_ body: TransactionBody) -> Transaction {
            nonce += 1
            return Transaction.signed(body, by: signing, nonce: nonce, chainID: LogFixture.chainID)
        }
    }

    struct FixtureFacility {
        let organisation: Party
        let validator: Ed25519.PrivateKey
        let facility: Facility

        init(_ name: String, kind: FacilityKind) {
            organisation = Party("organisation " + name)
            validator = LogFixture.signing("validator " + name)
            facility = Facility(
                name: name, kind: kind, organisationKey: organisation.key, validatorKey: validator.publicKey.wire,
                nodeKey: LogFixture.signing("node " + name).publicKey.wire, recordKey: organisation.box, power: 10)
        }
    }

    /// Proposes, checks (as a validator would) and certifies blocks.
    struct Chain {
        let facilities: [FixtureFacility]
        let genesis: Genesis
        var state: LedgerState
        var lastCommit: CommitCertificate?
        var blocks: [CommittedBlock] = []

        init(facilities: [FixtureFacility]) throws {
            self.facilities = facilities
            genesis = try Genesis(chainID: LogFixture.chainID, genesisTime: LogFixture.genesisTime, facilities: facilities.map(\.facility))
            state = try LedgerState(genesis: genesis)
        }

        mutating func commit(_ transactions: [Transaction]) throws {
            let verified = try LedgerState.verify(transactions, chainID: LogFixture.chainID)
            let proposer = facilities[Int(state.height) % facilities.count].facility.validatorKey
            let (block, _) = try state.proposeBlock(transactions: verified, lastCommit: lastCommit, proposer: proposer)
            let next = try state.applying(block)
            let commit = certify(block.header)
            state = next
            lastCommit = commit
            blocks.append(CommittedBlock(block: block, commit: commit))
        }

        /// Every validator's precommit, timed one second after the block (plus its index, in ms).
        func certify(_ header: BlockHeader) -> CommitCertificate {
            let signatures = facilities.indices.map { index -> CommitSignature in
                let timestamp = header.time + 1000 + UInt64(index)
                let vote = Vote(
                    voteType: .precommit, height: header.height, round: 0, blockHash: header.hash, timestamp: timestamp,
                    validator: facilities[index].facility.validatorKey, signature: Bytes64(repeating: 0))
                let signature = facilities[index].validator.signature(for: .vote, chainID: LogFixture.chainID, message: vote.signedBytes)
                return CommitSignature(validatorIndex: UInt16(index), timestamp: timestamp, signature: Bytes64(signature.bytes)!)
            }
            return CommitCertificate(height: header.height, round: 0, blockHash: header.hash, signatures: signatures)
        }
    }

    /// The genesis and the six blocks.
    static func build() throws -> (genesis: Genesis, blocks: [CommittedBlock]) {
        let hospital = FixtureFacility("General Hospital", kind: .hospital)
        let dental = FixtureFacility("Smile Dental Clinic", kind: .dentalClinic)
        let lab = FixtureFacility("City Diagnostic Lab", kind: .laboratory)
        let practice = FixtureFacility("Elm Street Family Practice", kind: .familyPractice)
        var chain = try Chain(facilities: [hospital, dental, lab, practice])
        let ada = Party("practitioner Ada Moreau")
        let ben = Party("practitioner Ben Okafor")
        let cohort = Party("organisation North Cohort Study")
        let clara = Party("patient Clara")
        let dev = Party("patient Dev")

        // 1: the facilities register their practitioners and a research organisation.
        try chain.commit([
            hospital.organisation.sign(
                .registerPractitioner(
                    RegisterPractitioner(practitioner: ada.key, encryptionKey: ada.box, roles: [.physician, .breakGlass], displayName: "Dr. Ada Moreau"))),
            dental.organisation.sign(
                .registerPractitioner(RegisterPractitioner(practitioner: ben.key, encryptionKey: ben.box, roles: .dentist, displayName: "Dr. Ben Okafor"))),
            hospital.organisation.sign(
                .registerOrganisation(
                    RegisterOrganisation(organisation: cohort.key, encryptionKey: cohort.box, kind: .research, name: "North Cohort Study"))),
        ])

        // 2: two patients register, attested by their facilities.
        func registration(_ patient: Party, at facility: FixtureFacility) -> Transaction {
            let attested = RegisterPatient.attestedBytes(patient: patient.key, encryptionKey: patient.box)
            let attestation = facility.organisation.signing.signature(for: .patientAttestation, chainID: chainID, message: attested)
            return patient.sign(
                .registerPatient(
                    RegisterPatient(encryptionKey: patient.box, facility: facility.organisation.key, attestation: Bytes64(attestation.bytes)!)))
        }
        try chain.commit([registration(clara, at: hospital), registration(dev, at: dental)])

        // 3: each patient grants their clinician consent.
        let claraGrant = clara.sign(
            .grantConsent(
                GrantConsent(
                    patient: clara.key, grantee: ada.key, actions: [.read, .write], purposes: Purposes([.treatment]),
                    scope: .categories(["imaging", "laboratory"]), start: 0, expiry: nil)))
        let devGrant = dev.sign(
            .grantConsent(
                GrantConsent(
                    patient: dev.key, grantee: ben.key, actions: [.read, .write], purposes: Purposes([.treatment, .emergency]),
                    scope: .allRecords, start: 0, expiry: nil)))
        try chain.commit([claraGrant, devGrant])

        // 4: the clinicians anchor records, encrypted for real (fixed data and ephemeral keys).
        func record(
            _ label: String, author: Party, custodian: FixtureFacility, patient: Party, category: String, resourceType: String,
            authority: Authority, contents: String
        ) throws -> (Transaction, Bytes32) {
            let id = bytes("record " + label)
            let sealed = try RecordCrypto.encrypt(Array(contents.utf8), record: id, dataKey: seed("data key " + label))
            let forPatient = try RecordCrypto.wrap(sealed.dataKey, for: patient.box, record: id, ephemeralKey: encryption("ephemeral patient " + label))
            let forCustodian = try RecordCrypto.wrap(
                sealed.dataKey, for: custodian.facility.recordKey, record: id, ephemeralKey: encryption("ephemeral custodian " + label))
            let body = AddRecord(
                record: id, patient: patient.key, custodian: custodian.organisation.key, category: category, resourceType: resourceType,
                ciphertextHash: sealed.ciphertextHash, paddedSize: sealed.paddedSize, created: chain.state.lastBlockTime,
                keyForPatient: forPatient, keyForCustodian: forCustodian, authority: authority)
            return (author.sign(.addRecord(body)), id)
        }
        let (claraRecord, claraRecordID) = try record(
            "clara chest x-ray", author: ada, custodian: hospital, patient: clara, category: "imaging", resourceType: "DiagnosticReport",
            authority: .consent(claraGrant.id), contents: "Chest X-ray: no acute findings.")
        let (devRecord, devRecordID) = try record(
            "dev filling", author: ben, custodian: dental, patient: dev, category: "dental", resourceType: "Procedure",
            authority: .consent(devGrant.id), contents: "Composite filling, tooth 36.")
        try chain.commit([claraRecord, devRecord])

        // 5: a break-glass entry, and a refused access request from the research organisation.
        var request = FetchRequest(
            record: claraRecordID, custodian: hospital.organisation.key, requester: cohort.key, purpose: .research,
            authority: .consent(claraGrant.id), nonce: bytes("fetch nonce cohort"), recentBlockHash: chain.state.lastBlockHash,
            encryptionKey: cohort.box, signature: Bytes64(repeating: 0))
        request.signature = Bytes64(cohort.signing.signature(for: .fetchRequest, chainID: chainID, message: request.signedBytes).bytes)!
        try chain.commit([
            ada.sign(.breakGlass(BreakGlass(patient: dev.key, custodian: dental.organisation.key, reason: "Unconscious on arrival; allergy history needed."))),
            hospital.organisation.sign(
                .accessEntry(
                    AccessEntry(
                        request: request,
                        outcome: .refused(code: LedgerError.Code.noConsent.rawValue, note: "No consent covers research use.")))),
        ])

        // 6: a consent revoked, a record erased.
        try chain.commit([
            clara.sign(.revokeConsent(RevokeConsent(patient: clara.key, consent: claraGrant.id))),
            dev.sign(.eraseRecord(EraseRecord(patient: dev.key, record: devRecordID))),
        ])
        return (chain.genesis, chain.blocks)
    }

    /// Writes `blocks` as a log in `directory` with the fixture's options, through `SegmentLog`.
    static func writeLog(_ blocks: [CommittedBlock], to directory: String) throws {
        let (log, _) = try SegmentLog.open(directory: directory, chainID: chainID, options: options)
        for block in blocks { try log.append(block) }
        log.close()
    }

    /// The genesis file's text.
    static func genesisText(_ genesis: Genesis) -> String { genesis.json.prettyDescription + "\n" }

    /// The files of a directory tree, by relative path.
    static func files(in root: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let manager = FileManager.default
        guard let walker = manager.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [:] }
        let base = root.standardizedFileURL.path
        for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            let path = url.standardizedFileURL.path
            files[String(path.dropFirst(base.count + 1))] = try Data(contentsOf: url)
        }
        return files
    }
}

/// A temporary directory removed when the value goes away.
final class LogScratch {
    let url: URL
    var path: String { url.path }

    init(_ label: String) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("medledger-log-\(label)-\(UUID().uuidString)", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A copy of the fixture's chain directory inside this one.
    func copyOfFixture() throws -> URL {
        let copy = url.appendingPathComponent("chain", isDirectory: true)
        try FileManager.default.copyItem(at: LogFixture.chainDirectory, to: copy)
        return copy
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Damaged copies of the fixture, made the way a disk or a crash would damage it.
enum LogDamage {
    /// Where the record of `height` is: its segment file, offset and stored length.
    static func record(_ height: UInt64, in directory: URL) throws -> (file: URL, offset: UInt64, stored: Int) {
        let log = try LogDirectory(path: directory.path)
        var found: (URL, UInt64, Int)?
        try log.walk(chainID: LogFixture.chainID) { record throws(LogProblem) -> Bool in
            guard record.height == height else { return true }
            found = (URL(fileURLWithPath: record.segment.path), record.offset, Int(record.header.storedLength))
            return false
        }
        guard let found else { throw LogDamageError.noSuchHeight(height) }
        return found
    }

    /// Flips one bit in the middle of the stored bytes of the record of `height`; returns the
    /// record's segment name and offset.
    @discardableResult
    static func flipBit(inRecord height: UInt64, of directory: URL) throws -> (segment: String, offset: UInt64) {
        let (file, offset, stored) = try record(height, in: directory)
        var bytes = try Data(contentsOf: file)
        bytes[Int(offset) + 60 + stored / 2] ^= 0x10
        try bytes.write(to: file)
        return (file.lastPathComponent, offset)
    }

    /// Cuts `count` bytes off the end of the last segment: an append torn by a crash.
    static func truncateTail(of directory: URL, by count: Int) throws -> URL {
        let log = try LogDirectory(path: directory.path)
        let last = URL(fileURLWithPath: log.segments.last!.path)
        let handle = try FileHandle(forWritingTo: last)
        try handle.truncate(atOffset: log.segments.last!.size - UInt64(count))
        try handle.close()
        return last
    }

    /// Rewrites the index as a crash would have left it had block `height` been the last durable
    /// one: its frontier at the end of that block's record, so that later records are in doubt.
    static func moveFrontier(of directory: URL, toEndOf height: UInt64) throws {
        let (file, offset, stored) = try record(height, in: directory)
        let url = directory.appendingPathComponent(SegmentIndex.fileName)
        var index = try #require(SegmentIndex.decode(Array(try Data(contentsOf: url))))
        index.frontier.height = height
        index.frontier.segmentStart = try #require(SegmentFormat.startHeight(ofSegmentNamed: file.lastPathComponent))
        index.frontier.offset = offset + 60 + UInt64(stored)
        try Data(index.encoded).write(to: url)
    }

    /// The fixture's blocks, rewritten into `directory` with one bit of validator 1's precommit
    /// signature in the certificate of block `height` flipped (every CRC and hash link intact).
    static func forgeCommitSignature(atHeight height: UInt64, into directory: URL) throws {
        let log = try LogDirectory(path: LogFixture.chainDirectory.path)
        var blocks: [CommittedBlock] = []
        try log.walk(chainID: LogFixture.chainID) { record throws(LogProblem) -> Bool in
            blocks.append(try record.block())
            return true
        }
        var block = blocks[Int(height) - 1]
        var signature = block.commit.signatures[1].signature.bytes
        signature[5] ^= 0x01
        block.commit.signatures[1].signature = Bytes64(signature)!
        blocks[Int(height) - 1] = block
        try LogFixture.writeLog(blocks, to: directory.path)
    }
}

enum LogDamageError: Error {
    case noSuchHeight(UInt64)
}
