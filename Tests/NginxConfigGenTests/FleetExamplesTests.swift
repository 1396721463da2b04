import Foundation
import Testing
@testable import NginxConfigGen

/// examples/fleet/: the load balancers in front of a fleet, as the README shows them. Each is parsed by
/// the real program (nginx -t, haproxy -c) and checks the path a fleet's host answers by default.
@Suite struct FleetExamplesTests {
    static let folder = GoldenTests.examples.appendingPathComponent("fleet")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }

    /// Runs `argv`, returning its exit status and everything it printed.
    static func run(_ argv: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// nginx -t over `snippet` inside http {}, in a scratch prefix; `files` are written beside it.
    static func nginxCheck(_ snippet: String, files: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-lb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: prefix) }
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("logs"), withIntermediateDirectories: true)
        var snippet = snippet
        for (name, contents) in files {
            let path = prefix.appendingPathComponent(name).path
            try contents.write(toFile: path, atomically: true, encoding: .utf8)
            snippet = snippet.replacingOccurrences(of: "/etc/nginx/\(name)", with: path)
        }
        let main = prefix.appendingPathComponent("nginx.conf")
        try "pid nginx.pid;\nevents {}\nhttp {\n\(snippet)\n}\n".write(to: main, atomically: true, encoding: .utf8)
        let nginx = try #require(["/usr/sbin/nginx", "/usr/local/sbin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                 "nginx is not installed; make test installs it")
        return try run([nginx, "-t", "-e", "stderr", "-p", prefix.path + "/", "-c", main.path])
    }

    @Test func nginxAcceptsTheLoadBalancerExample() throws {
        let result = try Self.nginxCheck(try Self.text("nginx-lb.conf"))
        #expect(result.status == 0 && result.output.contains("test is successful"), "\(result.output)")
    }

    /// The sketch's variant: the server lines in a file of their own, as its check writes them.
    @Test func nginxAcceptsTheServerListTheExternalCheckWrites() throws {
        let conf = try Self.text("nginx-lb.conf")
        let lines = conf.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let servers = lines.filter { $0.hasPrefix("    server 10.0.0.") }
        #expect(servers.count == 3)
        let included = lines.filter { !servers.contains($0) }.joined(separator: "\n")
            .replacingOccurrences(of: "    keepalive 32;", with: "    include /etc/nginx/bgctl-shop-fleet.servers;\n    keepalive 32;")
        let written = "server 10.0.0.11:8080 max_fails=2 fail_timeout=5s;\nserver 10.0.0.12:8080 down;\nserver 10.0.0.13:8080 max_fails=2 fail_timeout=5s;\n"
        let result = try Self.nginxCheck(included, files: ["bgctl-shop-fleet.servers": written])
        #expect(result.status == 0, "\(result.output)")
        #expect(conf.contains("include /etc/nginx/bgctl-shop-fleet.servers;") && conf.contains("echo \"server $host down;\""))
    }

    @Test func haproxyAcceptsItsExampleAndChecksTheFleetsHealthPath() throws {
        let haproxy = try #require(["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                   "haproxy is not installed; make test installs it")
        let result = try Self.run([haproxy, "-c", "-f", Self.folder.appendingPathComponent("haproxy.cfg").path])
        #expect(result.status == 0 && !result.output.contains("WARNING"), "\(result.output)")
        let text = try Self.text("haproxy.cfg")
        #expect(text.contains("option httpchk GET \(FleetSpec.defaultHealthPath)\n"))
        #expect(text.contains("http-check expect status 200\n"))
        #expect(text.contains("default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions\n"))
    }

    @Test func bothExamplesReachTheSameHostsOnTheProxysPort() throws {
        for name in ["nginx-lb.conf", "haproxy.cfg"] {
            let text = try Self.text(name)
            for host in ["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"] {
                #expect(text.contains(host), "\(name) lacks \(host)")
            }
        }
    }
}
