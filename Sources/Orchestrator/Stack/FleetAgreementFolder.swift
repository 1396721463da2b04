import Foundation
import NginxConfigGen

extension Stack {
    /// Makes `pools` the set the fleet agreed on, as this host's proxy reads it (`FleetAgreement`):
    /// the folder is created, each new pool's file written, then the files of pools no longer in the
    /// set removed, so a pool in both the set before and `pools` is never out in between. An empty set
    /// takes the host out: its fleet health path answers 503 whichever pool it serves.
    /// Stopped half-way, the files are the union of both sets (the next call finishes). Not serialised
    /// here: call it under the stack's lock, as an agent's session holds it.
    public func agreeFleet(_ pools: Set<Pool>) throws {
        let folder = paths.fleetDir
        try ports.files.createDirectory(folder)
        let present = Set(ports.files.list(folder) ?? [])
        let wanted = pools.sorted().map(FleetAgreement.fileName)
        let missing = wanted.filter { !present.contains($0) }
        if !missing.isEmpty { try ports.files.createEmptyFiles(missing, in: folder) }
        for pool in Pool.allCases where !pools.contains(pool) && present.contains(FleetAgreement.fileName(pool)) {
            try ports.files.remove((folder as NSString).appendingPathComponent(FleetAgreement.fileName(pool)))
        }
    }

    /// The pools the fleet agreed on, as this host's proxy reads them; nil when there is no agreement
    /// folder (not a fleet's host, or one whose agent has not agreed on anything yet). Other entries
    /// in the folder are not pools and are ignored, as the proxy ignores them.
    public func fleetAgreement() -> Set<Pool>? {
        guard let names = ports.files.list(paths.fleetDir) else { return nil }
        return Set(Pool.allCases.filter { names.contains(FleetAgreement.fileName($0)) })
    }
}
