import Foundation
import Hummingbird
import Metrics
import Serving

/// A recommendation request for a user another node knows goes there, one hop (`UserRouting`); when
/// that node does not answer in time, or the user's node cannot answer at all, the answer is popular
/// items marked `"source": "fallback"`, counted by reason, and never an error.
extension ClusterView {
    static let answeredByHeader = HTTPFields.Element.Name("X-Onerec-Answered-By")!
    static let fallbackHeader = HTTPFields.Element.Name("X-Onerec-Fallback")!
    /// How long a forwarded recommendation request is waited for.
    static let ownerTimeout: TimeInterval = 2
}

/// The owner's answer, or nil when it gave none (it is counted and logged by the caller's fallback).
func forwardToOwner(_ request: Request, node: String, url: String) async -> Response? {
    guard let (status, body) = try? await forwardOneHop(request, to: url, timeout: ClusterView.ownerTimeout), status == 200 else { return nil }
    Counter(label: "onerec_cluster_forwarded_total").increment()
    return Response(status: .ok, headers: [.contentType: "application/json", ClusterView.answeredByHeader: node],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
}

/// Popular items for `user`, whose history no node can give now, counted under `reason`.
func fallback(_ api: ServingAPI, user: UInt64, count: Int, reason: String) throws -> Response {
    Counter(label: "onerec_cluster_fallbacks_total", dimensions: [("reason", reason)]).increment()
    var response = try json(api.recommender.fallback(user: user, count: count))
    response.headers[ClusterView.fallbackHeader] = reason
    return response
}
