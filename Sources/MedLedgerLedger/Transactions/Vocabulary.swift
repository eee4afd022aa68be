import MedLedgerWire

/// Why data is used: the purposes of use a consent names (after FHIR Consent.provision.purpose).
public enum Purpose: UInt8, Sendable, CaseIterable, Comparable {
    case treatment = 1
    case emergency = 2
    case research = 3
    case insurance = 4
    case payment = 5

    public var name: String {
        switch self {
        case .treatment: "treatment"
        case .emergency: "emergency"
        case .research: "research"
        case .insurance: "insurance"
        case .payment: "payment"
        }
    }

    public var bit: UInt8 { 1 << (rawValue - 1) }

    public static func < (a: Purpose, b: Purpose) -> Bool { a.rawValue < b.rawValue }
}

/// A set of purposes, encoded as a `u8` bit set (bit `p - 1` for purpose code `p`).
public struct Purposes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ purposes: [Purpose]) { rawValue = purposes.reduce(0) { $0 | $1.bit } }

    public func contains(_ purpose: Purpose) -> Bool { rawValue & purpose.bit != 0 }
    public var members: [Purpose] { Purpose.allCases.filter { contains($0) } }
    /// Every bit a purpose uses.
    public static let known = Purposes(Purpose.allCases)
}

/// What a consent lets the grantee do.
public struct Actions: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = Actions(rawValue: 1)
    public static let write = Actions(rawValue: 2)
    public static let known: Actions = [.read, .write]

    public var names: [String] {
        (contains(.read) ? ["read"] : []) + (contains(.write) ? ["write"] : [])
    }
}

/// A practitioner's roles, encoded as a `u32` bit set.
public struct Roles: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let physician = Roles(rawValue: 1 << 0)
    public static let nurse = Roles(rawValue: 1 << 1)
    public static let dentist = Roles(rawValue: 1 << 2)
    public static let labTechnician = Roles(rawValue: 1 << 3)
    public static let pharmacist = Roles(rawValue: 1 << 4)
    public static let administrative = Roles(rawValue: 1 << 5)
    /// May open emergency (break-glass) access.
    public static let breakGlass = Roles(rawValue: 1 << 8)
    public static let known: Roles = [.physician, .nurse, .dentist, .labTechnician, .pharmacist, .administrative, .breakGlass]

    public var names: [String] {
        let table: [(Roles, String)] = [
            (.physician, "physician"), (.nurse, "nurse"), (.dentist, "dentist"), (.labTechnician, "lab_technician"),
            (.pharmacist, "pharmacist"), (.administrative, "administrative"), (.breakGlass, "break_glass"),
        ]
        return table.filter { contains($0.0) }.map(\.1)
    }
}

/// Kinds of care facility (validators).
public enum FacilityKind: UInt8, Sendable, CaseIterable {
    case hospital = 1
    case dentalClinic = 2
    case laboratory = 3
    case familyPractice = 4
    case pharmacy = 5
    case other = 6

    public var name: String {
        switch self {
        case .hospital: "hospital"
        case .dentalClinic: "dental_clinic"
        case .laboratory: "laboratory"
        case .familyPractice: "family_practice"
        case .pharmacy: "pharmacy"
        case .other: "other"
        }
    }

    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }
}

/// Kinds of organisation that are clients, never validators.
public enum OrganisationKind: UInt8, Sendable, CaseIterable {
    case research = 1
    case pharma = 2
    case insurer = 3
    case publicHealth = 4
    case other = 5

    public var name: String {
        switch self {
        case .research: "research"
        case .pharma: "pharma"
        case .insurer: "insurer"
        case .publicHealth: "public_health"
        case .other: "other"
        }
    }
}

/// How a delegate is related to the patient.
public enum DelegateRelation: UInt8, Sendable, CaseIterable {
    case parent = 1
    case guardian = 2
    case spouse = 3
    case proxy = 4

    public var name: String {
        switch self {
        case .parent: "parent"
        case .guardian: "guardian"
        case .spouse: "spouse"
        case .proxy: "proxy"
        }
    }
}

/// A record's data key sealed with HPKE (X25519, HKDF-SHA256, AES-256-GCM) to one recipient.
public struct WrappedKey: Hashable, Sendable, WireCodable {
    /// HPKE's encapsulated key.
    public var encapsulatedKey: Bytes32
    /// The sealed 32-byte data key: ciphertext and tag, 48 bytes.
    public var sealedKey: [UInt8]

    public static let sealedKeyCount = 48

    public init(encapsulatedKey: Bytes32, sealedKey: [UInt8]) {
        precondition(sealedKey.count == Self.sealedKeyCount, "a sealed data key is 48 bytes")
        self.encapsulatedKey = encapsulatedKey
        self.sealedKey = sealedKey
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(encapsulatedKey)
        writer.writeRaw(sealedKey)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        encapsulatedKey = try Bytes32(from: &reader)
        sealedKey = try reader.readFixed(Self.sealedKeyCount, "sealed_key")
    }
}

/// What a write or read relies on: a consent, or an emergency break-glass entry.
public enum Authority: Hashable, Sendable, WireCodable {
    case consent(Bytes32)
    case breakGlass(Bytes32)

    public var id: Bytes32 {
        switch self {
        case .consent(let id), .breakGlass(let id): id
        }
    }

    public func encode(to writer: inout ByteWriter) {
        switch self {
        case .consent(let id):
            writer.write(UInt8(1))
            writer.write(id)
        case .breakGlass(let id):
            writer.write(UInt8(2))
            writer.write(id)
        }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        let start = reader.position
        switch try reader.readU8("authority kind") {
        case 1: self = .consent(try Bytes32(from: &reader))
        case 2: self = .breakGlass(try Bytes32(from: &reader))
        case let other: throw reader.error(.unknownEnum, at: start, "authority kind \(other) is not defined")
        }
    }
}

/// Which records a consent covers.
public enum ConsentScope: Hashable, Sendable, WireCodable {
    /// Every record of the patient, present and future.
    case allRecords
    /// Records whose category or FHIR resource type is one of these (sorted, distinct).
    case categories([String])
    /// These records only (sorted, distinct).
    case records([Bytes32])

    public static let maxCategories = 32
    public static let maxRecords = 64
    public static let maxCategoryLength = 64

    public func encode(to writer: inout ByteWriter) {
        switch self {
        case .allRecords:
            writer.write(UInt8(1))
        case .categories(let categories):
            writer.write(UInt8(2))
            writer.write(UInt32(categories.count))
            for category in categories { writer.write(category) }
        case .records(let records):
            writer.write(UInt8(3))
            writer.writeList(records)
        }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        let start = reader.position
        switch try reader.readU8("scope kind") {
        case 1:
            self = .allRecords
        case 2:
            let countStart = reader.position
            let count = try reader.readU32("count of categories")
            guard count <= Self.maxCategories else {
                throw reader.error(.countExceedsLimit, at: countStart, "at most \(Self.maxCategories) categories")
            }
            guard count > 0 else { throw reader.error(.valueOutOfRange, at: countStart, "a category scope names at least one") }
            var categories: [String] = []
            categories.reserveCapacity(Int(count))
            for _ in 0..<count {
                let elementStart = reader.position
                let category = try reader.readString(max: Self.maxCategoryLength, "category")
                if let last = categories.last, !last.utf8.lexicographicallyPrecedes(category.utf8) {
                    throw reader.error(.nonCanonical, at: elementStart, "categories must be sorted and distinct")
                }
                categories.append(category)
            }
            self = .categories(categories)
        case 3:
            let countStart = reader.position
            let records: [Bytes32] = try reader.readList(max: Self.maxRecords, "records") { $0 < $1 }
            guard !records.isEmpty else { throw reader.error(.valueOutOfRange, at: countStart, "a record scope names at least one") }
            self = .records(records)
        case let other:
            throw reader.error(.unknownEnum, at: start, "scope kind \(other) is not defined")
        }
    }

    /// Whether a record of `category` and `resourceType` with id `record` is covered.
    public func covers(record: Bytes32, category: String, resourceType: String) -> Bool {
        switch self {
        case .allRecords: true
        case .categories(let list): list.contains(category) || list.contains(resourceType)
        case .records(let list): list.contains(record)
        }
    }
}
