import Foundation
import NginxConfigGen
import Testing
@testable import Orchestrator
import Support
import Watcher

/// What a compromised proxy or watcher container, or another local user, can plant in the state
/// folder: links bgctl (often root) must not follow, files it must not read whole, values it must not
/// trust. Every case builds its own folder.
@Suite(.serialized) struct HostileStateFolderTests {
    /// A state folder of its own, its paths and a store over it; `victim` is a file outside it.
    struct Folder {
        let paths: StackPaths
        let outside: String
        var store: StateStore { StateStore(paths: paths) }
        var victim: String { outside + "/victim" }

        init() throws {
            var spec = try Fixture.spec()
            spec.stateDir = Fixture.tempDir()
            paths = StackPaths(spec: spec, specDirectory: "/")
            outside = Fixture.tempDir()
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: paths.stateDir)
            try? FileManager.default.removeItem(atPath: outside)
        }

        func link(_ path: String, to target: String) throws {
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        }
    }

    static let entry = HistoryEntry(time: "2026-11-27T10:00:00Z", action: "switch", who: "ci", result: "ok")

    // MARK: links (item 2)

    @Test func historyIsNotAppendedThroughAPlantedLink() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try "root's file\n".write(toFile: folder.victim, atomically: true, encoding: .utf8)
        try folder.link(folder.paths.historyFile, to: folder.victim)
        #expect(throws: WriteError.self) { try folder.store.append(Self.entry) }
        #expect(try String(contentsOfFile: folder.victim, encoding: .utf8) == "root's file\n")
    }

    @Test func theLockIsNotCreatedThroughAPlantedLink() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try folder.link(folder.paths.lockFile, to: folder.outside + "/nologin")
        let holder = StackLock.Holder(pid: getpid(), who: "ci", command: "switch", since: "2026-11-27T10:00:00Z")
        #expect(throws: OrchestratorError.self) { try StackLock.acquire(folder.paths, holder: holder, wait: 0) }
        #expect(!FileManager.default.fileExists(atPath: folder.outside + "/nologin"))
    }

    @Test func theRotationLockIsNotCreatedThroughAPlantedLink() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.paths.logsDir, withIntermediateDirectories: true)
        try folder.link(folder.paths.logsDir + "/.access.log.rotate-lock", to: folder.outside + "/nologin")
        #expect(throws: RotationError.self) { _ = try LocalRotationFiles.exclusiveLock(folder.paths.logsDir + "/.access.log.rotate-lock") {} }
        #expect(!FileManager.default.fileExists(atPath: folder.outside + "/nologin"))
    }

    @Test func aWatcherFolderThatIsALinkIsRefused() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try folder.link(folder.paths.watcherDir, to: folder.outside)
        #expect(throws: OrchestratorError.stateFolderUnsafe(path: folder.paths.watcherDir,
                                                            reason: "it is a symbolic link; bgctl does not follow links inside its state folder")) {
            try folder.paths.checkFolder()
        }
    }

    @Test func aLogsEntryThatIsAFileNotAFolderIsRefused() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try "x".write(toFile: folder.paths.logsDir, atomically: true, encoding: .utf8)
        #expect(throws: OrchestratorError.stateFolderUnsafe(path: folder.paths.logsDir, reason: "it is not a folder")) {
            try folder.paths.checkFolder()
        }
    }

    // MARK: who may write the state folder (item 2)

    @Test func aStateFolderOnlyItsOwnerWritesIsAccepted() throws {
        let folder = try Folder()
        defer { folder.remove() }
        chmod(folder.paths.stateDir, 0o755)
        try folder.paths.checkFolder()
    }

    @Test func aWorldWritableStateFolderIsRefused() throws {
        let folder = try Folder()
        defer { folder.remove() }
        chmod(folder.paths.stateDir, 0o757)
        #expect(throws: OrchestratorError.self) { try folder.paths.checkFolder() }
    }

    @Test func aWorldWritableStickyStateFolderIsRefusedToo() throws {
        let folder = try Folder()
        defer { folder.remove() }
        chmod(folder.paths.stateDir, 0o1757)
        #expect(throws: OrchestratorError.self) { try folder.paths.checkFolder() }
    }

    @Test func aGroupWritableStateFolderIsRefused() throws {
        let folder = try Folder()
        defer { folder.remove() }
        chmod(folder.paths.stateDir, 0o775)
        #expect(throws: OrchestratorError.self) { try folder.paths.checkFolder() }
    }

    @Test(.enabled(if: geteuid() == 0, "only root can give a folder away"))
    func aStateFolderOwnedByAnotherUserIsRefused() throws {
        let folder = try Folder()
        defer { folder.remove() }
        chown(folder.paths.stateDir, 65534, 65534)
        #expect(throws: OrchestratorError.self) { try folder.paths.checkFolder() }
        let holder = StackLock.Holder(pid: getpid(), who: "ci", command: "switch", since: "2026-11-27T10:00:00Z")
        #expect(throws: OrchestratorError.self) { try StackLock.acquire(folder.paths, holder: holder, wait: 0) }
        #expect(!FileManager.default.fileExists(atPath: folder.paths.lockFile))
    }

    @Test func anAtomicWriteIntoAWorldWritableFolderWithoutTheStickyBitIsRefused() throws {
        let folder = try Folder()
        defer { folder.remove() }
        chmod(folder.outside, 0o777)
        #expect(throws: WriteError.self) { try AtomicFile.write("x", to: folder.outside + "/pools.json") }
    }

    // MARK: bounded reads (item 5)

    /// The issue's example was a 1.5 GB sparse status.json; a sparse file costs no disk here either.
    static func sparse(_ path: String, size: off_t) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        ftruncate(fd, size)
        close(fd)
    }

    @Test func aStateFileLargerThanTheLimitIsRefusedUnread() throws {
        let folder = try Folder()
        defer { folder.remove() }
        Self.sparse(folder.paths.stateFile, size: 1_500_000_000)
        #expect(throws: OrchestratorError.stateUnreadable(path: folder.paths.stateFile,
                                                          reason: "it is 1500000000 bytes; bgctl reads at most \(FileLimits.stateFile)")) {
            try folder.store.load()
        }
    }

    @Test func aStateFileOfExactlyTheLimitIsRead() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let json = #"{"project": "shop", "live": "green", "updated_at": "2026-11-01T00:00:00Z"}"#
        try (json + String(repeating: " ", count: FileLimits.stateFile - json.utf8.count)).write(toFile: folder.paths.stateFile, atomically: true, encoding: .utf8)
        #expect(try folder.store.load()?.live == .green)
    }

    @Test func aStateFileOneByteOverTheLimitIsRefused() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let json = #"{"project": "shop", "live": "green", "updated_at": "2026-11-01T00:00:00Z"}"#
        try (json + String(repeating: " ", count: FileLimits.stateFile + 1 - json.utf8.count)).write(toFile: folder.paths.stateFile, atomically: true, encoding: .utf8)
        #expect(throws: OrchestratorError.self) { try folder.store.load() }
    }

    @Test func aFIFOAsTheStateFileIsRefusedWithoutBlocking() throws {
        let folder = try Folder()
        defer { folder.remove() }
        mkfifo(folder.paths.stateFile, 0o600)
        #expect(throws: OrchestratorError.stateUnreadable(path: folder.paths.stateFile, reason: "not a regular file; refusing to read it")) {
            try folder.store.load()
        }
    }

    @Test func aSparseJournalLockInfoAndTestedFileReadAsNone() throws {
        let folder = try Folder()
        defer { folder.remove() }
        for path in [folder.paths.journalFile, folder.paths.lockInfoFile, folder.paths.testedFile] { Self.sparse(path, size: 1_500_000_000) }
        #expect(Journal(paths: folder.paths, files: LocalFileSystem()).read() == nil)
        #expect(StackLock.readHolder(folder.paths) == nil)
        #expect(TestedConfigs.load(folder.paths, files: LocalFileSystem()) == nil)
    }

    @Test func onlyTheLastPartOfAHugeHistoryIsRead() throws {
        let folder = try Folder()
        defer { folder.remove() }
        Self.sparse(folder.paths.historyFile, size: 1_500_000_000)
        try LocalFileSystem().append(Data("\n".utf8), to: folder.paths.historyFile)
        try folder.store.append(Self.entry)
        #expect(folder.store.history() == [Self.entry])
    }

    // MARK: state.json is checked like a spec (item 6)

    static func deployed(image: String = "shop:2", release: String = "v2", env: [String: String] = [:]) -> String {
        let data = try! JSONEncoder().encode(DeployedRelease(image: image, release: release, env: env, at: "2026-11-01T00:00:00Z"))
        return #"{"project": "shop", "live": "green", "updated_at": "2026-11-01T00:00:00Z", "deployed": {"green": \#(String(decoding: data, as: UTF8.self))}}"#
    }

    @Test func aValidDeployedReleaseIsRead() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try Self.deployed(env: ["DB_HOST": "db"]).write(toFile: folder.paths.stateFile, atomically: true, encoding: .utf8)
        #expect(try folder.store.load()?.deployed?["green"]?.release == "v2")
    }

    @Test(arguments: [
        ("release", deployed(release: #"v2";}server{listen 81;}#"#)),
        ("release", deployed(release: "v2 x")),
        ("release", deployed(release: String(repeating: "a", count: 129))),
        ("image", deployed(image: "--privileged")),
        ("image", deployed(image: "shop:2 --privileged")),
        ("env", deployed(env: ["A\nB": "x"])),
        ("env", deployed(env: ["A=B": "x"])),
        ("env.A", deployed(env: ["A": "x\ny"])),
        ("env.A", deployed(env: ["A": "x\0y"])),
    ])
    func aDeployedValueTheSpecWouldRefuseIsRefused(_ key: String, _ json: String) throws {
        let folder = try Folder()
        defer { folder.remove() }
        try json.write(toFile: folder.paths.stateFile, atomically: true, encoding: .utf8)
        #expect {
            try folder.store.load()
        } throws: { error in
            guard case .stateUnreadable(_, let reason) = error as? OrchestratorError else { return false }
            return reason.hasPrefix("deployed.green.\(key):") && !reason.contains("privileged") && !reason.contains("server{")
        }
    }

    @Test func aReleaseOfExactly128CharactersIsRead() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try Self.deployed(release: String(repeating: "a", count: 128)).write(toFile: folder.paths.stateFile, atomically: true, encoding: .utf8)
        #expect(try folder.store.load() != nil)
    }

    @Test(arguments: [#""weights": {"blue": 101, "green": 0}"#, #""weights": {"red": 50}"#, #""weights": {"blue": -1}"#])
    func weightsOutsideZeroToOneHundredOrForAnUnknownPoolAreRefused(_ weights: String) throws {
        let folder = try Folder()
        defer { folder.remove() }
        try #"{"project": "shop", "live": "green", "updated_at": "x", \#(weights)}"#.write(toFile: folder.paths.stateFile, atomically: true, encoding: .utf8)
        #expect(throws: OrchestratorError.self) { try folder.store.load() }
    }

    @Test func aProjectNameTheSpecWouldRefuseIsRefused() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try #"{"project": "shop;rm", "live": "green", "updated_at": "x"}"#.write(toFile: folder.paths.stateFile, atomically: true, encoding: .utf8)
        #expect(throws: OrchestratorError.self) { try folder.store.load() }
    }
}
