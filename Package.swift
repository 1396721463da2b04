// swift-tools-version:6.0
import PackageDescription

/// What `bgctl --version` says it was built from: BGCTL_COMMIT and BGCTL_BUILD_DATE in the build's
/// environment (the Makefile sets them for release, install and dist). Only the C target sees them,
/// so a new commit recompiles one file, and a plain `swift build` says "commit unknown". A value
/// with anything but letters, digits, '.', '_' and '-' is ignored rather than quoted into C.
let buildInfo: [CSetting] = ["BGCTL_COMMIT", "BGCTL_BUILD_DATE"].compactMap { name in
    guard let value = Context.environment[name], !value.isEmpty, value.count <= 64,
          value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else { return nil }
    return .define(name, to: "\"\(value)\"")
}

let package = Package(
    name: "bgctl",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "bgctl", targets: ["bgctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        .executableTarget(
            name: "bgctl",
            dependencies: [
                "Orchestrator",
                "NginxConfigGen",
                "Watcher",
                "CBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "CBuildInfo", cSettings: buildInfo),
        .executableTarget(
            name: "bgctl-bench",
            dependencies: ["Watcher"],
            path: "bench/Sources/bgctl-bench"
        ),
        .target(name: "Orchestrator", dependencies: ["NginxConfigGen", "Watcher", "HTTPClient", "Support", "ACME",
                                                     .product(name: "X509", package: "swift-certificates")]),
        // ACME (RFC 8555): account, orders, HTTP-01 challenges, the CSR; keys and signatures with swift-crypto.
        .target(name: "ACME", dependencies: ["HTTPClient", .product(name: "Crypto", package: "swift-crypto"),
                                             .product(name: "X509", package: "swift-certificates"),
                                             .product(name: "SwiftASN1", package: "swift-asn1")]),
        .target(
            name: "NginxConfigGen",
            dependencies: [
                "Support",
                "COpenSSL",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .target(
            name: "Watcher",
            dependencies: ["HTTPClient", "Support", .product(name: "Prometheus", package: "swift-prometheus")]
        ),
        // Small shared pieces (atomic writes, hashing, formatting); depends on nothing of ours.
        .target(name: "Support"),
        .target(name: "HTTPClient", dependencies: ["CCurl"]),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // libcrypto, to check proxy.tls's certificate and key before nginx is asked to load them.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // The seeded generator the fuzz and table tests of every target use; no product includes it.
        .target(name: "FuzzSupport", path: "Tests/FuzzSupport"),
        .testTarget(
            name: "NginxConfigGenTests",
            dependencies: ["NginxConfigGen", "FuzzSupport"],
            path: "Tests/NginxConfigGenTests",
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "SupportTests",
            dependencies: ["Support"],
            path: "Tests/SupportTests"
        ),
        .testTarget(
            name: "WatcherTests",
            dependencies: ["Watcher", "HTTPClient", "Support", "FuzzSupport"],
            path: "Tests/WatcherTests"
        ),
        .testTarget(
            name: "OrchestratorTests",
            dependencies: ["Orchestrator", "NginxConfigGen", "HTTPClient", "FuzzSupport"],
            path: "Tests/OrchestratorTests"
        ),
        .testTarget(
            name: "ACMETests",
            dependencies: ["ACME", "HTTPClient", .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1")],
            path: "Tests/ACMETests"
        ),
        // Runs the built bgctl binary as a person would; imports none of bgctl's modules.
        .testTarget(name: "CLITests", path: "Tests/CLITests"),
    ],
    swiftLanguageModes: [.v6]
)
