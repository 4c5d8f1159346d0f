import Foundation
import Glibc
import TestSupport
import Testing

/// Bad environments end `onerec serve` with a non-zero exit and a last line that names the problem and
/// the fix; never a trap.
@Suite struct StartupErrorTests {
    func serve(_ environment: [String: String], asNobody: Bool = false) throws -> (status: Int32, lastLine: String) {
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = nil
        env["ONEREC_HTTP_PORT"] = "\(try freePort())"
        env.merge(environment) { $1 }
        let command = asNobody ? unprivileged(builtExecutable("onerec"), ["serve"]) : (builtExecutable("onerec"), ["serve"])
        let result = try runToCompletion(command.0, command.1, environment: env)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        return (result.status, lines.last ?? "")
    }

    @Test func aStorePathThatIsAFile() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let file = dir.path + "/store"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let (status, line) = try serve(["ONEREC_STORE_PATH": file])
        #expect(status != 0)
        #expect(status < 128, "killed by a signal: \(status)")
        #expect(line.hasPrefix("Error: cannot open the store"), "\(line)")
        #expect(line.contains("must be a directory") && line.contains("ONEREC_STORE_PATH"), "\(line)")
    }

    @Test func aReadOnlyStoreDirectory() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try dir.readOnlySubdirectory()
        let (status, line) = try serve(["ONEREC_STORE_PATH": store], asNobody: true)
        #expect(status == 1, "\(status)")
        #expect(line.contains("Permission denied") && line.contains("write access"), "\(line)")
    }

    @Test func anUnreachableKafkaBroker() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let started = Date()
        let (status, line) = try serve([
            "ONEREC_STORE_PATH": dir.path + "/store", "ONEREC_KAFKA_BROKERS": "127.0.0.1:1",
            "ONEREC_KAFKA_CONNECT_TIMEOUT_SECONDS": "2",
        ])
        #expect(status != 0 && status < 128)
        #expect(line.contains("cannot reach Kafka") && line.contains("127.0.0.1:1") && line.contains("ONEREC_KAFKA_BROKERS"), "\(line)")
        #expect(Date().timeIntervalSince(started) < 15)
    }

    @Test func anInvalidSetting() throws {
        let (status, line) = try serve(["ONEREC_HTTP_PORT": "0"])
        #expect(status != 0 && status < 128)
        #expect(line.contains("http.port"), "\(line)")
    }

    @Test func aMissingConfigFile() throws {
        let result = try runToCompletion(builtExecutable("onerec"), ["serve", "--config", "/nonexistent/onerec.json"])
        #expect(result.status != 0 && result.status < 128)
        #expect(result.stderr.contains("config file /nonexistent/onerec.json does not exist"))
    }
}
