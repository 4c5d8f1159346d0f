import ArgumentParser
import Foundation
import FoundationNetworking

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

/// A small JSON-over-HTTP client of the daemon's API; an error answer becomes a `CommandError` with the
/// daemon's reason.
struct DaemonClient {
    let base: URL
    let token: String?
    let tokenSource: String

    func call(_ method: String, _ path: String, body: Data? = nil, timeout: TimeInterval = 30) async throws -> [String: Any] {
        let value = try await callJSON(method, path, body: body, timeout: timeout)
        guard let object = value as? [String: Any] else { throw CommandError("unexpected answer from \(path)") }
        return object
    }

    func callJSON(_ method: String, _ path: String, body: Data? = nil, timeout: TimeInterval = 30) async throws -> Any {
        var request = URLRequest(url: base.appendingPathComponent(path.components(separatedBy: "?")[0]))
        if let query = path.components(separatedBy: "?").dropFirst().first, var parts = URLComponents(url: request.url!, resolvingAgainstBaseURL: false) {
            parts.query = query
            request.url = parts.url
        }
        request.httpMethod = method
        request.timeoutInterval = timeout
        request.httpBody = body
        if path.hasPrefix("/v1/admin") {
            guard let token else { throw CommandError("no admin token: pass --token, set ONEREC_ADMIN_TOKEN, or point --store at the daemon's store (\(tokenSource) is not readable)") }
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CommandError("cannot reach the daemon at \(base): \(error.localizedDescription) (is `onerec serve` running? see --url)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let answer = try? JSONSerialization.jsonObject(with: data)
        guard (200..<300).contains(status) else {
            let reason = (answer as? [String: Any])?["error"] as? String ?? String(decoding: data, as: UTF8.self)
            throw CommandError("\(method) \(path): HTTP \(status): \(reason)")
        }
        guard let answer else { throw CommandError("\(method) \(path): the answer is not JSON") }
        return answer
    }
}
