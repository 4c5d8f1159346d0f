import Foundation
import Glibc
import TestSupport

/// `onerec serve` in a child process, in its own temporary working directory, on a free port.
final class OneRecProcess: @unchecked Sendable {
    // @unchecked: used by one test at a time; the stderr reader is itself thread-safe.
    let process = Process()
    let port: Int
    let directory = TempDirectory()
    private let stderrReader: PipeReader

    /// `config`: written to `conf/onerec.json` in the working directory, which `onerec serve` reads.
    /// `port`: the HTTP port (default: a free one).
    init(environment extra: [String: String] = [:], config: String? = nil, port: Int? = nil) throws {
        self.port = try port ?? freePort()
        if let config {
            try FileManager.default.createDirectory(atPath: directory.path + "/conf", withIntermediateDirectories: true)
            try config.write(toFile: directory.path + "/conf/onerec.json", atomically: true, encoding: .utf8)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["ONEREC_HTTP_PORT"] = "\(self.port)"
        environment["ONEREC_STORE_PATH"] = directory.path + "/store"
        environment["NOTIFY_SOCKET"] = nil
        environment.merge(extra) { $1 }
        process.executableURL = URL(fileURLWithPath: builtExecutable("onerec"))
        process.arguments = ["serve"]
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        stderrReader = PipeReader(err)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        directory.cleanup()
    }

    /// GET `path` on the daemon: status and body, or nil if nothing answers.
    func get(_ path: String) -> (Int, String)? {
        httpGet(port: port, path: path)
    }

    /// Waits until /healthz answers 200.
    func waitUntilHealthy(timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isRunning {
            if get("/healthz")?.0 == 200 { return true }
            usleep(50_000)
        }
        return false
    }

    /// Sends `signal` and waits for the exit: the status and the seconds it took, or nil on timeout.
    func stop(_ signal: Int32 = SIGTERM, timeout: Double = 10) -> (status: Int32, seconds: Double)? {
        let start = Date()
        kill(process.processIdentifier, signal)
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeout { return nil }
            usleep(10_000)
        }
        return (process.terminationStatus, Date().timeIntervalSince(start))
    }

    /// Everything the daemon wrote to stderr (call after it exited).
    var stderr: String { stderrReader.wait() }

    /// Waits until the daemon has written `needle` to stderr: false if it exited or `timeout` passed first.
    func waitForLog(_ needle: String, timeout: Double = 30) -> Bool { stderrReader.wait(for: needle, timeout: timeout) }
}

/// A plain HTTP/1.1 request over a socket to `address` (loopback by default): status code and body, or
/// nil if the connection fails.
func httpGet(port: Int, path: String, method: String = "GET", headers: [String: String] = [:], body: String = "",
             address ip: String = "127.0.0.1") -> (Int, String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr(ip)
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
    let request = Array("\(method) \(path) HTTP/1.1\r\nHost: \(ip)\r\n\(extra)Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
    guard send(fd, request, request.count, 0) == request.count else { return nil }
    var response = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, let code = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
        return nil
    }
    let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    return (code, body)
}
