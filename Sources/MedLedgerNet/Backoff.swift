/// Exponential backoff with jitter for redialling a configured peer.
///
/// Attempt `n` (from 0) waits `min(maximum, initial × multiplier^n)`, reduced by a random fraction
/// of up to `jitter` of itself, so that nodes restarted together do not redial in lock step.
public struct Backoff: Hashable, Sendable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    /// Between 0 (no jitter) and 1 (anywhere from zero to the full delay).
    public var jitter: Double

    public init(initial: Duration, maximum: Duration, multiplier: Double = 2, jitter: Double = 0.5) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The default: 0.5 s doubling up to 30 s, up to half of each delay taken off at random.
    public static let `default` = Backoff(initial: .milliseconds(500), maximum: .seconds(30))

    /// The delay before attempt `attempt`, with `unit` a random number in `0..<1`.
    public func delay(attempt: Int, unit: Double) -> Duration {
        let cap = maximum.seconds
        var base = initial.seconds
        var step = 0
        while step < attempt, base < cap {
            base *= multiplier
            step += 1
        }
        base = Swift.min(base, cap)
        let fraction = Swift.min(Swift.max(jitter, 0), 1) * Swift.min(Swift.max(unit, 0), 1)
        return .nanoseconds(Int64((base * (1 - fraction) * 1e9).rounded()))
    }

    /// The delay before attempt `attempt`, with jitter from the system's generator.
    public func delay(attempt: Int) -> Duration {
        delay(attempt: attempt, unit: Double.random(in: 0..<1))
    }
}

extension Duration {
    /// This duration in seconds, as a `Double`.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// This duration in nanoseconds, rounded down, at least 0.
    var nanoseconds: UInt64 {
        let parts = components
        guard parts.seconds >= 0 else { return 0 }
        return UInt64(parts.seconds) * 1_000_000_000 + UInt64(parts.attoseconds / 1_000_000_000)
    }
}
