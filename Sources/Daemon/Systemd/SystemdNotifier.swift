import Glibc

/// sd_notify without libsystemd: one datagram per state change to the socket named by $NOTIFY_SOCKET
/// (a path, or an abstract socket when it starts with "@"). Without the variable, every call is a no-op,
/// so the daemon behaves the same under systemd and in a terminal.
public struct SystemdNotifier: Sendable {
    let socketPath: String?

    public init(environment: [String: String]) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public var isActive: Bool { socketPath != nil }

    /// Sends `state` (e.g. "READY=1"); a failure to send is returned, not thrown: systemd being gone
    /// must not stop the daemon.
    @discardableResult
    public func notify(_ state: String) -> Int32 {
        guard let socketPath else { return 0 }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return ENAMETOOLONG }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, length) }
            }
        }
        return sent < 0 ? errno : 0
    }

    /// Half the watchdog interval systemd asks for ($WATCHDOG_USEC), if it asks and means this process.
    public static func watchdogInterval(environment: [String: String], pid: pid_t = getpid()) -> Duration? {
        guard let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"].flatMap(Int32.init), owner != pid { return nil }
        return .microseconds(usec / 2)
    }
}
