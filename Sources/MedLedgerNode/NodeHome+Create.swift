import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

extension NodeHome {
    /// Creates a new home at `path`: fresh keys, `config.json` and `facility.json` (no genesis:
    /// that comes from the network, or from `medledger testnet`).
    ///
    /// Key files are written by ``KeyFile`` with mode 0600 in a `keys/` directory of mode 0700. The
    /// node, validator and record keys are unsealed, since the node loads them unattended
    /// (Protocol/KEYS.md section 1); the organisation key is sealed when
    /// `organisationKeyProtection` says so, as KEYS.md advises for a key that can be kept offline.
    ///
    /// - Parameters:
    ///   - path: a directory that does not exist yet, or is empty.
    ///   - p2pAddress: where other facilities reach this node, for the facility card.
    ///   - config: the settings to write; its moniker becomes `name` and its chain id `chainID`.
    /// - Throws: ``NodeConfigError`` `.homeExists` if anything is at `path` already (nothing is
    ///   ever overwritten); `.invalidValue` for a bad argument, before anything is written.
    @discardableResult
    public static func create(
        at path: String, name: String, kind: FacilityKind, chainID: String = NodeConfig.defaultChainID,
        power: UInt64 = 10, p2pAddress: HostPort? = nil, config: NodeConfig = NodeConfig(),
        organisationKeyProtection: KeyFile.Protection = .none
    ) throws(NodeConfigError) -> NodeHome {
        let home = NodeHome(path)
        guard !name.isEmpty, name.utf8.count <= RegisterPractitioner.maxNameLength else {
            throw NodeConfigError(
                .invalidValue, source: "name", value: name,
                problem: "a facility name is 1 to \(RegisterPractitioner.maxNameLength) bytes",
                fix: "give the facility's name, for example \"St Mary's Hospital\"")
        }
        guard power > 0, power <= UInt64(Int64.max) / UInt64(Genesis.maxFacilities) else {
            throw NodeConfigError(
                .invalidValue, source: "power", value: String(power), problem: "voting power is out of range",
                fix: "give a power from 1 to \(UInt64(Int64.max) / UInt64(Genesis.maxFacilities)) (10 is usual)")
        }
        var config = config
        config.moniker = String(decoding: name.utf8.prefix(NodeConfig.Bounds.monikerLength.upperBound), as: UTF8.self)
        config.chainID = chainID
        do {
            try config.validate()
        } catch {
            var located = error
            located.source = error.member == "chain_id" ? "chain id" : "configuration"
            throw located
        }
        if let p2pAddress, p2pAddress.port == 0 {
            throw NodeConfigError(
                .invalidValue, source: "p2p address", value: p2pAddress.description,
                problem: "other facilities cannot dial port 0", fix: "give the host:port other facilities reach this node at")
        }
        let createdRoot = try home.claimDirectory()
        do {
            try home.populate(
                name: name, kind: kind, chainID: chainID, power: power, p2pAddress: p2pAddress, config: config,
                organisationKeyProtection: organisationKeyProtection)
        } catch {
            home.removeCreatedTree(keepingRoot: !createdRoot)
            throw error
        }
        return home
    }

    /// Makes the home directory, or accepts an empty one (a container's mount point). Returns
    /// whether it made the directory.
    private func claimDirectory() throws(NodeConfigError) -> Bool {
        let fs = PosixFileSystem()
        var info = stat()
        if lstat(path, &info) == 0 {
            let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            let entries = isDirectory ? ((try? fs.list(path)) ?? ["?"]) : ["?"]
            guard isDirectory, entries.isEmpty else {
                throw NodeConfigError(
                    .homeExists, source: path,
                    problem: isDirectory ? "a directory that is not empty is already here" : "a file is already here",
                    fix: "choose another --home directory, or delete this one if you are sure nothing in it is needed "
                        + "(keys cannot be made again)")
            }
            return false
        } else {
            do {
                try fs.createDirectoryDurably(path)
            } catch {
                throw NodeConfigError(
                    .io, source: path, problem: "cannot create the directory: \(error.message)",
                    fix: "check that the parent directory exists and is writable")
            }
            return true
        }
    }

    private func populate(
        name: String, kind: FacilityKind, chainID: String, power: UInt64, p2pAddress: HostPort?, config: NodeConfig,
        organisationKeyProtection: KeyFile.Protection
    ) throws(NodeConfigError) {
        let fs = PosixFileSystem()
        for directory in [keysDirectory, dataDirectory] {
            do {
                try fs.createDirectoryDurably(directory)
            } catch {
                throw NodeConfigError(
                    .io, source: directory, problem: "cannot create the directory: \(error.message)",
                    fix: "check that \(path) is writable")
            }
        }
        // mkdir's mode was 0700, but a umask could only have removed bits; say so if it did.
        guard chmod(keysDirectory, 0o700) == 0 else {
            throw NodeConfigError(
                .io, source: keysDirectory, problem: "cannot set mode 0700", fix: "check the directory's owner")
        }
        let label = Self.commentLabel(name)
        let nodeKey = Ed25519.PrivateKey()
        let validatorKey = Ed25519.PrivateKey()
        let organisationKey = Ed25519.PrivateKey()
        let recordKey = X25519.PrivateKey()
        try writeKey(.ed25519(nodeKey), nodeKeyPath, comment: "node key (transport), \(label)")
        try writeKey(.ed25519(validatorKey), validatorKeyPath, comment: "validator key, \(label)")
        try writeKey(
            .ed25519(organisationKey), organisationKeyPath, comment: "organisation key, \(label)",
            protection: organisationKeyProtection)
        try writeKey(.x25519(recordKey), recordKeyPath, comment: "record key, \(label)")
        try writeConfig(config)
        let card = FacilityCard(
            chainID: chainID, name: name, kind: kind, organisationKey: Bytes32(organisationKey.publicKey.bytes)!,
            validatorKey: Bytes32(validatorKey.publicKey.bytes)!, nodeKey: Bytes32(nodeKey.publicKey.bytes)!,
            recordKey: Bytes32(recordKey.publicKey.bytes)!, power: power, p2pAddress: p2pAddress)
        try writeFile(facilityCardPath, NodeJSON.encode(card))
    }

    private func writeKey(
        _ key: KeyFile.PrivateKey, _ path: String, comment: String, protection: KeyFile.Protection = .none
    ) throws(NodeConfigError) {
        do {
            try KeyFile.write(key, to: path, protection: protection, comment: comment)
        } catch let error as CryptoError {
            throw NodeConfigError(
                .keyFile, source: path, problem: "cannot write the key: \(error.message)",
                fix: "check that \(keysDirectory) is writable")
        } catch {
            throw NodeConfigError(.keyFile, source: path, problem: "cannot write the key: \(error)", fix: "")
        }
    }

    /// The facility name as a key file comment: printable ASCII, at most 100 bytes, no edge spaces.
    static func commentLabel(_ name: String) -> String {
        let ascii = name.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" }
        let label = String(ascii.prefix(100)).trimmingSpaces()
        return label.isEmpty ? "facility" : label
    }

    /// Removes what ``create(at:name:kind:chainID:power:p2pAddress:config:organisationKeyProtection:)``
    /// wrote, after a failure part-way (the directory was empty or new, so everything in it is ours).
    private func removeCreatedTree(keepingRoot: Bool) {
        let fs = PosixFileSystem()
        func remove(_ path: String, keep: Bool) {
            if let names = try? fs.list(path) {
                for name in names { remove(Path.join(path, name), keep: false) }
                if !keep { rmdir(path) }
            } else {
                unlink(path)
            }
        }
        remove(path, keep: keepingRoot)
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}
