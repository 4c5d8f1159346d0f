import Foundation
import TestSupport
import LMDB
import Testing

@Suite struct CrashTests {
    /// A child process writes until it is killed with SIGKILL; every transaction it reported committed
    /// is there after reopening, and nothing half-written is.
    @Test(arguments: ["writer", "writer-writemap"])
    func killedWriterLosesNothingCommitted(mode: String) throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        for round in 0..<3 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: builtExecutable("lmdb-test-helper"))
            process.arguments = [mode, dir.path]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            var reported = 0
            var buffer = Data()
            let target = 2000 * (round + 1)
            while reported < target {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                let lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n")
                if let last = lines.last(where: { $0.hasPrefix("committed ") }), let n = Int(last.dropFirst(10)) { reported = n }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            #expect(reported >= target)

            let env = try Environment(path: dir.path)
            let db = try env.openDatabase("crash", flags: [])
            try env.read { (txn) throws in
                let count = try txn.count(db)
                // Committed in tens: never a partial transaction.
                #expect(count >= reported && count % 10 == 0)
                for key in [0, reported / 2, reported - 1].map(UInt64.init) {
                    #expect(try txn.get(db, KeyBuilder.key(key)) == Array(repeating: UInt8(truncatingIfNeeded: key), count: 1000))
                }
            }
        }
    }
}
