import Foundation
import MedLedgerCrypto
@testable import MedLedgerLedger
import MedLedgerTestSupport
import MedLedgerWire
import Testing

/// Protocol/vectors/ledger: a signed transaction of every type and rejection vectors for the
/// body rules. Written with MEDLEDGER_WRITE_VECTORS=1, checked otherwise.
enum LedgerVectors {
    static let directory = VectorFiles.directory.appendingPathComponent("ledger", isDirectory: true)

    struct Vector {
        var name: String
        var summary: String
        var transaction: Transaction
        /// nil for a valid transaction; else the expected rejection.
        var rejection: JSONValue?
    }

    static func all() throws -> [Vector] {
        var chain = TestChain()
        let id = chain.chainID
        let patient = Party("vector patient")
        let dentist = Party("vector dentist")
        let nurse = Party("vector nurse")
        let research = Party("vector research")
        let delegate = Party("vector delegate")
        let recovery = [Party("vector recovery 1"), Party("vector recovery 2")]
        let newKey = Party("vector patient new key")
        let register = chain.registerPatient(patient, at: chain.hospital)
        let practitioner = chain.registerPractitioner(dentist, at: chain.dental, roles: [.dentist])
        let nursing = chain.registerPractitioner(nurse, at: chain.hospital, roles: [.nurse, .breakGlass])
        let organisation = chain.registerOrganisation(research, by: chain.hospital, kind: .research)
        try chain.commit([register, practitioner, nursing, organisation])
        let grant = chain.grant(
            by: patient, patient: patient, to: chain.dental.organisation.key, actions: [.read, .write], purposes: [.treatment, .emergency],
            scope: .categories(["dental", "imaging"]), start: TestChain.genesisTime, expiry: TestChain.genesisTime + 31_536_000_000)
        try chain.commit([grant])
        let add = try chain.addRecord(
            "vector record", author: dentist, at: chain.dental, patient: patient, category: "dental", resourceType: "ImagingStudy",
            authority: .consent(grant.id), contents: "periapical x-ray")
        try chain.commit([add.transaction])
        let request = chain.fetchRequest("vector fetch", requester: dentist, record: add.record, custodian: chain.dental, purpose: .treatment, authority: .consent(grant.id))
        let access = try chain.grantAccess(request, by: chain.dental, label: "vector fetch")
        let refusedRequest = chain.fetchRequest("vector refused", requester: research, record: add.record, custodian: chain.dental, purpose: .research, authority: .consent(grant.id))
        let refused = chain.refuseAccess(refusedRequest, by: chain.dental, code: .noConsent, note: "no research consent")
        let breakGlass = nurse.sign(.breakGlass(BreakGlass(patient: patient.key, custodian: chain.hospital.organisation.key, reason: "unresponsive in A&E; allergies unknown")), chainID: id)
        let delegates = patient.sign(.setDelegates(SetDelegates(patient: patient.key, delegates: [Delegate(key: delegate.key, relation: .parent)])), chainID: id)
        let setRecovery = patient.sign(.setRecovery(SetRecovery(patient: patient.key, threshold: 2, keys: recovery.map(\.key))), chainID: id)
        let unsigned = ReplacePatientKey(patient: patient.key, keyVersion: 0, newSigningKey: newKey.key, newEncryptionKey: newKey.box, approvals: [])
        let replace = recovery[0].sign(
            .replacePatientKey(
                ReplacePatientKey(
                    patient: patient.key, keyVersion: 0, newSigningKey: newKey.key, newEncryptionKey: newKey.box,
                    approvals: recovery.map { RecoveryApproval(key: $0.key, signature: Bytes64($0.signing.signature(for: .keyRecovery, chainID: id, message: unsigned.approvedBytes).bytes)!) })),
            chainID: id)
        let revoke = patient.sign(.revokeConsent(RevokeConsent(patient: patient.key, consent: grant.id)), chainID: id)
        let preferences = patient.sign(.setPreferences(SetPreferences(patient: patient.key, breakGlassOptOut: true)), chainID: id)
        let erase = delegate.sign(.eraseRecord(EraseRecord(patient: patient.key, record: add.record)), chainID: id)
        let deregister = chain.hospital.organisation.sign(.deregister(Deregister(subject: research.key)), chainID: id)

        var vectors: [Vector] = [
            Vector(name: "register-patient", summary: "register_patient attested by the hospital", transaction: register),
            Vector(name: "register-practitioner", summary: "register_practitioner: a dentist at the dental clinic", transaction: practitioner),
            Vector(name: "register-organisation", summary: "register_organisation: a research institute", transaction: organisation),
            Vector(name: "deregister", summary: "deregister the research institute", transaction: deregister),
            Vector(name: "set-delegates", summary: "set_delegates: a parent", transaction: delegates),
            Vector(name: "set-recovery", summary: "set_recovery: 2 of 2 keys", transaction: setRecovery),
            Vector(name: "replace-patient-key", summary: "replace_patient_key approved by both recovery keys", transaction: replace),
            Vector(name: "grant-consent", summary: "grant_consent: dental clinic, read+write, treatment+emergency, dental and imaging, one year", transaction: grant),
            Vector(name: "revoke-consent", summary: "revoke_consent", transaction: revoke),
            Vector(name: "add-record", summary: "add_record under the consent, keys wrapped for patient and custodian", transaction: add.transaction),
            Vector(name: "access-entry-granted", summary: "access_entry granting the dentist's fetch request", transaction: access),
            Vector(name: "access-entry-refused", summary: "access_entry refusing a research request (no_consent)", transaction: refused),
            Vector(name: "break-glass", summary: "break_glass by an emergency nurse", transaction: breakGlass),
            Vector(name: "set-preferences", summary: "set_preferences: opt out of break-glass", transaction: preferences),
            Vector(name: "erase-record", summary: "erase_record by the patient's delegate", transaction: erase),
        ]

        // Rejections of the body rules: each a valid envelope (re-signed) around a bad body.
        func reject(_ name: String, _ summary: String, type: TransactionType, body: [UInt8], error: WireError.Code, offset: Int) {
            var tx = Transaction(txType: type.rawValue, signer: patient.key, nonce: 500, body: body, signature: Bytes64(repeating: 0))
            tx.signature = Bytes64(patient.signing.signature(for: .transaction, chainID: id, message: tx.signedBytes).bytes)!
            vectors.append(Vector(
                name: "reject-" + name, summary: summary, transaction: tx,
                rejection: .object([("error", .string("malformed")), ("body_error", .string(error.name)), ("offset", .int(offset))])))
        }
        guard case .grantConsent(let consent) = try TransactionBody.decode(type: grant.txType, body: grant.body) else { fatalError() }
        let consentBytes = consent.canonicalBytes
        let prefix = Array(consentBytes.prefix(64))  // patient, grantee
        reject("actions-empty", "grant_consent with actions 0", type: .grantConsent, body: prefix + [0] + consentBytes.dropFirst(65), error: .valueOutOfRange, offset: 64)
        reject("purposes-undefined", "grant_consent with purpose bit 7 set", type: .grantConsent, body: prefix + [3, 0x80] + consentBytes.dropFirst(66), error: .valueOutOfRange, offset: 65)
        var scope = ByteWriter()
        scope.write(UInt8(2))
        scope.write(UInt32(2))
        scope.write("imaging")
        scope.write("dental")
        let afterScope = Array(consentBytes.dropFirst(66 + ConsentScope.categories(["dental", "imaging"]).canonicalBytes.count))
        reject("scope-unsorted", "grant_consent whose categories are not sorted", type: .grantConsent, body: prefix + [3, 3] + scope.bytes + afterScope, error: .nonCanonical, offset: 66 + 5 + 4 + 7)
        reject("scope-empty", "grant_consent with an empty category list", type: .grantConsent, body: prefix + [3, 3, 2, 0, 0, 0, 0] + afterScope, error: .valueOutOfRange, offset: 67)
        reject("scope-kind", "grant_consent with scope kind 9", type: .grantConsent, body: prefix + [3, 3, 9] + afterScope, error: .unknownEnum, offset: 66)
        var expiry = ByteWriter()
        expiry.write(UInt64(2000))
        expiry.write(UInt8(1))
        expiry.write(UInt64(1000))
        let scopeBytes = ConsentScope.allRecords.canonicalBytes
        reject("expiry-before-start", "grant_consent expiring before it starts", type: .grantConsent, body: prefix + [3, 3] + scopeBytes + expiry.bytes, error: .valueOutOfRange, offset: 66 + 1 + 8)
        reject("trailing", "revoke_consent with a byte after its fields", type: .revokeConsent, body: Array(repeating: 1, count: 65), error: .trailingBytes, offset: 64)
        reject("roles-undefined", "register_practitioner with role bit 20", type: .registerPractitioner, body: Array(repeating: 2, count: 64) + [0, 0x10, 0, 0] + [0, 0, 0, 0], error: .valueOutOfRange, offset: 64)
        reject("threshold", "set_recovery with threshold 3 of 2 keys", type: .setRecovery, body: Array(repeating: 1, count: 32) + [3, 0, 0, 0, 2] + Array(repeating: 4, count: 32) + Array(repeating: 5, count: 32), error: .valueOutOfRange, offset: 32)
        reject("outcome-kind", "access_entry with outcome 3", type: .accessEntry, body: request.canonicalBytes + [3], error: .unknownEnum, offset: request.canonicalBytes.count)
        reject("bool", "set_preferences whose bool is 2", type: .setPreferences, body: Array(repeating: 1, count: 32) + [2], error: .invalidBool, offset: 32)
        // An unknown type and a bad signature.
        var unknown = Transaction(txType: 99, signer: patient.key, nonce: 1, body: [], signature: Bytes64(repeating: 0))
        unknown.signature = Bytes64(patient.signing.signature(for: .transaction, chainID: id, message: unknown.signedBytes).bytes)!
        vectors.append(Vector(name: "reject-unknown-type", summary: "tx_type 99", transaction: unknown, rejection: .object([("error", .string("unknown_transaction_type"))])))
        var forged = preferences
        forged.nonce += 1
        vectors.append(Vector(name: "reject-bad-signature", summary: "set_preferences whose nonce changed after signing", transaction: forged, rejection: .object([("error", .string("bad_signature"))])))
        return vectors
    }

    static func render(_ vector: Vector) -> JSONValue {
        var members: [(String, JSONValue)] = [("chain_id", .string(TestChain.chainID))]
        do {
            let verified = try VerifiedTransaction(vector.transaction, chainID: TestChain.chainID)
            members.append(("transaction", verified.json))
        } catch {
            var rejection: [(String, JSONValue)] = [("error", .string(error.code.name))]
            if let wire = error.wireError {
                rejection += [("body_error", .string(wire.code.name)), ("offset", .int(wire.offset))]
            }
            members.append(("rejection", .object(rejection)))
        }
        return .object(members)
    }
}

@Suite("Protocol/vectors/ledger", .serialized)
struct LedgerVectorTests {
    @Test("every transaction type has a vector; the files match the code (MEDLEDGER_WRITE_VECTORS=1 rewrites them)")
    func vectorsMatch() throws {
        let vectors = try LedgerVectors.all()
        let manager = FileManager.default
        if VectorFiles.regenerating {
            try? manager.removeItem(at: LedgerVectors.directory)
            try manager.createDirectory(at: LedgerVectors.directory, withIntermediateDirectories: true)
            for vector in vectors {
                let hex = "# \(vector.summary)\n" + stride(from: 0, to: vector.transaction.canonicalBytes.count, by: 32).map {
                    Hex.encode(vector.transaction.canonicalBytes[$0..<min($0 + 32, vector.transaction.canonicalBytes.count)])
                }.joined(separator: "\n") + "\n"
                try hex.write(to: LedgerVectors.directory.appendingPathComponent(vector.name + ".hex"), atomically: true, encoding: .utf8)
                try (LedgerVectors.render(vector).prettyDescription + "\n").write(
                    to: LedgerVectors.directory.appendingPathComponent(vector.name + ".json"), atomically: true, encoding: .utf8)
            }
        }
        var types = Set<String>()
        for vector in vectors {
            let rendered = LedgerVectors.render(vector)
            if let expected = vector.rejection {
                #expect(rendered["rejection"] == expected, "\(vector.name): \(rendered)")
            } else if case .string(let type)? = rendered["transaction"]?["type"] {
                types.insert(type)
            } else {
                Issue.record("\(vector.name) did not decode: \(rendered)")
            }
            let hex = try String(contentsOf: LedgerVectors.directory.appendingPathComponent(vector.name + ".hex"), encoding: .utf8)
            let digits = hex.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined()
            #expect(Hex.decode(digits) == vector.transaction.canonicalBytes, "\(vector.name).hex")
            let json = try JSONValue(parsing: String(contentsOf: LedgerVectors.directory.appendingPathComponent(vector.name + ".json"), encoding: .utf8))
            #expect(json == rendered, "\(vector.name).json")
        }
        #expect(types == Set(TransactionType.allCases.map(\.name)))
    }

    @Test("every body round-trips through its canonical encoding")
    func roundTrips() throws {
        for vector in try LedgerVectors.all() where vector.rejection == nil {
            let body = try TransactionBody.decode(type: vector.transaction.txType, body: vector.transaction.body)
            #expect(body.canonicalBytes == vector.transaction.body, "\(vector.name)")
        }
    }
}
