import MedLedgerLedger
import MedLedgerWire

/// A facility's public card, `facility.json`: what the other facilities need to put it in the
/// genesis and to reach it. It holds public keys only, so it can be mailed around.
///
/// ```json
/// { "version": 1, "chain_id": "medledger-local", "name": "General Hospital", "kind": "hospital",
///   "organisation_key": "<64 hex>", "validator_key": "<64 hex>", "node_key": "<64 hex>",
///   "record_key": "<64 hex>", "power": 10, "p2p_address": "hospital.example:26656" }
/// ```
///
/// The members from `name` to `power` are those of a genesis facility (Protocol/LEDGER.md
/// section 2); `p2p_address` (or null) is where other nodes dial this one.
public struct FacilityCard: Sendable, Hashable {
    public static let currentVersion = 1

    public var chainID: String
    public var name: String
    public var kind: FacilityKind
    public var organisationKey: Bytes32
    public var validatorKey: Bytes32
    public var nodeKey: Bytes32
    public var recordKey: Bytes32
    public var power: UInt64
    public var p2pAddress: HostPort?

    public init(
        chainID: String, name: String, kind: FacilityKind, organisationKey: Bytes32, validatorKey: Bytes32,
        nodeKey: Bytes32, recordKey: Bytes32, power: UInt64, p2pAddress: HostPort?
    ) {
        self.chainID = chainID
        self.name = name
        self.kind = kind
        self.organisationKey = organisationKey
        self.validatorKey = validatorKey
        self.nodeKey = nodeKey
        self.recordKey = recordKey
        self.power = power
        self.p2pAddress = p2pAddress
    }

    /// The genesis facility this card describes.
    public var facility: Facility {
        Facility(
            name: name, kind: kind, organisationKey: organisationKey, validatorKey: validatorKey, nodeKey: nodeKey,
            recordKey: recordKey, power: power)
    }

    /// Where to dial this facility's node, if the card says.
    public var peerAddress: PeerAddress? { p2pAddress.map { PeerAddress(nodeKey: nodeKey, address: $0) } }
}

extension FacilityCard: Codable {
    static let members = [
        "version", "chain_id", "name", "kind", "organisation_key", "validator_key", "node_key", "record_key", "power",
        "p2p_address",
    ]

    public init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, members: Self.members)
        let version = try object.require(Int.self, "version")
        guard version == Self.currentVersion else {
            throw NodeConfigError(
                .unsupportedVersion, member: "version", value: String(version),
                problem: "this medledger reads facility cards of version \(Self.currentVersion) only",
                fix: "ask for the card again from a matching medledger release")
        }
        func key(_ name: String) throws -> Bytes32 {
            let text = try object.require(String.self, name)
            guard text.utf8.count == 64, let key = Bytes32(hex: text) else {
                throw NodeConfigError(
                    .invalidValue, member: name, value: text, problem: "not 64 hex digits",
                    fix: "restore the card as `medledger init` wrote it")
            }
            return key
        }
        chainID = try object.require(String.self, "chain_id")
        name = try object.require(String.self, "name")
        let kindName = try object.require(String.self, "kind")
        guard let kind = FacilityKind(name: kindName) else {
            throw NodeConfigError(
                .invalidValue, member: "kind", value: kindName, problem: "not a facility kind",
                fix: "use one of \(FacilityKind.allCases.map(\.name).joined(separator: ", "))")
        }
        self.kind = kind
        organisationKey = try key("organisation_key")
        validatorKey = try key("validator_key")
        nodeKey = try key("node_key")
        recordKey = try key("record_key")
        power = try object.requireCount("power")
        guard power > 0 else {
            throw NodeConfigError(
                .invalidValue, member: "power", value: "0", problem: "voting power must be positive", fix: "give 1 or more")
        }
        p2pAddress = try object.optional(HostPort.self, "p2p_address")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ConfigKey.self)
        try container.encode(Self.currentVersion, forKey: ConfigKey("version"))
        try container.encode(chainID, forKey: ConfigKey("chain_id"))
        try container.encode(name, forKey: ConfigKey("name"))
        try container.encode(kind.name, forKey: ConfigKey("kind"))
        try container.encode(organisationKey.hex, forKey: ConfigKey("organisation_key"))
        try container.encode(validatorKey.hex, forKey: ConfigKey("validator_key"))
        try container.encode(nodeKey.hex, forKey: ConfigKey("node_key"))
        try container.encode(recordKey.hex, forKey: ConfigKey("record_key"))
        try container.encode(power, forKey: ConfigKey("power"))
        if let p2pAddress {
            try container.encode(p2pAddress, forKey: ConfigKey("p2p_address"))
        } else {
            try container.encodeNil(forKey: ConfigKey("p2p_address"))
        }
    }
}
