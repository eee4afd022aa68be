import MedLedgerCrypto
import Testing

@Test("the version is a semantic version")
func versionIsSemantic() {
    let parts = MedLedgerBuildInfo.version.split(separator: ".")
    #expect(parts.count == 3)
    #expect(parts.allSatisfy { UInt($0) != nil })
}
