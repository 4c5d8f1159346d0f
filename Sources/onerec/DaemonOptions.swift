import ArgumentParser
import Client
import Foundation

/// Where the running daemon is and the admin token, for the operator commands.
struct DaemonOptions: ParsableArguments {
    @Option(help: "The daemon's HTTP address (default: $ONEREC_URL or http://127.0.0.1:8080).") var url: String?
    @Option(help: "Admin bearer token (default: $ONEREC_ADMIN_TOKEN, else the admin-token file in --store).") var token: String?
    @Option(help: "The daemon's store directory, to read its generated admin token (default: $STATE_DIRECTORY or ./onerec-data).") var store: String?

    func client() throws -> DaemonClient {
        let env = ProcessInfo.processInfo.environment
        let base = url ?? env["ONEREC_URL"] ?? "http://127.0.0.1:8080"
        guard let parsed = URL(string: base), parsed.scheme == "http" || parsed.scheme == "https" else {
            throw ValidationError("--url \(base) is not an http(s) address")
        }
        let file = "\(store ?? env["STATE_DIRECTORY"] ?? "./onerec-data")/admin-token"
        let secret = token ?? env["ONEREC_ADMIN_TOKEN"]
            ?? (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        return DaemonClient(base: parsed, token: secret, tokenSource: file)
    }
}
