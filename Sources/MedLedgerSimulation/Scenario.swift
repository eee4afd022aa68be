import MedLedgerWire

/// What goes wrong in one simulated run: the network's behaviour and the faulty validators.
/// Everything is data, so a run is reproduced from its scenario (and the scenario from its seed).
public struct Scenario: Sendable, CustomStringConvertible {
    public var validators: Int

    // MARK: Network

    /// Each copy of a message is dropped with this probability (re-gossip delivers it later).
    public var dropRate = 0.0
    /// Each copy is delivered a second time with this probability.
    public var duplicateRate = 0.0
    /// Delivery delay, uniform in [minimumDelay, maximumDelay) ms: messages reorder.
    public var minimumDelay: UInt64 = 5
    public var maximumDelay: UInt64 = 50

    public enum PartitionKind: Sendable, Hashable, CustomStringConvertible {
        /// The first half of the nodes (by instance number) against the rest.
        case halves
        /// One node cut off from everyone.
        case isolate(Int)
        /// Messages from the first group to the second are lost; the other way works.
        case oneWay(from: [Int], to: [Int])
        /// The two groups cannot reach each other; every other node reaches both (it is the
        /// bridge). With twins split across the groups, each side may gather a quorum: the
        /// scenario that only the locking rule keeps safe.
        case bridge([Int], [Int])

        public var description: String {
            switch self {
            case .halves: "halves"
            case .isolate(let node): "isolate \(node)"
            case .oneWay(let from, let to): "one-way \(from)->\(to)"
            case .bridge(let a, let b): "bridge \(a)|\(b)"
            }
        }
    }

    public struct Partition: Sendable, Hashable {
        public var kind: PartitionKind
        public var from: UInt64
        public var until: UInt64

        public init(_ kind: PartitionKind, from: UInt64, until: UInt64) {
            self.kind = kind
            self.from = from
            self.until = until
        }
    }

    public var partitions: [Partition] = []

    /// A directed link that is slower than the rest (asymmetric latency: a congested or
    /// long-haul route). Messages sent on it before `until` take `extra` ms more.
    public struct SlowLink: Sendable, Hashable {
        public var from: Int
        public var to: Int
        public var extra: UInt64
        public var until: UInt64

        public init(from: Int, to: Int, extra: UInt64, until: UInt64) {
            self.from = from
            self.to = to
            self.extra = extra
            self.until = until
        }
    }

    public var slowLinks: [SlowLink] = []

    // MARK: Faulty validators (by validator index)

    /// Never start (crash faults).
    public var crashed: Set<Int> = []
    /// Crash at `at` and come back `downFor` ms later: memory lost, log and signer state kept.
    public var restarts: [Restart] = []
    /// Sign every vote twice: the honest one to half the peers, a conflicting one to the others.
    public var equivocators: Set<Int> = []
    /// Run as two nodes with one key (each honest on its own, together double-signing).
    public var twins: Set<Int> = []
    /// Their clock is an hour ahead and they propose blocks whose header time is a lie.
    public var liars: Set<Int> = []
    /// The lock attack (see ``Mix/lockAttack``), until `until` ms.
    public var lockAttack: LockAttack?

    public struct LockAttack: Sendable, Hashable {
        /// The honest validator that is made to decide alone.
        public var victim: Int
        /// How long its outgoing messages are dropped after each precommit for a block.
        public var silence: UInt64
        public var until: UInt64

        public init(victim: Int, silence: UInt64, until: UInt64) {
            self.victim = victim
            self.silence = silence
            self.until = until
        }
    }

    public struct Restart: Sendable, Hashable {
        public var validator: Int
        public var at: UInt64
        public var downFor: UInt64

        public init(validator: Int, at: UInt64, downFor: UInt64) {
            self.validator = validator
            self.at = at
            self.downFor = downFor
        }
    }

    public init(validators: Int) { self.validators = validators }

    /// Validators whose key is in Byzantine hands (they may break any rule).
    public var byzantine: Set<Int> { equivocators.union(twins).union(liars) }

    /// Validators that are faulty in any way (Byzantine, crashed, or crashing and restarting): the
    /// bound `3f < n` is over these.
    public var faulty: Set<Int> { byzantine.union(crashed).union(restarts.map(\.validator)) }

    /// When the last fault heals: partitions end and restarted nodes are back.
    public var healedAt: UInt64 {
        let partitionEnd = (partitions.map(\.until) + slowLinks.map { $0.until + $0.extra }).max() ?? 0
        let restartEnd = restarts.map { $0.at + $0.downFor }.max() ?? 0
        let attackEnd = lockAttack.map { $0.until + $0.silence } ?? 0
        return Swift.max(partitionEnd, restartEnd, attackEnd)
    }

    public var description: String {
        var parts = ["n=\(validators)"]
        if dropRate > 0 { parts.append("drop=\(dropRate)") }
        if duplicateRate > 0 { parts.append("dup=\(duplicateRate)") }
        parts.append("delay=\(minimumDelay)..<\(maximumDelay)ms")
        for link in slowLinks { parts.append("slow(\(link.from)->\(link.to) +\(link.extra)ms until \(link.until)ms)") }
        for partition in partitions { parts.append("partition(\(partition.kind) \(partition.from)..<\(partition.until)ms)") }
        if !crashed.isEmpty { parts.append("crashed=\(crashed.sorted())") }
        for restart in restarts { parts.append("restart(\(restart.validator) at \(restart.at)ms for \(restart.downFor)ms)") }
        if !equivocators.isEmpty { parts.append("equivocators=\(equivocators.sorted())") }
        if !twins.isEmpty { parts.append("twins=\(twins.sorted())") }
        if !liars.isEmpty { parts.append("liars=\(liars.sorted())") }
        if let attack = lockAttack { parts.append("lock-attack(victim \(attack.victim), silence \(attack.silence)ms until \(attack.until)ms)") }
        return parts.joined(separator: " ")
    }
}

extension Scenario {
    /// The fault mixes the sweeps rotate through.
    public enum Mix: String, Sendable, CaseIterable {
        /// Drops, duplicates, delays and partitions only.
        case network
        /// Crashed validators (they never come back).
        case crash
        /// Validators that crash and restart, some several times.
        case restart
        /// Equivocating validators.
        case equivocation
        /// Twins: two nodes on one key, with partitions that separate them.
        case twins
        /// Proposers that lie about time.
        case lyingTime = "lying-time"
        /// The attack the locking rule exists for: equivocators help every value to a quorum,
        /// precommit for blocks only towards one honest victim, and the network silences the
        /// victim each time it precommits a block, so it alone decides while the others move on.
        case lockAttack = "lock-attack"
        /// A different fault for each faulty validator.
        case mixed
    }

    /// Each twin on its own side with some honest validators; the rest bridge the two sides.
    static func twinsBridge(_ scenario: Scenario, _ rng: inout SplitMix64) -> PartitionKind {
        let twins = scenario.twins.sorted()
        var honest = (0..<scenario.validators).filter { !scenario.twins.contains($0) }
        for index in honest.indices.reversed() { honest.swapAt(index, Int(rng.next() % UInt64(index + 1))) }
        let perSide = (honest.count - 1) / 2
        var a = twins
        var b = twins.indices.map { scenario.validators + $0 }
        a += honest.prefix(perSide)
        b += honest.dropFirst(perSide).prefix(perSide)
        return .bridge(a.sorted(), b.sorted())
    }

    /// The largest number of faulty validators `3f < n` allows.
    public static func maxFaulty(_ validators: Int) -> Int { (validators - 1) / 3 }

    /// A scenario drawn from `seed`: a lossy network, a partition in two runs out of three, and
    /// `maxFaulty(validators)` faulty validators of the kind `mix` names.
    public static func random(seed: UInt64, validators: Int, mix: Mix) -> Scenario {
        var rng = SplitMix64(seed: seed &* 0x5851_F42D_4C95_7F2D &+ 0x1405_7B7E_F767_814F)
        func below(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : rng.next() % bound }

        var scenario = Scenario(validators: validators)
        scenario.dropRate = Double(below(25)) / 100
        scenario.duplicateRate = Double(below(10)) / 100
        scenario.minimumDelay = 1 + below(10)
        scenario.maximumDelay = scenario.minimumDelay + 10 + below(600)

        var chosen: [Int] = []
        while chosen.count < maxFaulty(validators) {
            let candidate = Int(below(UInt64(validators)))
            if !chosen.contains(candidate) { chosen.append(candidate) }
        }
        for validator in chosen {
            let kind: Mix = mix == .mixed ? [.crash, .restart, .equivocation, .twins, .lyingTime][Int(below(5))] : mix
            switch kind {
            case .crash: scenario.crashed.insert(validator)
            case .restart:
                var at = 200 + below(6_000)
                for _ in 0...below(3) {
                    let down = 50 + below(8_000)
                    scenario.restarts.append(Restart(validator: validator, at: at, downFor: down))
                    at += down + 100 + below(5_000)
                }
            case .equivocation: scenario.equivocators.insert(validator)
            case .twins: scenario.twins.insert(validator)
            case .lyingTime: scenario.liars.insert(validator)
            case .lockAttack: scenario.equivocators.insert(validator)
            case .network, .mixed: break
            }
        }

        if mix == .lockAttack {
            let honest = (0..<validators).filter { !scenario.equivocators.contains($0) }
            scenario.lockAttack = LockAttack(victim: honest[Int(below(UInt64(honest.count)))], silence: 3_000 + below(10_000), until: 10_000 + below(30_000))
            // The attack needs the network to be otherwise well-behaved.
            scenario.dropRate = 0
            return scenario
        }

        // Instances: one per validator, then the second twin of each twinned validator.
        let instances = validators + scenario.twins.count
        // Slow links in half the runs.
        if below(2) == 0 {
            for _ in 0...below(4) {
                let from = Int(below(UInt64(instances)))
                let to = Int(below(UInt64(instances)))
                if from != to { scenario.slowLinks.append(SlowLink(from: from, to: to, extra: 500 + below(8_000), until: 2_000 + below(25_000))) }
            }
        }

        // No partition in a third of the runs; one long partition in a third; in the rest a flaky
        // network: many short partitions of random kinds, one after another.
        let shape = below(3)
        let windows = shape == 0 ? 0 : shape == 1 ? 1 : 4 + below(12)
        var start = below(3_000)
        for _ in 0..<windows {
            let length = windows == 1 ? 1_000 + below(20_000) : 100 + below(below(2) == 0 ? 1_500 : 8_000)
            let kind: PartitionKind
            switch below(mix == .twins ? 5 : 4) {
            case 0: kind = .halves
            case 1: kind = .isolate(Int(below(UInt64(instances))))
            case 2:
                var from: [Int] = []
                var to: [Int] = []
                for node in 0..<instances { if below(2) == 0 { from.append(node) } else { to.append(node) } }
                kind = .oneWay(from: from, to: to)
            case 3:
                var a: [Int] = []
                var b: [Int] = []
                for node in 0..<instances {
                    switch below(3) {
                    case 0: a.append(node)
                    case 1: b.append(node)
                    default: break
                    }
                }
                kind = .bridge(a, b)
            default: kind = twinsBridge(scenario, &rng)
            }
            scenario.partitions.append(Partition(kind, from: start, until: start + length))
            start += length + below(1_500)
        }
        return scenario
    }
}
