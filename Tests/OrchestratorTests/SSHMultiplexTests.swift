import Foundation
import Testing
@testable import Orchestrator

/// The ssh wrapper that shares one connection per host, and the per-host call cap.
@Suite struct SSHMultiplexTests {
    /// A folder with a stand-in "real" ssh that prints its arguments, one per line.
    static func scratch() throws -> (root: String, bin: String) {
        let root = NSTemporaryDirectory() + "bgctl-ssh-test-\(UUID().uuidString.prefix(8))"
        let bin = root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let fake = bin + "/ssh"
        FileManager.default.createFile(atPath: fake, contents: Data("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n".utf8),
                                       attributes: [.posixPermissions: 0o755])
        return (root, bin)
    }

    static func run(_ path: String, _ arguments: [String], environment: [String: String]) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ssh"] + arguments
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func theWrapperRunsTheRealSshWithSharingFirstAndTheCallersArgumentsUnchanged() throws {
        let (root, bin) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = root + "/control"
        let env = try SSHMultiplex.prepare(["PATH": "\(bin):/usr/bin:/bin"], folder: folder)
        #expect(env["PATH"] == "\(folder):\(bin):/usr/bin:/bin")
        let seen = try Self.run("ssh", ["-T", "--", "deploy@web1", "docker system dial-stdio", "it's"], environment: env)
        #expect(seen == SSHMultiplex.options(controlFolder: folder) + ["-T", "--", "deploy@web1", "docker system dial-stdio", "it's"])
        #expect(seen.contains("ControlMaster=auto") && seen.contains("ControlPath=\(folder)/%C") && seen.contains("ControlPersist=60s"))
        #expect(seen.contains("ConnectTimeout=10") && seen.contains("ServerAliveInterval=5"))
        var info = stat()
        #expect(lstat(folder, &info) == 0 && info.st_mode & 0o777 == 0o700)
    }

    @Test func preparingAgainLeavesTheWrapperAsItIs() throws {
        let (root, bin) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = root + "/control"
        _ = try SSHMultiplex.prepare(["PATH": bin], folder: folder)
        let first = try FileManager.default.attributesOfItem(atPath: folder + "/ssh")[.modificationDate] as? Date
        usleep(20_000)
        let again = try SSHMultiplex.prepare(["PATH": "\(folder):\(bin)"], folder: folder)
        #expect(again["PATH"] == "\(folder):\(folder):\(bin)" || again["PATH"]?.hasPrefix(folder) == true)
        #expect(try FileManager.default.attributesOfItem(atPath: folder + "/ssh")[.modificationDate] as? Date == first)
        #expect(try String(contentsOfFile: folder + "/ssh", encoding: .utf8).contains("'\(bin)/ssh'"), "never itself as the real ssh")
    }

    @Test func aFolderOthersCanWriteToIsRefused() throws {
        let (root, bin) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = root + "/control"
        mkdir(folder, 0o700)
        chmod(folder, 0o770)
        #expect(throws: OrchestratorError.self) { try SSHMultiplex.prepare(["PATH": bin], folder: folder) }
        chmod(folder, 0o704)
        #expect(throws: OrchestratorError.self) { try SSHMultiplex.prepare(["PATH": bin], folder: folder) }
        chmod(folder, 0o700)
        #expect(throws: Never.self) { try SSHMultiplex.prepare(["PATH": bin], folder: folder) }
    }

    @Test func aLinkInPlaceOfTheFolderIsRefused() throws {
        let (root, bin) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let target = root + "/elsewhere"
        mkdir(target, 0o700)
        symlink(target, root + "/control")
        #expect(throws: OrchestratorError.self) { try SSHMultiplex.prepare(["PATH": bin], folder: root + "/control") }
    }

    @Test func sharingTurnedOffOrNoSshLeavesTheEnvironmentAlone() throws {
        let (root, bin) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let off = ["PATH": bin, "BGCTL_SSH_MULTIPLEX": "0"]
        #expect(try SSHMultiplex.prepare(off, folder: root + "/control") == off)
        #expect(!FileManager.default.fileExists(atPath: root + "/control"))
        let none = ["PATH": root + "/nothing-here"]
        #expect(try SSHMultiplex.prepare(none, folder: root + "/control") == none)
    }

    @Test func aQuoteInThePathOfTheRealSshIsQuoted() {
        #expect(SSHMultiplex.quote("/o'dd/ssh") == "'/o'\\''dd/ssh'")
    }

    @Test func theDefaultFolderIsShortAndPerUser() {
        #expect(SSHMultiplex.defaultFolder(["XDG_RUNTIME_DIR": "/run/user/1000"]) == "/run/user/1000/bgctl-ssh")
        #expect(SSHMultiplex.defaultFolder([:]) == "/tmp/bgctl-ssh-\(getuid())")
        #expect(SSHMultiplex.defaultFolder(["XDG_RUNTIME_DIR": "relative"]) == "/tmp/bgctl-ssh-\(getuid())")
        #expect(SSHMultiplex.defaultFolder(["XDG_RUNTIME_DIR": "/run/user/1%d"]) == "/tmp/bgctl-ssh-\(getuid())", "ssh would read %d")
        #expect(SSHMultiplex.defaultFolder(["XDG_RUNTIME_DIR": "/run/my user"]) == "/tmp/bgctl-ssh-\(getuid())", "a space ends the option")
    }

    @Test func noMoreThanTheLimitOfCallsRunAtOnceOnOneHostAndOtherHostsDoNotWait() {
        let slots = HostSlots(limit: 3)
        let counter = Counter()
        let group = DispatchGroup()
        for index in 0..<12 {
            group.enter()
            Thread.detachNewThread {
                let host = index % 2 == 0 ? "web1" : "web2"
                slots.with(host) {
                    counter.add(host, 1)
                    usleep(30_000)
                    counter.add(host, -1)
                }
                group.leave()
            }
        }
        group.wait()
        #expect(counter.most["web1"] == 3 && counter.most["web2"] == 3, "\(counter.most)")
        #expect(slots.most["web1"] == 3 && slots.most["web2"] == 3)
    }
}

/// Calls in flight per host, and the most seen.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var now: [String: Int] = [:]
    private(set) var most: [String: Int] = [:]
    func add(_ host: String, _ delta: Int) {
        lock.withLock {
            now[host, default: 0] += delta
            most[host] = max(most[host] ?? 0, now[host]!)
        }
    }
}
