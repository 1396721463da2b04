import Foundation
import Testing

/// Throwaway certificates made by the openssl command line tool, in a fresh folder: self-signed, or a
/// chain from a test CA.
enum TestCertificates {
    struct Pair {
        let folder: URL
        let cert: String
        let key: String
    }

    static let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The kind of key a certificate is made for.
    enum Key {
        case ecP256
        case rsa(bits: Int)

        var newKey: [String] {
            switch self {
            case .ecP256: return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
            case .rsa(let bits): return ["-newkey", "rsa:\(bits)"]
            }
        }
    }

    /// A key and a self-signed certificate for it valid from now for `days` days, named `name`.pem/.key,
    /// signed with `digest` (an openssl digest name: sha256, sha1, md5).
    static func make(days: Int = 30, name: String = "site", in folder: URL? = nil, key kind: Key = .ecP256,
                     digest: String = "sha256") throws -> Pair {
        let folder = try folder ?? newFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let cert = folder.appendingPathComponent("\(name).pem").path
        let key = folder.appendingPathComponent("\(name).key").path
        try run(["req", "-x509"] + kind.newKey + ["-nodes", "-\(digest)",
                 "-keyout", key, "-out", cert, "-days", String(days), "-subj", "/CN=bgctl.test"])
        return Pair(folder: folder, cert: cert, key: key)
    }

    /// A CA's chain as a real one is issued: a self-signed root, `intermediates` CAs each signed by the
    /// one before, and a leaf signed by the last, all with keys of `key`'s kind (ECDSA cannot sign with MD5: RSA can).
    struct Chain {
        let folder: URL
        /// PEM text of each certificate: the root first, then the intermediates in issuing order.
        let authorities: [String]
        let leaf: Pair

        var root: String { authorities[0] }
        /// The intermediates, the one that signed the leaf first: the order they go in after the leaf.
        var intermediates: [String] { authorities.dropFirst().reversed() }
        var leafText: String { get throws { try String(contentsOfFile: leaf.cert, encoding: .utf8) } }

        /// `blocks` written one after the other into `name` in the chain's folder; the path.
        func write(_ blocks: [String], _ name: String = "chain.pem") throws -> String {
            let path = folder.appendingPathComponent(name).path
            try blocks.joined().write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    /// `digests` overrides the digest each certificate is signed with, by position: 0 is the root,
    /// 1... the intermediates, `intermediates + 1` the leaf; sha256 elsewhere.
    static func chain(intermediates: Int = 1, key: Key = .ecP256, digests: [Int: String] = [:]) throws -> Chain {
        let folder = try newFolder()
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        let newKey = key.newKey
        try run(["req", "-x509"] + newKey + ["-nodes", "-\(digests[0] ?? "sha256")", "-keyout", path("ca0.key"), "-out", path("ca0.pem"),
                 "-days", "30", "-subj", "/CN=bgctl test root"])
        try "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
            .write(toFile: path("ca.ext"), atomically: true, encoding: .utf8)
        try "basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=DNS:bgctl.test\n"
            .write(toFile: path("leaf.ext"), atomically: true, encoding: .utf8)
        var issuer = "ca0"
        for level in 0...intermediates {
            let isLeaf = level == intermediates
            let name = isLeaf ? "site" : "ca\(level + 1)"
            try run(["req", "-new"] + newKey + ["-nodes", "-keyout", path("\(name).key"), "-out", path("\(name).csr"),
                     "-subj", isLeaf ? "/CN=bgctl.test" : "/CN=bgctl test intermediate \(level + 1)"])
            try run(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(issuer).pem"), "-CAkey", path("\(issuer).key"),
                     "-set_serial", String(level + 2), "-days", "30", "-\(digests[level + 1] ?? "sha256")",
                     "-extfile", path(isLeaf ? "leaf.ext" : "ca.ext"), "-out", path("\(name).pem")])
            issuer = name
        }
        let authorities = try (0...intermediates).map { try String(contentsOfFile: path("ca\($0).pem"), encoding: .utf8) }
        return Chain(folder: folder, authorities: authorities, leaf: Pair(folder: folder, cert: path("site.pem"), key: path("site.key")))
    }

    static func newFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
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
