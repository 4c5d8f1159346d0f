import Foundation
import FoundationNetworking

/// Why a request to the daemon failed: unreachable, refused (with the daemon's reason), or not JSON.
public struct ClientError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A small JSON-over-HTTP client of the daemon's API; an error answer becomes a `ClientError` with the
/// daemon's reason.
public struct DaemonClient: Sendable {
    public let base: URL
    /// The admin bearer token, and where it was looked for (named when it is missing).
    public let token: String?
    public let tokenSource: String

    public init(base: URL, token: String?, tokenSource: String) { (self.base, self.token, self.tokenSource) = (base, token, tokenSource) }

    public func call(_ method: String, _ path: String, body: Data? = nil, timeout: TimeInterval = 30) async throws -> [String: Any] {
        let value = try await callJSON(method, path, body: body, timeout: timeout)
        guard let object = value as? [String: Any] else { throw ClientError("unexpected answer from \(path)") }
        return object
    }

    public func callJSON(_ method: String, _ path: String, body: Data? = nil, timeout: TimeInterval = 30) async throws -> Any {
        var request = URLRequest(url: base.appendingPathComponent(path.components(separatedBy: "?")[0]))
        if let query = path.components(separatedBy: "?").dropFirst().first, var parts = URLComponents(url: request.url!, resolvingAgainstBaseURL: false) {
            parts.query = query
            request.url = parts.url
        }
        request.httpMethod = method
        request.timeoutInterval = timeout
        request.httpBody = body
        if path.hasPrefix("/v1/admin") {
            guard let token else { throw ClientError("no admin token: pass --token, set ONEREC_ADMIN_TOKEN, or point --store at the daemon's store (\(tokenSource) is not readable)") }
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw ClientError("cannot reach the daemon at \(base): \(error.localizedDescription) (is `onerec serve` running? see --url)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let answer = try? JSONSerialization.jsonObject(with: data)
        guard (200..<300).contains(status) else {
            let reason = (answer as? [String: Any])?["error"] as? String ?? String(decoding: data, as: UTF8.self)
            throw ClientError("\(method) \(path): HTTP \(status): \(reason)")
        }
        guard let answer else { throw ClientError("\(method) \(path): the answer is not JSON") }
        return answer
    }
}
