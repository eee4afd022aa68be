#if canImport(Glibc)
    import Glibc
#endif
import Dispatch

/// One signature to check: who signed, what, for which domain and chain.
public struct SignatureCheck: Sendable {
    public var publicKey: Ed25519.PublicKey
    public var signature: Ed25519.Signature
    public var domain: SigningDomain
    public var chainID: String
    public var message: [UInt8]

    public init(
        publicKey: Ed25519.PublicKey, signature: Ed25519.Signature, domain: SigningDomain, chainID: String,
        message: [UInt8]
    ) {
        self.publicKey = publicKey
        self.signature = signature
        self.domain = domain
        self.chainID = chainID
        self.message = message
    }

    /// Whether this one signature verifies (remembered in ``VerificationCache/shared``).
    public var isValid: Bool { isValid(cache: .shared) }

    public func isValid(cache: VerificationCache?) -> Bool {
        publicKey.isValidSignature(signature, for: domain, chainID: chainID, message: message, cache: cache)
    }
}

/// Verifies many Ed25519 signatures across the cores, reporting which ones failed.
///
/// Each signature is checked on its own (no batch-equation shortcut), so a result says exactly
/// which signatures are bad. Small batches run on the calling thread: spreading them costs more
/// than it saves.
public enum BatchVerifier {
    /// Below this many signatures the batch is checked sequentially.
    public static let defaultParallelThreshold = 32

    /// The outcome of a batch.
    public struct Result: Hashable, Sendable {
        /// Indices (into the batch) of the signatures that did not verify, ascending.
        public var failures: [Int]

        public init(failures: [Int]) { self.failures = failures }

        /// Whether every signature verified.
        public var allValid: Bool { failures.isEmpty }
    }

    /// Checks every signature in `checks`.
    ///
    /// - Parameters:
    ///   - parallelThreshold: batches smaller than this are checked on the calling thread.
    ///   - workers: how many threads to spread a large batch over; defaults to the active cores.
    ///   - cache: where successes are remembered; nil checks every signature (benchmarks).
    public static func verify(
        _ checks: [SignatureCheck], parallelThreshold: Int = defaultParallelThreshold,
        workers: Int = ProcessInfoCores.active, cache: VerificationCache? = .shared
    ) -> Result {
        if checks.count < parallelThreshold || workers <= 1 {
            return Result(failures: checks.indices.filter { !checks[$0].isValid(cache: cache) })
        }
        let valid = UnsafeMutableBufferPointer<Bool>.allocate(capacity: checks.count)
        valid.initialize(repeating: false)
        defer { valid.deallocate() }
        // Each worker writes only its own stride of indices, so the writes never overlap.
        nonisolated(unsafe) let results = valid
        let chunks = Swift.min(workers * 4, checks.count)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var index = chunk
            while index < checks.count {
                results[index] = checks[index].isValid(cache: cache)
                index += chunks
            }
        }
        return Result(failures: valid.indices.filter { !valid[$0] })
    }
}

/// The number of cores this process may use.
public enum ProcessInfoCores {
    /// Active processors, at least 1.
    public static var active: Int {
        #if canImport(Glibc)
            return Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
            return 1
        #endif
    }
}
