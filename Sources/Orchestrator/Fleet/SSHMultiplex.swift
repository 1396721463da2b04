import Foundation

/// ssh:// hosts share one connection per host. The docker CLI starts `ssh` from PATH for every call
/// (docker/cli#2132, reverted), so bgctl puts a folder of its own first on the CLI's PATH, holding an
/// `ssh` that runs the real one with connection sharing (`ControlMaster=auto`, a control socket in that
/// folder, `ControlPersist` so the next bgctl command reuses it), a connect timeout and keep-alives.
/// The folder is the user's alone (0700, owned by them), checked before each use: never one another
/// user could have put there. `BGCTL_SSH_MULTIPLEX=0` leaves ssh as the user's configuration has it.
public enum SSHMultiplex {
    /// How long an idle shared connection stays open after the last call.
    public static let persist = "60s"

    /// The options the wrapper adds, in front of the CLI's own.
    public static func options(controlFolder: String) -> [String] {
        ["-o", "ControlMaster=auto", "-o", "ControlPath=\(controlFolder)/%C", "-o", "ControlPersist=\(persist)",
         "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
    }

    /// The wrapper's text: `exec REAL OPTIONS "$@"`, every word single-quoted.
    public static func script(real: String, controlFolder: String) -> String {
        let words = ([real] + options(controlFolder: controlFolder)).map(quote).joined(separator: " ")
        return "#!/bin/sh\n# Written by bgctl: ssh with connection sharing for docker's ssh:// hosts.\nexec \(words) \"$@\"\n"
    }

    static func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// `environment` with the wrapper's folder first on PATH, writing the wrapper when it is missing or
    /// differs; `environment` unchanged when sharing is turned off or no ssh is on PATH. Throws when the
    /// folder exists but is not this user's private folder.
    public static func prepare(_ environment: [String: String], folder: String? = nil) throws -> [String: String] {
        guard environment["BGCTL_SSH_MULTIPLEX"] != "0" else { return environment }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let folder = folder ?? defaultFolder(environment)
        guard let real = path.split(separator: ":").map(String.init).filter({ $0 != folder })
            .map({ "\($0)/ssh" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return environment }
        try privateFolder(folder)
        let text = script(real: real, controlFolder: folder)
        let wrapper = folder + "/ssh"
        if (try? String(contentsOfFile: wrapper, encoding: .utf8)) != text {
            let temporary = wrapper + ".\(getpid()).tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o700]) else {
                throw OrchestratorError.launchFailed(command: "writing \(wrapper)", reason: "cannot create the file")
            }
            guard rename(temporary, wrapper) == 0 else {
                let why = String(cString: strerror(errno))
                unlink(temporary)
                throw OrchestratorError.launchFailed(command: "writing \(wrapper)", reason: why)
            }
        }
        var changed = environment
        changed["PATH"] = folder + ":" + path
        return changed
    }

    /// $XDG_RUNTIME_DIR/bgctl-ssh when set (a per-user tmpfs), else /tmp/bgctl-ssh-UID. Short: a control
    /// socket's path must fit in 108 bytes.
    static func defaultFolder(_ environment: [String: String]) -> String {
        // ssh reads "%" in ControlPath as a token and a space as the option's end: such a folder is not used.
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/"), runtime.utf8.count < 40,
           runtime.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || "0123456789/._-".unicodeScalars.contains($0)) }) {
            return runtime + "/bgctl-ssh"
        }
        return "/tmp/bgctl-ssh-\(getuid())"
    }

    /// Creates `folder` 0700, or checks that the one there is a real folder (not a link), owned by this
    /// user, that nobody else can write to or read.
    static func privateFolder(_ folder: String) throws {
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw OrchestratorError.launchFailed(command: "creating \(folder)", reason: String(cString: strerror(errno)))
        }
        var info = stat()
        guard lstat(folder, &info) == 0 else {
            throw OrchestratorError.launchFailed(command: "checking \(folder)", reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
            throw OrchestratorError.launchFailed(command: "using \(folder) for ssh's shared connections",
                                                 reason: "it is not a folder of this user's alone (0700); remove it, or set BGCTL_SSH_MULTIPLEX=0")
        }
    }
}

/// At most `limit` calls at once to each host (sshd's MaxSessions is 10 by default, and every call or
/// session of a shared connection is one of them): a call waits for a slot.
public final class HostSlots: @unchecked Sendable {
    public static let shared = HostSlots(limit: 8)

    public let limit: Int
    private let condition = NSCondition()
    private var busy: [String: Int] = [:]
    private(set) var most: [String: Int] = [:]

    public init(limit: Int) { self.limit = max(1, limit) }

    public func acquire(_ host: String) {
        condition.lock()
        while busy[host, default: 0] >= limit { condition.wait() }
        busy[host, default: 0] += 1
        most[host] = max(most[host] ?? 0, busy[host]!)
        condition.unlock()
    }

    public func release(_ host: String) {
        condition.lock()
        busy[host] = max(0, busy[host, default: 0] - 1)
        condition.broadcast()
        condition.unlock()
    }

    public func with<T>(_ host: String, _ body: () throws -> T) rethrows -> T {
        acquire(host)
        defer { release(host) }
        return try body()
    }
}
