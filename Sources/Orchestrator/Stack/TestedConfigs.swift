import Foundation
import NginxConfigGen
import Support

/// Configurations the running proxy container's nginx has already accepted. `nginx -t` depends only on
/// the bytes and on the nginx inside that container, so bytes it accepted once need no second test
/// while the same container runs (same id, same start time). A switch back to the previous pool then
/// costs no `docker exec` (~60 ms), which is most of the time before traffic moves.
public struct TestedConfigs: Codable, Sendable, Equatable {
    var container: String
    var startedAt: String
    var digests: [String]

    static func key(_ proxy: ContainerInfo) -> (String, String) {
        (proxy.id, proxy.startedAt.map { String($0.timeIntervalSince1970) } ?? "")
    }

    static func digest(_ config: RenderedConfig) -> String {
        var hasher = FNV1a()
        for name in RenderedConfig.writeOrder {
            hasher.add("\(name)\u{0}\(config.files[name] ?? "")\u{0}")
        }
        let total = RenderedConfig.writeOrder.reduce(0) { $0 + (config.files[$1]?.utf8.count ?? 0) }
        return String(hasher.value, radix: 16) + "-" + String(total)
    }

    static func load(_ paths: StackPaths, files: FileSystem) -> TestedConfigs? {
        ((try? files.read(paths.testedFile, limit: FileLimits.stateFile)) ?? nil).flatMap { try? JSONDecoder().decode(TestedConfigs.self, from: $0) }
    }

    func accepted(_ config: RenderedConfig, by proxy: ContainerInfo) -> Bool {
        let (id, started) = Self.key(proxy)
        return container == id && startedAt == started && digests.contains(Self.digest(config))
    }

    /// Remembers that `proxy` accepted `config`; entries of an earlier container are dropped.
    static func record(_ config: RenderedConfig, by proxy: ContainerInfo, _ paths: StackPaths, files: FileSystem) {
        let (id, started) = key(proxy)
        var tested = TestedConfigs(container: id, startedAt: started, digests: [])
        if let previous = load(paths, files: files), previous.container == id, previous.startedAt == started {
            tested = previous
        }
        let digest = digest(config)
        tested.digests.removeAll { $0 == digest }
        tested.digests.append(digest)
        tested.digests = Array(tested.digests.suffix(8))
        if let data = try? JSONEncoder().encode(tested) {
            try? files.write(String(decoding: data, as: UTF8.self), to: paths.testedFile, mode: 0o644)
        }
    }
}
