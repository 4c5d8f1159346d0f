import Glibc

/// Whether the HTTP address can be bound, asked first thing at startup: a port another process holds (an
/// old instance still stopping under systemd's restart, say) or an address this machine does not have
/// ends startup at once with the reason, before the store is opened or any service starts. The server
/// binds for real later; should that still fail, the service group cancels every service and the daemon
/// exits with the server's error.
enum ListenCheck {
    /// Binds a socket to `host:port` as the server will (SO_REUSEADDR, so a closed connection still in
    /// TIME_WAIT does not count) and closes it again; throws a `StartupError` naming the cause.
    static func check(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, "\(port)", &hints, &found)
        guard resolved == 0, let address = found else {
            throw StartupError("cannot listen on \(host):\(port): \(String(cString: gai_strerror(resolved)))",
                               fix: "set http.host (ONEREC_HTTP_HOST) to an address of this machine")
        }
        defer { freeaddrinfo(found) }
        let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard fd >= 0 else { throw StartupError("cannot listen on \(host):\(port): socket: \(String(cString: strerror(errno)))", fix: "check the daemon's limits (ulimit -n)") }
        defer { close(fd) }
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let code = errno
            let fix = switch code {
            case EADDRINUSE: "stop the process that holds it (ss -ltnp 'sport = :\(port)' names it) or set http.port (ONEREC_HTTP_PORT)"
            case EADDRNOTAVAIL: "set http.host (ONEREC_HTTP_HOST) to an address of this machine"
            case EACCES: "use a port above 1023 or give the daemon CAP_NET_BIND_SERVICE"
            default: "set http.host and http.port (ONEREC_HTTP_HOST, ONEREC_HTTP_PORT) to an address this machine can listen on"
            }
            throw StartupError("cannot listen on \(host):\(port): \(String(cString: strerror(code)))", fix: fix)
        }
    }
}
