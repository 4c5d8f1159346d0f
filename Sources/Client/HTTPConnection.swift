import Foundation
import Glibc

/// A blocking HTTP/1.1 keep-alive connection to a loopback port, for the load benchmarks: one request at a
/// time, the socket's send and receive time out after `timeout`. Foundation's URLSession on Linux is not
/// used there: in a 12-minute open-loop run it began reporting timeouts after about 10 minutes that a
/// curl probe of the same daemon, at the same moments, never saw (see the README's load section).
final class HTTPConnection {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// The server closed a kept-alive connection before answering: the request may go again on a new one.
        var closedBeforeAnswer = false
    }

    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeout: Double) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port): \(reason)")
        }
    }

    deinit { Glibc.close(fd) }

    /// GET `path`: the status code; the body is read and dropped. Throws on a socket error or timeout,
    /// after which the connection is unusable.
    func get(_ path: String) throws -> Int {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else {
                throw Failure(description: "send: \(n == 0 ? "closed" : String(cString: strerror(errno)))", closedBeforeAnswer: errno == EPIPE || errno == ECONNRESET)
            }
            sent += n
        }
        try fill(first: true)
        let head = try readHead()
        guard let statusLine = head.first, statusLine.hasPrefix("HTTP/1.1 "), let status = Int(statusLine.dropFirst(9).prefix(3)) else {
            throw Failure(description: "not an HTTP/1.1 status line: \(head.first ?? "")")
        }
        let fields = Dictionary(head.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }, uniquingKeysWith: { _, last in last })
        if fields["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                guard let size = Int(try readLine().split(separator: ";")[0], radix: 16) else { throw Failure(description: "bad chunk size") }
                try skip(size)
                _ = try readLine()
                if size == 0 { break }
            }
        } else {
            try skip(Int(fields["content-length"] ?? "0") ?? 0)
        }
        return status
    }

    /// The status line and header lines, up to the empty line.
    private func readHead() throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try readLine()
            if line.isEmpty { return lines }
            lines.append(line)
        }
    }

    private func readLine() throws -> String {
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<end], as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
                buffer.removeSubrange(...end)
                return line
            }
            try fill()
        }
    }

    private func skip(_ count: Int) throws {
        while buffer.count < count { try fill() }
        buffer.removeFirst(count)
    }

    /// Reads what has arrived; `first`: the first read for a request (nothing of its answer yet).
    private func fill(first: Bool = false) throws {
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else {
            throw Failure(description: n == 0 ? "closed by the server" : "recv: \(String(cString: strerror(errno)))",
                          closedBeforeAnswer: first && (n == 0 || errno == ECONNRESET))
        }
        buffer += chunk[..<n]
    }
}
