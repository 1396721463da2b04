import Foundation
import Support

/// The share of traffic each pool gets, as the stack's recorded state says: `{"live": "blue"}` gives
/// blue 100 and green 0; a `weights` object (`{"blue": 95, "green": 5}`) is taken as it is. Reads only
/// those two keys, so it can read state.json itself (whose deployed env it never keeps) or the
/// watcher's copy, `pools.json`.
public enum PoolWeights {
    public static let pools = ["blue", "green"]

    /// Nil when the text says neither: no live pool, a weight outside 0–100, or a pool bgctl does not know.
    public static func parse(_ data: Data) -> [String: Int]? {
        guard let shape = try? JSONDecoder().decode(Shape.self, from: data) else { return nil }
        if let given = shape.weights {
            guard !given.isEmpty, given.allSatisfy({ pools.contains($0.key) && (0...100).contains($0.value) }) else { return nil }
            return Dictionary(uniqueKeysWithValues: pools.map { ($0, given[$0] ?? 0) })
        }
        guard let live = shape.live, pools.contains(live) else { return nil }
        return Dictionary(uniqueKeysWithValues: pools.map { ($0, $0 == live ? 100 : 0) })
    }

    private struct Shape: Decodable {
        var live: String?
        var weights: [String: Int]?
    }

    /// Reads `path` (at most 1 MiB); nil when it does not exist or does not parse.
    public static func load(path: String) -> [String: Int]? {
        guard let bytes = BoundedRead.contents(of: path, limit: 1 << 20) else { return nil }
        return parse(Data(bytes))
    }

    /// The watcher's copy of the live pool and weights (nothing else), written beside state.json.
    public static func snapshot(live: String, weights: [String: Int]? = nil) -> Data {
        var object: [String: Any] = ["live": live]
        if let weights { object["weights"] = weights }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }
}
