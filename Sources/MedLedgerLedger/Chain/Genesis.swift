import MedLedgerCrypto
import MedLedgerWire

/// Rules of the chain fixed at genesis.
public struct LedgerParameters: Hashable, Sendable, WireCodable {
    /// A fetch request must name one of this many most recent block hashes.
    public var fetchRequestWindow: UInt32
    /// Break-glass entries one practitioner may open in any 24 hours of BFT time.
    public var breakGlassPerDay: UInt32
    /// How long a break-glass entry authorises access, in ms of BFT time.
    public var breakGlassValidity: UInt64

    public init(fetchRequestWindow: UInt32 = 100, breakGlassPerDay: UInt32 = 3, breakGlassValidity: UInt64 = 12 * 3_600_000) {
        self.fetchRequestWindow = fetchRequestWindow
        self.breakGlassPerDay = breakGlassPerDay
        self.breakGlassValidity = breakGlassValidity
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(fetchRequestWindow)
        writer.write(breakGlassPerDay)
        writer.write(breakGlassValidity)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        let windowStart = reader.position
        fetchRequestWindow = try reader.readU32("fetch_request_window")
        guard (1...10_000).contains(fetchRequestWindow) else {
            throw reader.error(.valueOutOfRange, at: windowStart, "fetch_request_window must be 1 to 10000 blocks")
        }
        breakGlassPerDay = try reader.readU32("break_glass_per_day")
        breakGlassValidity = try reader.readU64("break_glass_validity")
    }
}

/// The genesis of a chain: its id, its start time, its facilities (the validators) and its rules.
///
/// The file is JSON (Protocol/LEDGER.md section 2) so that people can read and write it; its hash
/// is SHA-256 of the canonical binary encoding, and every node of a chain must hold the same.
public struct Genesis: Hashable, Sendable, WireCodable {
    public var chainID: String
    /// BFT time of height 1, ms.
    public var genesisTime: UInt64
    public var facilities: [Facility]
    public var parameters: LedgerParameters

    public static let maxFacilities = ValidatorSet.maxValidators

    public init(chainID: String, genesisTime: UInt64, facilities: [Facility], parameters: LedgerParameters = .init()) throws(LedgerError) {
        self.chainID = chainID
        self.genesisTime = genesisTime
        self.facilities = facilities
        self.parameters = parameters
        try validate()
    }

    /// Checks what the decoder cannot: distinct keys everywhere, a valid validator set.
    public func validate() throws(LedgerError) {
        guard ChainID.isValid(chainID) else { throw LedgerError(.invalidGenesis, "chain id \(chainID) is not 1-64 of a-z 0-9 - . _") }
        guard !facilities.isEmpty else { throw LedgerError(.invalidGenesis, "genesis needs at least one facility") }
        var keys = Set<Bytes32>()
        for facility in facilities {
            for key in [facility.organisationKey, facility.validatorKey, facility.nodeKey] {
                guard keys.insert(key).inserted else {
                    throw LedgerError(.invalidGenesis, "key \(key.hex) is used twice; every facility key must be distinct")
                }
            }
        }
        _ = try validatorSet
    }

    /// The validators, in facility order.
    public var validatorSet: ValidatorSet {
        get throws(LedgerError) { try ValidatorSet(facilities.map { Validator(key: $0.validatorKey, power: $0.power) }) }
    }

    /// SHA-256 of the canonical encoding: names the chain's beginning (the "block hash" of height 0
    /// for fetch-request freshness).
    public var hash: Bytes32 { Bytes32(SHA256.hash(canonicalBytes).bytes)! }

    public func encode(to writer: inout ByteWriter) {
        writer.write(chainID)
        writer.write(genesisTime)
        writer.writeList(facilities)
        writer.write(parameters)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        chainID = try reader.readChainID()
        genesisTime = try reader.readU64("genesis_time")
        let start = reader.position
        facilities = try reader.readList(max: Self.maxFacilities, "facilities")
        parameters = try LedgerParameters(from: &reader)
        do {
            try validate()
        } catch {
            throw reader.error(.valueOutOfRange, at: start, error.reason)
        }
    }
}

// MARK: JSON

extension Genesis {
    /// The genesis file: pretty JSON, keys and power as documented in Protocol/LEDGER.md section 2.
    public var json: JSONValue {
        .object([
            ("chain_id", .string(chainID)), ("genesis_time", .int(genesisTime)),
            (
                "facilities",
                .array(
                    facilities.map { f in
                        .object([
                            ("name", .string(f.name)), ("kind", .string(f.kind.name)),
                            ("organisation_key", f.organisationKey.json), ("validator_key", f.validatorKey.json),
                            ("node_key", f.nodeKey.json), ("record_key", f.recordKey.json), ("power", .int(f.power)),
                        ])
                    })
            ),
            (
                "parameters",
                .object([
                    ("fetch_request_window", .int(parameters.fetchRequestWindow)),
                    ("break_glass_per_day", .int(parameters.breakGlassPerDay)),
                    ("break_glass_validity_ms", .int(parameters.breakGlassValidity)),
                ])
            ),
        ])
    }

    /// Reads a genesis file, saying which member is wrong when it is.
    public init(json text: String) throws(LedgerError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: text)
        } catch {
            throw LedgerError(.invalidGenesis, "genesis is not valid JSON: \(error)")
        }
        func member(_ object: JSONValue, _ key: String, _ path: String) throws(LedgerError) -> JSONValue {
            guard let found = object[key] else { throw LedgerError(.invalidGenesis, "\(path).\(key) is missing") }
            return found
        }
        func string(_ object: JSONValue, _ key: String, _ path: String) throws(LedgerError) -> String {
            guard case .string(let text) = try member(object, key, path) else {
                throw LedgerError(.invalidGenesis, "\(path).\(key) must be a string")
            }
            return text
        }
        func integer(_ object: JSONValue, _ key: String, _ path: String, max: UInt64 = .max) throws(LedgerError) -> UInt64 {
            guard case .integer(let number) = try member(object, key, path), number >= 0, number <= Int128(max) else {
                throw LedgerError(.invalidGenesis, "\(path).\(key) must be a whole number from 0 to \(max)")
            }
            return UInt64(number)
        }
        func key(_ object: JSONValue, _ name: String, _ path: String) throws(LedgerError) -> Bytes32 {
            guard let key = Bytes32(hex: try string(object, name, path)) else {
                throw LedgerError(.invalidGenesis, "\(path).\(name) must be 64 hex digits")
            }
            return key
        }
        guard case .array(let list) = try member(value, "facilities", "$") else {
            throw LedgerError(.invalidGenesis, "$.facilities must be an array")
        }
        var facilities: [Facility] = []
        for (index, item) in list.enumerated() {
            let path = "$.facilities[\(index)]"
            let kindName = try string(item, "kind", path)
            guard let kind = FacilityKind(name: kindName) else {
                throw LedgerError(
                    .invalidGenesis,
                    "\(path).kind \(kindName) is not one of \(FacilityKind.allCases.map(\.name).joined(separator: ", "))")
            }
            facilities.append(
                Facility(
                    name: try string(item, "name", path), kind: kind,
                    organisationKey: try key(item, "organisation_key", path),
                    validatorKey: try key(item, "validator_key", path), nodeKey: try key(item, "node_key", path),
                    recordKey: try key(item, "record_key", path), power: try integer(item, "power", path)))
        }
        var parameters = LedgerParameters()
        if let p = value["parameters"] {
            parameters = LedgerParameters(
                fetchRequestWindow: UInt32(try integer(p, "fetch_request_window", "$.parameters", max: 10_000)),
                breakGlassPerDay: UInt32(try integer(p, "break_glass_per_day", "$.parameters", max: UInt64(UInt32.max))),
                breakGlassValidity: try integer(p, "break_glass_validity_ms", "$.parameters"))
        }
        try self.init(
            chainID: try string(value, "chain_id", "$"), genesisTime: try integer(value, "genesis_time", "$"),
            facilities: facilities, parameters: parameters)
    }
}
