import Foundation
import Testing
import Support

struct AtomicFileTests {
    /// A fresh folder per test, removed at the end.
    final class Folder {
        let path: String
        init() {
            path = NSTemporaryDirectory() + "bgctl-atomic-\(UUID().uuidString)"
            try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func file(_ name: String) -> String { path + "/" + name }
        func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    }

    @Test func theFileHoldsTheContentsWithTheModeAsked() throws {
        let folder = Folder()
        let path = folder.file("status.json")
        try AtomicFile.write("{\"a\":1}\n", to: path, mode: 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"a\":1}\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(folder.names() == ["status.json"], "no temp file is left behind")
    }

    @Test func anExistingFileIsReplacedWhole() throws {
        let folder = Folder()
        let path = folder.file("state.json")
        try AtomicFile.write(String(repeating: "x", count: 10_000), to: path)
        try AtomicFile.write(Data("short".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "short")
    }

    @Test func symlinksPlantedAtGuessableTempNamesAreNotFollowed() throws {
        let folder = Folder()
        let victim = folder.file("victim")
        try "untouched".write(toFile: victim, atomically: false, encoding: .utf8)
        let path = folder.file("status.json")
        // The names earlier writers used: `.NAME.tmp-PID` and `NAME.tmp`.
        let planted = [folder.file(".status.json.tmp-\(getpid())"), folder.file("status.json.tmp")]
        for link in planted { try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim) }
        try AtomicFile.write("new", to: path, mode: 0o600)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
        #expect(folder.names() == [".status.json.tmp-\(getpid())", "status.json", "status.json.tmp", "victim"].sorted())
    }

    @Test func aMissingFolderIsAWriteErrorAndNothingIsCreated() {
        let folder = Folder()
        let path = folder.file("missing/status.json")
        #expect {
            try AtomicFile.write("x", to: path)
        } throws: { error in
            (error as? WriteError)?.path == path
        }
        #expect(folder.names().isEmpty)
    }

    @Test func aFailedRenameLeavesNoTempFile() throws {
        let folder = Folder()
        // rename(2) cannot replace a non-empty directory with a file.
        let path = folder.file("occupied")
        try FileManager.default.createDirectory(atPath: path + "/inside", withIntermediateDirectories: true)
        #expect(throws: WriteError.self) { try AtomicFile.write("x", to: path) }
        #expect(folder.names() == ["occupied"])
    }
}
