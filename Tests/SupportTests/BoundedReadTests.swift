import Foundation
import Testing
import Support

struct BoundedReadTests {
    @Test func aSmallFileIsReadWhole() throws {
        let path = NSTemporaryDirectory() + "bgctl-bounded-\(UUID().uuidString)"
        defer { unlink(path) }
        try AtomicFile.write("hello", to: path)
        #expect(BoundedRead.contents(of: path, limit: 5) == Array("hello".utf8))
    }

    @Test func aFileOverTheLimitIsRefusedNotCut() throws {
        let path = NSTemporaryDirectory() + "bgctl-bounded-\(UUID().uuidString)"
        defer { unlink(path) }
        try AtomicFile.write("hello!", to: path)
        #expect(BoundedRead.contents(of: path, limit: 5) == nil)
    }

    @Test func aMissingFileOrAFolderIsNil() {
        #expect(BoundedRead.contents(of: "/nonexistent/bgctl", limit: 100) == nil)
        #expect(BoundedRead.contents(of: NSTemporaryDirectory(), limit: 100) == nil)
    }
}

struct BoundedTailTests {
    static func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "bgctl-tail-\(UUID().uuidString)"
        try AtomicFile.write(text, to: path)
        return path
    }

    @Test func aFileWithinTheLimitIsReadWhole() throws {
        let path = try Self.file("a\nb\n")
        defer { unlink(path) }
        #expect(BoundedRead.tail(of: path, limit: 4) == Array("a\nb\n".utf8))
    }

    @Test func aLineCutByTheLimitIsLeftOut() throws {
        let path = try Self.file("aa\nb\n")
        defer { unlink(path) }
        #expect(BoundedRead.tail(of: path, limit: 4) == Array("b\n".utf8))
    }

    @Test func aLineThatStartsExactlyAtTheLimitIsKept() throws {
        let path = try Self.file("a\nbc\n")
        defer { unlink(path) }
        #expect(BoundedRead.tail(of: path, limit: 3) == Array("bc\n".utf8))
    }

    @Test func aFIFOIsNotRead() throws {
        let path = NSTemporaryDirectory() + "bgctl-fifo-\(UUID().uuidString)"
        mkfifo(path, 0o600)
        defer { unlink(path) }
        #expect(BoundedRead.tail(of: path, limit: 3) == nil)
        #expect(BoundedRead.read(path, limit: 3) == .notRegular)
    }
}
