import Foundation
import FoundationNetworking
import Hummingbird

/// Sends `request` on, once, to the node at `base` (its path and query kept, its bearer token passed
/// on, marked `X-Onerec-Forwarded` so the next node does not forward it again); returns the status and
/// body, or throws when the node does not answer within `timeout`.
func forwardOneHop(_ request: Request, to base: String, timeout: TimeInterval) async throws -> (status: Int, body: Data) {
    guard let url = URL(string: base + request.uri.description) else { throw URLError(.badURL) }
    var forwarded = URLRequest(url: url, timeoutInterval: timeout)
    forwarded.httpMethod = request.method.rawValue
    if let token = request.headers[.authorization] { forwarded.setValue(token, forHTTPHeaderField: "Authorization") }
    forwarded.setValue("1", forHTTPHeaderField: ClusterView.forwardedHeader.canonicalName)
    let (data, response) = try await URLSession.shared.data(for: forwarded)
    return ((response as? HTTPURLResponse)?.statusCode ?? 502, data)
}
