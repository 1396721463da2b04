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
