import Foundation
import Glibc
import TestSupport
import Testing

/// Start-up never hangs: a port another socket holds ends it within seconds with the reason, and SIGTERM
/// at any moment of start-up ends the process within seconds (systemd's TimeoutStopSec is far longer).
@Suite struct StartupInterruptionTests {
    /// A socket listening on `port` of 127.0.0.1, as another server would hold it; nil if the port is taken.
    func listen(on port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 8) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Waits for the daemon to exit: its status and seconds, or nil after `timeout`.
    func exit(of daemon: OneRecProcess, within timeout: Double) -> (status: Int32, seconds: Double)? {
        let start = Date()
        while daemon.process.isRunning {
            if Date().timeIntervalSince(start) > timeout { return nil }
            usleep(10_000)
        }
        return (daemon.process.terminationStatus, Date().timeIntervalSince(start))
    }

    @Test func aPortHeldByAnotherSocketEndsStartupWithTheReason() throws {
        let port = try freePort()
        let held = try #require(listen(on: port))
        defer { close(held) }
        let daemon = try OneRecProcess(port: port)
        let ended = exit(of: daemon, within: 5)
        #expect(ended != nil, "still running 5 s after start with its port held")
        let last = daemon.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(ended?.status == 1, "\(daemon.stderr.suffix(2000))")
        #expect(last.contains("cannot listen on 127.0.0.1:\(port): Address already in use") && last.contains("ONEREC_HTTP_PORT"), "\(last)")
    }

    /// An address this machine does not have (TEST-NET-1: binding it sends nothing anywhere).
    @Test func anAddressTheMachineDoesNotHaveEndsStartupWithTheReason() throws {
        let daemon = try OneRecProcess(environment: ["ONEREC_HTTP_HOST": "192.0.2.1"])
        let ended = exit(of: daemon, within: 5)
        #expect(ended?.status == 1, "\(daemon.stderr.suffix(2000))")
        let last = daemon.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("cannot listen on 192.0.2.1:\(daemon.port): Cannot assign requested address") && last.contains("ONEREC_HTTP_HOST"), "\(last)")
    }

    /// The port taken between the start-up check and the server's own bind (an old instance coming back,
    /// another service starting): the server's failure cancels every service, the learner included, and
    /// the daemon exits with the server's error.
    @Test func aPortTakenAfterTheStartupCheckStillEndsTheProcess() throws {
        for attempt in 1...3 {
            let port = try freePort()
            let daemon = try OneRecProcess(port: port)
            #expect(daemon.waitForLog("store open"))  // past the check; the server binds only after models and services are set up
            guard let held = listen(on: port) else {
                _ = daemon.stop(SIGKILL)
                if attempt == 3 { Issue.record("the daemon bound its port before the test could take it, three times") }
                continue
            }
            defer { close(held) }
            let ended = exit(of: daemon, within: 5)
            if ended == nil { _ = daemon.stop(SIGKILL) }
            #expect(ended != nil, "still running 5 s after its server failed to bind")
            #expect(ended.map { $0.status != 0 && $0.status < 128 } == true, "\(String(describing: ended))")
            let last = daemon.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(last.contains("HTTP server on 127.0.0.1:\(port) failed"), "\(daemon.stderr.suffix(2000))")
            return
        }
    }

    /// SIGTERM as soon as each start-up phase logs its line, from reading the settings to serving (while the
    /// learner is still reading the log): the process is gone within 5 s every time, and once the service
    /// group runs it stops cleanly.
    @Test(arguments: [
        ("onerec starting", false), ("store open", false), ("compute ready", false), ("no model yet", false),
        ("simulated traffic started", true), ("onerec ready", true),
    ])
    func sigtermDuringStartupEndsTheProcess(phase: String, graceful: Bool) throws {
        let daemon = try OneRecProcess(environment: ["ONEREC_SIMULATOR_SESSIONS_PER_SECOND": "500"])
        #expect(daemon.waitForLog(phase), "never logged \(phase): \(daemon.stderr.suffix(1500))")
        let ended = daemon.stop(SIGTERM, timeout: 5)
        if ended == nil { _ = daemon.stop(SIGKILL) }
        #expect(ended != nil, "still running 5 s after SIGTERM at \(phase)")
        if graceful { #expect(ended?.status == 0, "\(daemon.stderr.suffix(2000))") }
    }

    /// SIGTERM while start-up waits for an unreachable broker (the wait would last 30 s).
    @Test func sigtermWhileWaitingForKafkaEndsTheProcess() throws {
        let daemon = try OneRecProcess(environment: ["ONEREC_KAFKA_BROKERS": "127.0.0.1:1", "ONEREC_KAFKA_CONNECT_TIMEOUT_SECONDS": "30"])
        #expect(daemon.waitForLog("compute ready"))
        usleep(300_000)  // inside the broker check
        #expect(daemon.process.isRunning)
        let ended = daemon.stop(SIGTERM, timeout: 5)
        if ended == nil { _ = daemon.stop(SIGKILL) }
        #expect(ended != nil, "still running 5 s after SIGTERM while waiting for Kafka")
    }
}
