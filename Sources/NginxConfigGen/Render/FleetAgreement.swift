/// The fleet's agreement as each host's proxy reads it: an empty file per pool the fleet agreed on
/// (`agreed-blue`, `agreed-green`) in fleet/, beside the route inside the proxy's configuration mount
/// (so the proxy sees it read-only with no mount of its own). The proxy tests
/// `-f <folder>/agreed-$live` on every request to fleet.health_path: no reload, as with the route.
public enum FleetAgreement {
    /// The folder's name in the proxy's configuration folder (nginx/ in the state folder).
    public static let folder = "fleet"
    /// The folder as the proxy sees it.
    public static let mount = "/bgctl/conf/\(folder)"

    /// What the name of each pool's file starts with; the pool's name follows.
    public static let filePrefix = "agreed-"

    /// The file that says the fleet agreed on `pool`.
    public static func fileName(_ pool: Pool) -> String { filePrefix + pool.rawValue }
}
