import ArgumentParser
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

/// `medledger demo`: a patient's consent-and-records story, end to end, on four facilities.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the consent-and-records story on four facilities (in one process, for now).",
        discussion: """
            Four facilities (a hospital, a dental clinic, a lab and a family practice) run the ledger: every
            block is checked by each validator, certified by their precommits and written to a segment log.
            A patient registers, grants and revokes consents, records are encrypted end to end, a research
            organisation is refused and then granted access, an emergency read is flagged, and the audit
            trail shows every step. The networked cluster (one node per facility) arrives with the node.
            """
    )

    @Option(help: "Keep the chain in this directory (default: a temporary one, removed at the end).")
    var dir: String?

    func run() throws {
        let directory = dir ?? "/tmp/medledger-demo-\(getpid())"
        defer { if dir == nil { _ = try? removeTree(directory) } }
        var story = DemoStory(directory: directory)
        try story.run()
        if dir != nil {
            print("\nInspect it: medledger-inspect log ls \(directory)   (and: log verify, log dump)")
        }
    }
}

/// Removes a directory tree (the demo's temporary chain).
private func removeTree(_ path: String) throws {
    let fs = PosixFileSystem()
    guard fs.exists(path) else { return }
    for name in (try? fs.list(path)) ?? [] {
        let child = Path.join(path, name)
        if (try? fs.list(child)) != nil { try removeTree(child) } else { try fs.remove(child) }
    }
    rmdir(path)
}

struct DemoStory {
    let directory: String
    let hospital = DemoFacility("General Hospital", kind: .hospital)
    let dental = DemoFacility("Smile Dental Clinic", kind: .dentalClinic)
    let lab = DemoFacility("City Diagnostic Lab", kind: .laboratory)
    let practice = DemoFacility("Elm Street Family Practice", kind: .familyPractice)
    let alice = DemoParty("Alice (patient)")
    let ortiz = DemoParty("Dr. Ada Ortiz, emergency physician")
    let dentist = DemoParty("Dr. Sam Lee, dentist")
    let labTech = DemoParty("Lee Chan, lab technician")
    let research = DemoParty("North Research Institute")
    var ciphertexts: [Bytes32: [UInt8]] = [:]
    var step = 0

    init(directory: String) { self.directory = directory }

    func short(_ key: Bytes32) -> String { String(key.hex.prefix(8)) + "…" }

    mutating func say(_ title: String) {
        step += 1
        print("\n\(step). \(title)")
    }

    func detail(_ text: String) { print("   " + text) }

    mutating func run() throws {
        var chain = try LocalChain(facilities: [hospital, dental, lab, practice], directory: directory)
        let id = chain.chainID
        print("MedLedger demo: four facilities run chain \(id); blocks are written to \(directory)")
        print("(each block is checked by every validator and certified by more than 2/3 of their votes)")

        say("Facilities register their people")
        let height1 = try chain.commit([
            hospital.organisation.sign(.registerPractitioner(RegisterPractitioner(practitioner: ortiz.key, encryptionKey: ortiz.box, roles: [.physician, .breakGlass], displayName: ortiz.name)), chainID: id),
            dental.organisation.sign(.registerPractitioner(RegisterPractitioner(practitioner: dentist.key, encryptionKey: dentist.box, roles: [.dentist], displayName: dentist.name)), chainID: id),
            lab.organisation.sign(.registerPractitioner(RegisterPractitioner(practitioner: labTech.key, encryptionKey: labTech.box, roles: [.labTechnician], displayName: labTech.name)), chainID: id),
            hospital.organisation.sign(.registerOrganisation(RegisterOrganisation(organisation: research.key, encryptionKey: research.box, kind: .research, name: research.name)), chainID: id),
        ])
        detail("\(hospital.facility.name) registers \(ortiz.name) (break-glass allowed) and \(research.name)")
        detail("\(dental.facility.name) registers \(dentist.name); \(lab.facility.name) registers \(labTech.name)")
        detail("block \(height1) committed")

        say("Alice registers at \(hospital.facility.name), under a pseudonymous key \(short(alice.key))")
        let attestation = hospital.organisation.signing.signature(
            for: .patientAttestation, chainID: id, message: RegisterPatient.attestedBytes(patient: alice.key, encryptionKey: alice.box))
        try chain.commit([
            alice.sign(.registerPatient(RegisterPatient(encryptionKey: alice.box, facility: hospital.organisation.key, attestation: Bytes64(attestation.bytes)!)), chainID: id)
        ])
        detail("the hospital attests the registration; validators see a key, never her name")

        say("Alice grants consents")
        let yearFromNow = chain.state.lastBlockTime + 365 * 86_400_000
        let dentalConsent = alice.sign(.grantConsent(GrantConsent(patient: alice.key, grantee: dental.organisation.key, actions: [.read, .write], purposes: Purposes([.treatment]), scope: .categories(["dental"]), start: 0, expiry: yearFromNow)), chainID: id)
        let labConsent = alice.sign(.grantConsent(GrantConsent(patient: alice.key, grantee: lab.organisation.key, actions: [.read, .write], purposes: Purposes([.treatment]), scope: .categories(["laboratory"]), start: 0, expiry: nil)), chainID: id)
        try chain.commit([dentalConsent, labConsent])
        detail("\(dental.facility.name): read and write dental records, for treatment, for one year")
        detail("\(lab.facility.name): read and write laboratory results, for treatment, until revoked")

        say("Records are added, encrypted end to end")
        let xray = try addRecord(&chain, "bitewing x-ray: no caries, filling on 36 intact", author: dentist, at: dental, category: "dental", type: "ImagingStudy", consent: dentalConsent.id)
        let panel = try addRecord(&chain, "HbA1c 5.4 %, LDL 2.9 mmol/l", author: labTech, at: lab, category: "laboratory", type: "DiagnosticReport", consent: labConsent.id)
        try chain.commit([xray.transaction, panel.transaction])
        detail("each record is sealed under its own AES-256-GCM key, padded to a size bucket; the key is")
        detail("wrapped with HPKE for Alice and the custodian. The chain holds only the anchors.")

        say("Alice's timeline across facilities, decrypted with her own key")
        for anchor in try chain.state.timeline(patient: alice.key, requester: alice.key).items {
            let key = try RecordCrypto.unwrap(anchor.entry.keyForPatient, with: alice.encryption, record: anchor.entry.record)
            let text = String(decoding: try RecordCrypto.decrypt(ciphertexts[anchor.entry.record]!, dataKey: key, record: anchor.entry.record), as: UTF8.self)
            let custodian = chain.state.facility(anchor.entry.custodian)?.name ?? "?"
            detail("\(anchor.entry.resourceType) at \(custodian) (\(anchor.entry.paddedSize / 1024) KiB bucket): \"\(text)\"")
        }

        say("\(research.name) asks \(lab.facility.name) for the lab result")
        let early = fetchRequest(chain, research, record: panel.record, custodian: lab, purpose: .research, authority: .consent(labConsent.id))
        let refusal = chain.state.readFailure(request: early, anchor: chain.state.record(panel.record)!, context: BlockContext(height: chain.state.height + 1, time: chain.state.lastBlockTime))
        try chain.commit([lab.organisation.sign(.accessEntry(AccessEntry(request: early, outcome: .refused(code: refusal?.code.rawValue ?? 0, note: "no research consent"))), chainID: id)])
        detail("refused (\(refusal?.code.name ?? "?")): no consent of Alice covers the institute; the refusal is on the chain too")

        say("Alice grants a research consent for laboratory results; the read goes through")
        let researchConsent = alice.sign(.grantConsent(GrantConsent(patient: alice.key, grantee: research.key, actions: [.read], purposes: Purposes([.research]), scope: .categories(["laboratory"]), start: 0, expiry: nil)), chainID: id)
        try chain.commit([researchConsent])
        let granted = fetchRequest(chain, research, record: panel.record, custodian: lab, purpose: .research, authority: .consent(researchConsent.id))
        try chain.commit([try grantAccess(chain, granted, by: lab)])
        let access = chain.state.access(LedgerState.accessID(granted))!
        if case .granted(let wrapped) = access.entry.outcome {
            let key = try RecordCrypto.unwrap(wrapped, with: research.encryption, record: panel.record)
            let text = String(decoding: try RecordCrypto.decrypt(ciphertexts[panel.record]!, dataKey: key, record: panel.record), as: UTF8.self)
            detail("the access entry is committed at height \(access.height); only then can the institute open the key: \"\(text)\"")
        }

        say("Alice revokes the dental clinic's consent")
        try chain.commit([alice.sign(.revokeConsent(RevokeConsent(patient: alice.key, consent: dentalConsent.id)), chainID: id)])
        let late = fetchRequest(chain, dentist, record: xray.record, custodian: dental, purpose: .treatment, authority: .consent(dentalConsent.id))
        do {
            try chain.commit([try grantAccess(chain, late, by: dental)])
            detail("unexpected: the read went through")
        } catch let error as LedgerError {
            detail("the clinic's next access entry is invalid, and no validator accepts it: \(error.code.name)")
        }

        say("Emergency: \(ortiz.name) opens break-glass access at \(lab.facility.name)")
        let breakGlass = ortiz.sign(.breakGlass(BreakGlass(patient: alice.key, custodian: lab.organisation.key, reason: "unconscious in A&E, diabetic history unknown")), chainID: id)
        try chain.commit([breakGlass])
        let emergency = fetchRequest(chain, ortiz, record: panel.record, custodian: lab, purpose: .emergency, authority: .breakGlass(breakGlass.id))
        try chain.commit([try grantAccess(chain, emergency, by: lab)])
        detail("allowed for a role that may, rate-limited, and flagged in Alice's audit trail")

        say("Alice's audit trail: every grant, revocation, record, access, refusal and emergency")
        for event in try chain.state.auditTrail(patient: alice.key, requester: alice.key).items {
            let who = name(of: event.actor, in: chain.state)
            let extra = event.kind == .accessRefused ? " (\(LedgerError.Code(rawValue: event.detail)?.name ?? "?"))" : ""
            detail("#\(event.sequence) height \(event.height): \(event.kind.name)\(extra) by \(who)")
        }

        say("The chain on disk")
        let log = chain.log
        var certificates = 0
        for height in 1...log.lastHeight {
            let block = try log.read(height: height)
            try chain.state.validators.verify(block.commit, height: height, blockHash: block.block.header.hash, chainID: id)
            certificates += 1
        }
        detail("\(log.lastHeight) blocks in \(log.segmentPaths.count) segment file(s); every block re-read, its CRC and its")
        detail("commit certificate verified against the genesis validators (\(certificates) of \(certificates))")
        var state = chain.state
        detail("state root \(state.stateRoot.hex)")
        log.close()
    }

    mutating func addRecord(
        _ chain: inout LocalChain, _ contents: String, author: DemoParty, at custodian: DemoFacility, category: String,
        type: String, consent: Bytes32
    ) throws -> (transaction: Transaction, record: Bytes32) {
        let record = Bytes32(secureRandomBytes(32))!
        let sealed = try RecordCrypto.encrypt(Array(contents.utf8), record: record)
        ciphertexts[record] = sealed.ciphertext
        let body = AddRecord(
            record: record, patient: alice.key, custodian: custodian.organisation.key, category: category, resourceType: type,
            ciphertextHash: sealed.ciphertextHash, paddedSize: sealed.paddedSize, created: chain.state.lastBlockTime,
            keyForPatient: try RecordCrypto.wrap(sealed.dataKey, for: alice.box, record: record),
            keyForCustodian: try RecordCrypto.wrap(sealed.dataKey, for: custodian.facility.recordKey, record: record),
            authority: .consent(consent))
        return (author.sign(.addRecord(body), chainID: chain.chainID), record)
    }

    func fetchRequest(
        _ chain: LocalChain, _ requester: DemoParty, record: Bytes32, custodian: DemoFacility, purpose: Purpose, authority: Authority
    ) -> FetchRequest {
        var request = FetchRequest(
            record: record, custodian: custodian.organisation.key, requester: requester.key, purpose: purpose, authority: authority,
            nonce: Bytes32(secureRandomBytes(32))!, recentBlockHash: chain.state.lastBlockHash, encryptionKey: requester.box,
            signature: Bytes64(repeating: 0))
        request.signature = Bytes64(requester.signing.signature(for: .fetchRequest, chainID: chain.chainID, message: request.signedBytes).bytes)!
        return request
    }

    /// The custodian opens its own copy of the data key and wraps it for the requester.
    func grantAccess(_ chain: LocalChain, _ request: FetchRequest, by custodian: DemoFacility) throws -> Transaction {
        let anchor = chain.state.record(request.record)!
        let key = try RecordCrypto.unwrap(anchor.entry.keyForCustodian, with: custodian.organisation.encryption, record: request.record)
        let wrapped = try RecordCrypto.wrap(key, for: request.encryptionKey, record: request.record)
        return custodian.organisation.sign(.accessEntry(AccessEntry(request: request, outcome: .granted(wrapped))), chainID: chain.chainID)
    }

    func name(of key: Bytes32, in state: LedgerState) -> String {
        if let facility = state.facility(key) { return facility.name }
        if let practitioner = state.practitioner(key) { return practitioner.displayName }
        if let organisation = state.organisation(key) { return organisation.name }
        if state.patient(signingKey: key) != nil || state.patient(key) != nil { return "Alice" }
        return short(key)
    }
}
