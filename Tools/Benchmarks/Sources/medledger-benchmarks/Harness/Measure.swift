import Dispatch

/// How many times each figure is measured.
struct MeasureOptions: Sendable {
    /// Timed samples per figure; best and median are reported.
    var repetitions = 10
    /// Untimed runs before the samples (caches, allocator, lazy initialisation).
    var warmups = 2
    /// A sample of a fast operation repeats it until it has run at least this long, so that timer
    /// resolution and call overhead stay negligible.
    var minimumSampleSeconds = 0.05
}

/// The samples of one figure, each in seconds per operation.
struct Timing: Sendable {
    let samples: [Double]
    /// Operations timed per sample (all samples of a figure use the same number).
    let operationsPerSample: Int

    /// The fastest sample: the best estimate of what the code costs when nothing disturbs it.
    var best: Double { samples.min()! }

    /// The middle sample (mean of the two middle ones for an even count).
    var median: Double {
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// Keeps a value alive so the optimiser cannot drop the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// Monotonic nanoseconds.
@inline(__always)
func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func seconds(from start: UInt64, to end: UInt64) -> Double { Double(end - start) / 1e9 }

/// Times `body` (one operation per call): warm-up runs, then `repetitions` samples, each of as
/// many calls as fill `minimumSampleSeconds` (at least one).
func measure(_ options: MeasureOptions, _ body: () throws -> Void) rethrows -> Timing {
    var single = Double.infinity
    for _ in 0..<max(1, options.warmups) {
        let start = now()
        try body()
        single = min(single, seconds(from: start, to: now()))
    }
    let operations = max(1, Int(options.minimumSampleSeconds / max(single, 1e-9)))
    var samples: [Double] = []
    samples.reserveCapacity(options.repetitions)
    for _ in 0..<options.repetitions {
        let start = now()
        for _ in 0..<operations { try body() }
        samples.append(seconds(from: start, to: now()) / Double(operations))
    }
    return Timing(samples: samples, operationsPerSample: operations)
}

/// Times `body` once per sample on a fresh value from `setup`, which is not timed (for operations
/// that consume or change their input, such as hashing a state that was just written).
func measure<Input>(
    _ options: MeasureOptions, setup: () throws -> Input, _ body: (inout Input) throws -> Void
) rethrows -> Timing {
    for _ in 0..<max(1, options.warmups) {
        var input = try setup()
        try body(&input)
        blackHole(input)
    }
    var samples: [Double] = []
    samples.reserveCapacity(options.repetitions)
    for _ in 0..<options.repetitions {
        var input = try setup()
        let start = now()
        try body(&input)
        samples.append(seconds(from: start, to: now()))
        blackHole(input)
    }
    return Timing(samples: samples, operationsPerSample: 1)
}
