import Foundation
import Testing

/// Throwaway self-signed certificates made by the openssl command line tool, in a fresh folder.
enum TestCertificates {
    struct Pair {
        let folder: URL
        let cert: String
        let key: String
    }

    static let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// An EC P-256 key and a certificate for it valid from now for `days` days, named `name`.pem/.key.
    static func make(days: Int = 30, name: String = "site", in folder: URL? = nil) throws -> Pair {
        let folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let cert = folder.appendingPathComponent("\(name).pem").path
        let key = folder.appendingPathComponent("\(name).key").path
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", cert, "-days", String(days), "-subj", "/CN=bgctl.test"])
        return Pair(folder: folder, cert: cert, key: key)
    }

    /// Runs openssl with `arguments`; its output is returned, a failure fails the test.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(openssl, "the openssl tool is not installed; make setup installs it"))
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl \(arguments.joined(separator: " ")) failed:\n\(output)")
        return output
    }
}
