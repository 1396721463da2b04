import Foundation
@_exported import struct Support.WriteError
import Support

/// Writes nginx's files so a reader (nginx) sees the old contents or the new, never a truncated file.
/// The folder is created when missing; the write itself is `AtomicFile`'s.
public enum AtomicWriter {
    public static func write(_ contents: String, to path: String, mode: mode_t = 0o644) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw WriteError(path: path, reason: "cannot create \(dir): \(error.localizedDescription)")
        }
        try AtomicFile.write(contents, to: path, mode: mode)
    }

    /// Writes every file of a rendered configuration into `directory`, the main file last so that a
    /// reload never sees a main file that includes a site file not yet written.
    public static func write(_ config: RenderedConfig, into directory: String) throws {
        for name in RenderedConfig.writeOrder {
            guard let contents = config.files[name] else { continue }
            try write(contents, to: (directory as NSString).appendingPathComponent(name))
        }
    }
}
