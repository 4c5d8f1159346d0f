import Foundation
import Logging

/// The admin endpoints' bearer token: `admin.token` if set; otherwise the one in `<store.path>/admin-token`,
/// generated (32 random hex characters, file mode 0600) on first start, which `onerec` operator
/// commands on the same machine read.
enum AdminToken {
    static func file(storePath: String) -> String { "\(storePath)/admin-token" }

    static func resolve(settings: DaemonSettings, logger: Logger) throws -> String {
        if !settings.adminToken.isEmpty { return settings.adminToken }
        let path = file(storePath: settings.storePath)
        if let existing = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), existing.count >= 16 {
            return existing
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        guard FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw StartupError("cannot write the admin token to \(path)", fix: "make store.path writable or set admin.token (ONEREC_ADMIN_TOKEN)")
        }
        logger.notice("admin token generated", metadata: ["file": "\(path)"])
        return token
    }
}
