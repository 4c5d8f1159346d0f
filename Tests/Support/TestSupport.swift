import Foundation

/// A fresh directory under the system temp folder, removed by `cleanup()`.
public struct TempDirectory: Sendable {
    public let path: String

    public init() {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    public func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The path of an executable built next to the test bundle.
public func builtExecutable(_ name: String) -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = bundle.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent(name).path
}

/// The checkout this test was compiled from (for files it ships: the systemd unit, the config).
public func repositoryRoot(_ file: String = #filePath) -> String {
    var dir = URL(fileURLWithPath: file).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.path
}

/// Runs an executable to completion; returns its exit status, stdout and stderr.
public func runToCompletion(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain stderr on another thread so a chatty child never blocks on a full pipe.
    let errText = PipeReader(err)
    let outText = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, outText, errText.wait())
}

/// Reads a pipe to its end on a background thread; what has arrived so far can be watched meanwhile.
public final class PipeReader: @unchecked Sendable {
    // @unchecked: `data` and `ended` are guarded by `lock`.
    private var data = Data()
    private var ended = false
    private let lock = NSCondition()

    public init(_ pipe: Pipe) {
        Thread {
            let handle = pipe.fileHandleForReading
            while true {
                let chunk = handle.availableData
                self.lock.lock()
                if chunk.isEmpty { self.ended = true } else { self.data.append(chunk) }
                self.lock.broadcast()
                self.lock.unlock()
                if chunk.isEmpty { return }
            }
        }.start()
    }

    /// What has arrived so far.
    public var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    /// Everything, once the pipe is closed.
    public func wait() -> String {
        lock.lock()
        defer { lock.unlock() }
        while !ended { lock.wait() }
        return String(decoding: data, as: UTF8.self)
    }

    /// Waits until the text read so far contains `needle`: true, or false if the pipe closed or
    /// `timeout` seconds passed first.
    public func wait(for needle: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        while true {
            if String(decoding: data, as: UTF8.self).contains(needle) { return true }
            if ended || !lock.wait(until: deadline) { return false }
        }
    }
}

extension TempDirectory {
    /// A new directory inside this one that only root could write to (mode 0555).
    public func readOnlySubdirectory() throws -> String {
        let path = self.path + "/read-only"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o555])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: self.path)
        return path
    }
}

/// The command line that runs `executable` as an unprivileged user: as root ignores file permissions,
/// root runs it through setpriv as nobody.
public func unprivileged(_ executable: String, _ arguments: [String]) -> (path: String, arguments: [String]) {
    guard geteuid() == 0 else { return (executable, arguments) }
    return ("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", executable] + arguments)
}
