import Foundation
import Testing
@testable import NginxConfigGen

/// Throwaway P-256 pairs from the openssl tool, valid from now: what the store, the renewal and
/// `status` read back and check as they would a CA's.
enum TestPairs {
    /// cert.pem and key.pem in `folder`, valid for `days`, with `sans` as DNS names (none: no SAN).
    static func write(days: Int = 30, sans: [String] = [], in folder: String) throws {
        let openssl = try #require(["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                   "the openssl tool is not installed; make setup installs it")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem", "-days", String(days), "-subj", "/CN=shop.example.com"]
            + (sans.isEmpty ? [] : ["-addext", "subjectAltName=" + sans.map { "DNS:\($0)" }.joined(separator: ",")])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
    }

    /// A pair read back and checked as `TLSFiles.load` does.
    static func material(days: Int = 30) throws -> TLSMaterial {
        let folder = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try write(days: days, in: folder)
        guard case .success(let material) = TLSFiles.load(cert: folder + "/cert.pem", key: folder + "/key.pem", now: Date()) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return material
    }

    /// The certificate's PEM alone.
    static func certificate(days: Int = 30, sans: [String] = []) throws -> String {
        let folder = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try write(days: days, sans: sans, in: folder)
        return try String(contentsOfFile: folder + "/cert.pem", encoding: .utf8)
    }
}
