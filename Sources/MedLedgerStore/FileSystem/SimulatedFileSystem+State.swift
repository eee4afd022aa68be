extension SimulatedFileSystem {
    typealias Inode = UInt64

    /// A file's bytes: what is on disk, what reads see, and what lies between.
    final class FileNode {
        var durable: [UInt8] = []
        var volatile: [UInt8] = []
        /// Writes and truncates since the last sync, in issue order.
        var pending: [DataOperation] = []
    }

    enum DataOperation {
        case write(offset: Int, bytes: [UInt8])
        case truncate(size: Int)
    }

    /// A directory's entries: what callers see, and what is on disk.
    final class DirectoryNode {
        var volatile: [String: Inode] = [:]
        /// On-disk entries with the sequence number of the operation that set them; a `nil` inode
        /// is a removal, kept so that an older operation made durable later cannot undo it.
        var durable: [String: DurableEntry] = [:]
    }

    struct DurableEntry {
        var inode: Inode?
        var sequence: UInt64
    }

    /// One name set (`inode`) or removed (`nil`) in one directory.
    struct Effect {
        var directory: Inode
        var name: String
        var inode: Inode?
    }

    /// A create, mkdir, remove or rename not yet made durable: its effects are kept or undone together.
    struct DirectoryOperation {
        var sequence: UInt64
        var effects: [Effect]

        func touches(_ directory: Inode) -> Bool { effects.contains { $0.directory == directory } }
        func touches(_ directory: Inode, _ name: String) -> Bool {
            effects.contains { $0.directory == directory && $0.name == name }
        }
    }

    struct ScheduledFailure {
        var operation: Operation
        var remaining: Int
        var path: String?
    }

    struct ReadFault: Hashable {
        var path: String
        var offset: Int
        var bit: Int
    }

    enum Lookup {
        case file(Inode)
        case directory(Inode)
        case missing
        /// A component before the last is a file (`ENOTDIR`).
        case notADirectory
    }

    /// Everything the mutex guards. Its methods are the file system's logic; the class only locks.
    struct State {
        static let root: Inode = 0

        let configuration: Configuration
        var generator: Generator
        var files: [Inode: FileNode] = [:]
        var directories: [Inode: DirectoryNode] = [root: DirectoryNode()]
        var pending: [DirectoryOperation] = []
        var nextInode: Inode = 1
        var nextSequence: UInt64 = 1
        /// Incremented by each crash; handles of an older epoch are dead.
        var epoch: UInt64 = 0
        var frozen = false
        var crashCountdown: Int?
        var failures: [ScheduledFailure] = []
        var readFaults: [ReadFault] = []
        var statistics = Statistics()

        init(configuration: Configuration) {
            self.configuration = configuration
            generator = Generator(seed: configuration.seed)
        }

        // MARK: Paths

        static func components(_ path: String) -> [String] {
            var result: [String] = []
            for part in path.split(separator: "/", omittingEmptySubsequences: true) {
                if part == "." { continue }
                if part == ".." {
                    if !result.isEmpty { result.removeLast() }
                    continue
                }
                result.append(String(part))
            }
            return result
        }

        /// The canonical spelling of a path, used to match faults to files.
        static func key(_ path: String) -> String { components(path).joined(separator: "/") }

        func lookup(_ components: ArraySlice<String>, durable: Bool = false) -> Lookup {
            var current = Self.root
            for name in components {
                guard let directory = directories[current] else { return .notADirectory }
                let child = durable ? directory.durable[name]?.inode : directory.volatile[name]
                guard let child else { return .missing }
                current = child
            }
            return directories[current] != nil ? .directory(current) : .file(current)
        }

        func lookup(_ path: String, durable: Bool = false) -> Lookup {
            lookup(Self.components(path)[...], durable: durable)
        }

        /// The directory that holds the last component of `components`.
        func parent(_ components: [String], call: String, path: String) throws(StoreError) -> Inode {
            switch lookup(components.dropLast()) {
            case .directory(let inode): return inode
            case .missing: throw Self.failure(call, "No such file or directory", path)
            case .file, .notADirectory: throw Self.failure(call, "Not a directory", path)
            }
        }

        static func failure(_ call: String, _ reason: String, _ path: String) -> StoreError {
            StoreError(.io, "\(call) failed: \(reason)", path: path)
        }

        // MARK: Admission

        /// Refuses calls on a frozen machine, counts the operation toward a scheduled crash, and
        /// fires an injected failure. Every call goes through here before it has any effect.
        mutating func admit(_ operation: Operation, path: String, counted: Bool) throws(StoreError) {
            if frozen { throw Self.frozenError(path) }
            if counted {
                if let countdown = crashCountdown {
                    if countdown == 0 {
                        frozen = true
                        crashCountdown = nil
                        throw Self.frozenError(path)
                    }
                    crashCountdown = countdown - 1
                }
                statistics.operations += 1
            }
            guard !failures.isEmpty else { return }
            let key = Self.key(path)
            var fire = false
            for index in failures.indices where failures[index].operation == operation {
                if let only = failures[index].path, only != key { continue }
                if failures[index].remaining == 0 {
                    if !fire {
                        fire = true
                        failures[index].remaining = -1
                    }
                } else {
                    failures[index].remaining -= 1
                }
            }
            if fire {
                failures.removeAll { $0.remaining < 0 }
                statistics.injectedFailures += 1
                throw Self.injectedError(operation, path)
            }
        }

        static func frozenError(_ path: String) -> StoreError {
            StoreError(
                .unavailable, "the simulated machine has crashed; nothing runs until crash() restarts it", path: path)
        }

        static func injectedError(_ operation: Operation, _ path: String) -> StoreError {
            let reason = operation == .write ? "No space left on device" : "Input/output error"
            return StoreError(.io, "\(operation.rawValue) failed: \(reason) (injected)", path: path)
        }

        /// Applies a directory operation to the volatile entries and leaves it pending.
        mutating func record(_ effects: [Effect]) {
            for effect in effects {
                directories[effect.directory]!.volatile[effect.name] = effect.inode
            }
            pending.append(DirectoryOperation(sequence: nextSequence, effects: effects))
            nextSequence += 1
            statistics.directoryOperations += 1
        }

        /// Writes a directory operation's effects to the durable entries, unless a later operation
        /// already set the same name.
        mutating func makeDurable(_ operation: DirectoryOperation) {
            for effect in operation.effects {
                let directory = directories[effect.directory]!
                if let entry = directory.durable[effect.name], entry.sequence > operation.sequence { continue }
                directory.durable[effect.name] = DurableEntry(inode: effect.inode, sequence: operation.sequence)
            }
        }

        mutating func newInode() -> Inode {
            defer { nextInode += 1 }
            return nextInode
        }

        // MARK: Namespace

        mutating func open(_ path: String, create: Bool) throws(StoreError) -> Inode {
            try admit(.open, path: path, counted: create)
            let components = Self.components(path)
            switch lookup(components[...]) {
            case .file(let inode):
                return inode
            case .directory:
                throw Self.failure("open", "Is a directory", path)
            case .notADirectory:
                throw Self.failure("open", "Not a directory", path)
            case .missing:
                guard create else { throw StoreError(.notFound, "no such file", path: path) }
                let parent: Inode
                switch lookup(components.dropLast()) {
                case .directory(let inode): parent = inode
                case .missing: throw StoreError(.notFound, "no such file", path: path)
                case .file, .notADirectory: throw Self.failure("open", "Not a directory", path)
                }
                let inode = newInode()
                files[inode] = FileNode()
                record([Effect(directory: parent, name: components.last!, inode: inode)])
                return inode
            }
        }

        mutating func list(_ path: String) throws(StoreError) -> [String] {
            if frozen { throw Self.frozenError(path) }
            switch lookup(path) {
            case .directory(let inode): return directories[inode]!.volatile.keys.sorted()
            case .missing: throw StoreError(.notFound, "no such directory", path: path)
            case .file, .notADirectory: throw Self.failure("opendir", "Not a directory", path)
            }
        }

        mutating func createDirectory(_ path: String) throws(StoreError) {
            try admit(.createDirectory, path: path, counted: true)
            var current = Self.root
            for name in Self.components(path) {
                guard let directory = directories[current] else { throw Self.failure("mkdir", "Not a directory", path) }
                if let child = directory.volatile[name] {
                    current = child
                    continue
                }
                let inode = newInode()
                directories[inode] = DirectoryNode()
                record([Effect(directory: current, name: name, inode: inode)])
                current = inode
            }
        }

        func exists(_ path: String) -> Bool {
            switch lookup(path) {
            case .file, .directory: return true
            case .missing, .notADirectory: return false
            }
        }

        mutating func remove(_ path: String) throws(StoreError) {
            try admit(.remove, path: path, counted: true)
            let components = Self.components(path)
            switch lookup(components[...]) {
            case .file:
                let parent = try parent(components, call: "unlink", path: path)
                record([Effect(directory: parent, name: components.last!, inode: nil)])
            case .directory: throw Self.failure("unlink", "Is a directory", path)
            case .missing: throw Self.failure("unlink", "No such file or directory", path)
            case .notADirectory: throw Self.failure("unlink", "Not a directory", path)
            }
        }

        mutating func rename(_ from: String, to: String) throws(StoreError) {
            try admit(.rename, path: from, counted: true)
            let call = "rename to \(to)"
            let source = Self.components(from)
            let target = Self.components(to)
            let inode: Inode
            let isDirectory: Bool
            switch lookup(source[...]) {
            case .file(let found): (inode, isDirectory) = (found, false)
            case .directory(let found): (inode, isDirectory) = (found, true)
            case .missing: throw Self.failure(call, "No such file or directory", from)
            case .notADirectory: throw Self.failure(call, "Not a directory", from)
            }
            guard !source.isEmpty, !target.isEmpty else { throw Self.failure(call, "Device or resource busy", from) }
            let sourceParent = try parent(source, call: call, path: from)
            let targetParent = try parent(target, call: call, path: from)
            let replaced = directories[targetParent]!.volatile[target.last!]
            if replaced == inode { return }
            if let replaced {
                let replacedIsDirectory = directories[replaced] != nil
                if !isDirectory && replacedIsDirectory { throw Self.failure(call, "Is a directory", from) }
                if isDirectory && !replacedIsDirectory { throw Self.failure(call, "Not a directory", from) }
                if isDirectory && !directories[replaced]!.volatile.isEmpty {
                    throw Self.failure(call, "Directory not empty", from)
                }
            }
            if isDirectory && reaches(from: inode, to: targetParent) {
                throw Self.failure(call, "Invalid argument", from)
            }
            record([
                Effect(directory: sourceParent, name: source.last!, inode: nil),
                Effect(directory: targetParent, name: target.last!, inode: inode),
            ])
        }

        /// Whether `target` is `start` or lies under it (a directory may not move into itself).
        func reaches(from start: Inode, to target: Inode) -> Bool {
            var stack = [start]
            var seen: Set<Inode> = [start]
            while let inode = stack.popLast() {
                if inode == target { return true }
                guard let directory = directories[inode] else { continue }
                for child in directory.volatile.values where seen.insert(child).inserted {
                    stack.append(child)
                }
            }
            return false
        }

        mutating func syncDirectory(_ path: String) throws(StoreError) {
            try admit(.syncDirectory, path: path, counted: true)
            let directory: Inode
            switch lookup(path) {
            case .directory(let inode): directory = inode
            case .file, .notADirectory: throw Self.failure("open directory", "Not a directory", path)
            case .missing: throw Self.failure("open directory", "No such file or directory", path)
            }
            var remaining: [DirectoryOperation] = []
            for operation in pending {
                if operation.touches(directory) {
                    makeDurable(operation)
                } else {
                    remaining.append(operation)
                }
            }
            pending = remaining
            statistics.directorySyncs += 1
        }
    }
}
