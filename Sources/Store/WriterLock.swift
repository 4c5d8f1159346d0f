import Foundation
import Glibc
import LMDB

/// The right to write a store directory, held by one process at a time: an exclusive `flock` on
/// `<store>/writer.lock`, which also records who holds it. The kernel releases it when the holder exits,
/// however it exits, so a crash leaves no stale lock.
///
/// LMDB serialises write transactions across processes, but a second writing process would still map
/// the store with a map size of its own; with the write map that the daemon uses, opening the map sets
/// the file's length, so a smaller map cuts off pages the daemon writes through (a SIGBUS). One writing
/// process per store rules that out; readers open the store read-only and never change the file.
final class WriterLock: Sendable {
    private let fd: Int32

    /// Takes the lock of the store at `directory` (creating the directory if needed) for `holder`, a
    /// short description of this process such as "onerec serve"; throws `StoreInUse` if another process
    /// has it.
    init(directory: String, holder: String) throws {
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw LMDBError(code: errno, operation: "create store directory \(directory)")
        }
        let path = directory + "/writer.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open the store's writer lock \(path)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            defer { close(fd) }
            guard code == EWOULDBLOCK else { throw LMDBError(code: code, operation: "lock \(path)") }
            throw StoreInUse(path: directory, holder: Self.record(fd))
        }
        let since = ISO8601DateFormatter().string(from: Date())
        let record = Array("pid \(getpid()), \(holder), since \(since)\n".utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, record, record.count, 0) == record.count else {
            let code = errno
            close(fd)
            throw LMDBError(code: code, operation: "write \(path)")
        }
    }

    deinit { close(fd) }

    /// What the holder wrote into the lock file ("pid N, command, since T"), if anything.
    private static func record(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}

/// Another process holds the store's writer lock.
public struct StoreInUse: Error, CustomStringConvertible {
    /// The store directory.
    public let path: String
    /// Who holds it, as the holder recorded it: "pid N, onerec serve, since T".
    public let holder: String?

    public var description: String { "the store at \(path) is being written by another process (\(holder ?? "holder unknown"))" }
}
