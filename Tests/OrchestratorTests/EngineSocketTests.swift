import Foundation
import Testing
@testable import Orchestrator

/// When bgctl asks the engine's socket directly and when it leaves every call to the docker CLI.
@Suite struct EngineSocketTests {
    /// A unix socket bound in a fresh folder: what `local` accepts as the engine's.
    static func socket() throws -> (folder: String, path: String) {
        let folder = Fixture.tempDir()
        let path = folder + "/docker.sock"
        let fd = Foundation.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        return (folder, path)
    }

    @Test func aUnixDockerHostThatIsASocketIsUsed() throws {
        let (folder, path) = try Self.socket()
        #expect(EngineSocket.local(environment: ["DOCKER_HOST": "unix://" + path, "HOME": folder])?.path == path)
    }

    @Test(arguments: [
        ["DOCKER_HOST": "tcp://127.0.0.1:2375"],
        ["DOCKER_HOST": "ssh://deploy@host"],
        ["DOCKER_CONTEXT": "remote"],
        ["BGCTL_DOCKER_API": "0"],
    ])
    func anEngineTheCLIWouldReachElsewhereIsLeftToTheCLI(_ extra: [String: String]) throws {
        let (folder, path) = try Self.socket()
        var environment = ["DOCKER_HOST": "unix://" + path, "HOME": folder]
        environment.merge(extra) { _, given in given }
        #expect(EngineSocket.local(environment: environment) == nil)
    }

    @Test func aCurrentContextInTheCLIsConfigLeavesItToTheCLI() throws {
        let (folder, path) = try Self.socket()
        try FileManager.default.createDirectory(atPath: folder + "/.docker", withIntermediateDirectories: true)
        try #"{"currentContext": "fleet-1"}"#.write(toFile: folder + "/.docker/config.json", atomically: true, encoding: .utf8)
        #expect(EngineSocket.local(environment: ["DOCKER_HOST": "unix://" + path, "HOME": folder]) == nil)
    }

    @Test func aPathThatIsNotASocketIsNotUsed() throws {
        let folder = Fixture.tempDir()
        try "".write(toFile: folder + "/docker.sock", atomically: true, encoding: .utf8)
        #expect(EngineSocket.local(environment: ["DOCKER_HOST": "unix://\(folder)/docker.sock", "HOME": folder]) == nil)
    }

    @Test func aNameOutsideBgctlsOwnIsNotAskedThroughTheSocket() throws {
        let (_, path) = try Self.socket()
        #expect(EngineSocket(path: path).inspect(["shop-blue/../../images"]) == nil)
    }
}
