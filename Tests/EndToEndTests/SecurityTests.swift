import Foundation
import Glibc
import TestSupport
import Testing

/// The closed admin surface: tokens, where the server listens, the systemd unit, the shipped config.
@Suite struct SecurityTests {
    static let secret = "s3cret-admin-token-that-must-not-leak"

    /// With debug logging, admin calls with a wrong, a missing and the right token: the token appears
    /// neither in the daemon's log nor in /metrics nor in any answer.
    @Test func theAdminTokenNeverReachesLogsMetricsOrAnswers() throws {
        let daemon = try OneRecProcess(environment: ["ONEREC_ADMIN_TOKEN": Self.secret, "ONEREC_LOG_LEVEL": "trace",
                                                     "ONEREC_SIMULATOR_ENABLED": "false", "ONEREC_TRAINER_ENABLED": "false"])
        #expect(daemon.waitUntilHealthy())
        var answers: [String] = []
        for (headers, expected) in [([String: String](), 401), (["Authorization": "Bearer wrong-\(Self.secret)"], 401),
                                    (["Authorization": "Bearer \(Self.secret)"], 200)] {
            let answer = daemon.get(path: "/v1/admin/status", headers: headers)
            #expect(answer?.0 == expected, "\(headers)")
            answers.append(answer?.1 ?? "")
        }
        let metrics = daemon.get("/metrics")?.1 ?? ""
        #expect(metrics.contains("hb_requests"))
        #expect(daemon.stop()?.status == 0)
        let log = daemon.stderr
        #expect(!log.isEmpty)
        for text in answers + [metrics, log] { #expect(!text.contains(Self.secret)) }
    }

    /// Without a configured token one is generated into the store, readable by the daemon's user only,
    /// and named in the log by its file, not its value.
    @Test func aGeneratedTokenIsPrivateAndNotLogged() throws {
        let daemon = try OneRecProcess(environment: ["ONEREC_SIMULATOR_ENABLED": "false", "ONEREC_TRAINER_ENABLED": "false"])
        #expect(daemon.waitUntilHealthy())
        let file = daemon.directory.path + "/store/admin-token"
        let token = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue
        #expect(token.count >= 32 && mode == 0o600)
        #expect(daemon.get(path: "/v1/admin/status", headers: ["Authorization": "Bearer \(token)"])?.0 == 200)
        #expect(daemon.stop()?.status == 0)
        let log = daemon.stderr
        #expect(log.contains("admin-token") && !log.contains(token))
    }

    /// By default the server listens on loopback only: another address of this machine is refused.
    @Test(.enabled(if: nonLoopbackAddress() != nil, "no non-loopback IPv4 address on this machine"))
    func listensOnLoopbackOnlyByDefault() throws {
        let daemon = try OneRecProcess(environment: ["ONEREC_SIMULATOR_ENABLED": "false", "ONEREC_TRAINER_ENABLED": "false"])
        #expect(daemon.waitUntilHealthy())
        #expect(httpGet(port: daemon.port, path: "/healthz", address: nonLoopbackAddress()!) == nil)
        #expect(daemon.stop()?.status == 0)
    }

    /// The shipped unit's exposure as systemd rates it (0 best, 10 worst).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "systemd-analyze is not installed"))
    func theSystemdUnitIsHardened() throws {
        let result = try runToCompletion("/usr/bin/systemd-analyze", ["security", "--offline=true", repositoryRoot() + "/systemd/onerec.service"])
        let line = result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        let score = line.split(separator: ":").last.flatMap { Double($0.split(separator: " ").first ?? "") }
        #expect(score.map { $0 <= 1.5 } == true, "\(line)")
    }

    /// The shipped configuration holds no admin token (a generated one is used until an operator sets one).
    @Test func theShippedConfigurationHoldsNoSecret() throws {
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repositoryRoot() + "/conf/onerec.json"))) as? [String: Any]
        #expect(config != nil && (config?["admin"] as? [String: Any])?["token"] == nil)
    }
}

extension OneRecProcess {
    func get(path: String, headers: [String: String], method: String = "GET") -> (Int, String)? {
        httpGet(port: port, path: path, method: method, headers: headers)
    }
}

/// An IPv4 address of this machine other than loopback, if it has one.
func nonLoopbackAddress() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0 else { return nil }
    defer { freeifaddrs(list) }
    var entry = list
    while let e = entry {
        defer { entry = e.pointee.ifa_next }
        guard let sa = e.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) else { continue }
        var address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &address, &text, socklen_t(INET_ADDRSTRLEN))
        let ip = String(cString: text)
        if !ip.hasPrefix("127.") { return ip }
    }
    return nil
}
