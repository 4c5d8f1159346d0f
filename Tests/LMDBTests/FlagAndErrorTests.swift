import CLMDB
import Foundation
import TestSupport
import LMDB
import Testing

@Suite struct FlagAndErrorTests {
    @Test func flagsCarryLMDBsOwnConstants() {
        #expect(EnvironmentFlags.noTLS.rawValue == UInt32(MDB_NOTLS))
        #expect(EnvironmentFlags.noSubdirectory.rawValue == UInt32(MDB_NOSUBDIR))
        #expect(EnvironmentFlags.readOnly.rawValue == UInt32(MDB_RDONLY))
        #expect(EnvironmentFlags.noSync.rawValue == UInt32(MDB_NOSYNC))
        #expect(EnvironmentFlags.writeMap.rawValue == UInt32(MDB_WRITEMAP))
        #expect(DatabaseFlags.create.rawValue == UInt32(MDB_CREATE))
        #expect(DatabaseFlags.duplicateSort.rawValue == UInt32(MDB_DUPSORT))
        #expect(DatabaseFlags.reverseKey.rawValue == UInt32(MDB_REVERSEKEY))
        #expect(DatabaseFlags.integerKey.rawValue == UInt32(MDB_INTEGERKEY))
        #expect(DatabaseFlags.duplicateFixed.rawValue == UInt32(MDB_DUPFIXED))
        #expect(WriteFlags.noOverwrite.rawValue == UInt32(MDB_NOOVERWRITE))
        #expect(WriteFlags.noDuplicateData.rawValue == UInt32(MDB_NODUPDATA))
        #expect(WriteFlags.append.rawValue == UInt32(MDB_APPEND))
        #expect(WriteFlags.current.rawValue == UInt32(MDB_CURRENT))
    }

    @Test func aFileWhereTheStoreShouldBeIsAClearError() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let file = dir.path + "/not-a-dir"
        _ = FileManager.default.createFile(atPath: file, contents: Data([1, 2, 3]))
        let error = #expect(throws: LMDBError.self) { try Environment(path: file) }
        #expect(error?.code == ENOTDIR)
        #expect(error?.description.contains("must be a directory") == true)
        #expect(error?.description.contains(file) == true)
    }

    @Test func aReadOnlyDirectoryIsAClearError() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try dir.readOnlySubdirectory()
        let command = unprivileged(builtExecutable("lmdb-test-helper"), ["open", store])
        let (status, text, _) = try runToCompletion(command.path, command.arguments)
        #expect(status == 1)
        #expect(text.contains("Permission denied"), "\(text)")
        #expect(text.contains("write access"), "\(text)")
    }

    @Test func aFileThatIsNotAStoreIsRefused() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        _ = FileManager.default.createFile(atPath: dir.path + "/data.mdb", contents: Data(repeating: 0xAB, count: 64 << 10))
        let error = #expect(throws: LMDBError.self) { try Environment(path: dir.path) }
        #expect(error?.code == MDB_INVALID)
    }
}
