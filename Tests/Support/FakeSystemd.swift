import Foundation
import Glibc

/// A datagram socket bound where systemd's would be; returns what it received.
public final class FakeSystemd: @unchecked Sendable {
    // @unchecked: the socket is only read by the one test that owns it.
    let fd: Int32
    public let path: String

    public init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(rc == 0, "bind failed: \(errno)")
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram, waiting up to `timeout` seconds; empty if none came.
    public func receive(timeout: Int32 = 0) -> String {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&poller, 1, timeout * 1000)
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : ""
    }
}

