import Foundation
import Glibc

/// A TCP port that was free a moment ago.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Int32 in
            guard bind(fd, sa, length) == 0 else { return -1 }
            return getsockname(fd, sa, &length)
        }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A test broker of a test's own (`scripts/test-broker.sh` on a free port with its own data directory),
/// for tests that stop it or churn its groups, so the shared broker serves the other tests undisturbed.
public final class PrivateBroker {
    let data = TempDirectory()
    public private(set) var port: Int
    public var address: String { "127.0.0.1:\(port)" }

    /// Starts on a free port; another test may take the same port between its check and the broker's
    /// bind, so a port found in use is given up for another (three tries).
    public init() throws {
        port = try freePort()
        for attempt in 1...3 {
            do {
                try run("start")
                return
            } catch where attempt < 3 {
                port = try freePort()
            }
        }
    }

    deinit {
        _ = try? run("stop")
        data.cleanup()
    }

    /// `start`, `resume` or `stop`.
    public func run(_ command: String) throws {
        let environment = ProcessInfo.processInfo.environment.merging(["ONEREC_TEST_KAFKA_PORT": "\(port)", "ONEREC_TEST_KAFKA_DATA": data.path]) { $1 }
        let r = try runToCompletion("/bin/bash", [repositoryRoot() + "/scripts/test-broker.sh", command], environment: environment)
        guard r.status == 0 else { throw BrokerScriptError(description: "test-broker.sh \(command): \(r.stderr)") }
    }
}

struct BrokerScriptError: Error, CustomStringConvertible {
    let description: String
}

