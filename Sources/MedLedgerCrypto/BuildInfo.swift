/// Facts about this build of MedLedger that every executable reports the same way.
///
/// It lives in MedLedgerCrypto because that is the lowest module every product links.
public enum MedLedgerBuildInfo {
    /// The MedLedger release version, printed by `--version` of every executable.
    public static let version = "0.1.0"
}
