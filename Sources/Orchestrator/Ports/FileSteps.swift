import Foundation
import NginxConfigGen

/// The steps that write and remove files in the state folder, through the file system port.
extension Stack {
    /// Writes a configuration's files into `directory`.
    func write(_ config: RenderedConfig, into directory: String) throws {
        // The included file first: a reload never sees a main file naming a site file not yet written.
        for name in RenderedConfig.writeOrder {
            guard let contents = config.files[name] else { continue }
            try ports.files.write(contents, to: (directory as NSString).appendingPathComponent(name), mode: 0o644)
        }
    }

    /// Copies a checked certificate and key into tls/<fingerprint>/ (the key mode 0600).
    func writeTLS(_ material: TLSMaterial) throws {
        // A folder of its own: the installed configuration names another one until install, so should
        // bgctl die between the two writes, or nginx -t refuse, the proxy's files stay as they were.
        // (Only a pair changed by hand in the named folder is rewritten in place: it was broken.)
        guard TLSFiles.isFingerprint(material.fingerprint) else { throw OrchestratorError.tlsNotChecked }
        try ports.files.createDirectory(paths.tlsFolder(material.fingerprint))
        try ports.files.write(material.key.revealed, to: paths.tlsKey(material.fingerprint), mode: 0o600)
        try ports.files.write(material.certificate, to: paths.tlsCertificate(material.fingerprint), mode: 0o644)
    }

    /// Points tls/live at a pair's folder (ACME's layout); the target is checked to be a fingerprint.
    func linkTLS(_ fingerprint: String) throws {
        guard TLSFiles.isFingerprint(fingerprint) else { throw OrchestratorError.tlsNotChecked }
        try ports.files.replaceLink(paths.tlsLink, target: fingerprint)
    }

    /// Removes what else is in tls/ (ACME's link stays); what cannot be removed is reported and left for a later up.
    func pruneTLS(keep: String) {
        for entry in ports.files.list(paths.tlsDir) ?? [] where entry != keep && entry != TLSLink.name {
            let path = (paths.tlsDir as NSString).appendingPathComponent(entry)
            do {
                try ports.files.remove(path)
            } catch {
                report(.warning("could not remove \(paths.relative(path)), which no configuration names; the next bgctl up tries again"))
            }
        }
    }

    func removeFolderIfEmpty(_ folder: String) throws {
        if ports.files.list(folder)?.isEmpty == true { try ports.files.remove(folder) }
    }
}
