import Foundation
import Hummingbird

/// What a serve node or a standby does with an admin request only the leading train node may act on
/// (promote, roll back, canary, align): it forwards it, one hop, to the leader's URL from the leader's
/// record on the models topic, with the caller's bearer token (so the nodes of a cluster share
/// `admin.token`), and answers with the leader's status and body (header `X-Onerec-Forwarded-To`). A request
/// forwarded once is not forwarded again; with no leader known, or none answering, the answer is 409 or 502
/// with the reason.
extension ClusterView {
    static let forwardedHeader = HTTPFields.Element.Name("X-Onerec-Forwarded")!
    static let forwardedToHeader = HTTPFields.Element.Name("X-Onerec-Forwarded-To")!

    /// nil when this node acts on `request` itself; otherwise the leader's answer.
    func forward(_ request: Request) async throws -> Response? {
        guard let refusal else { return nil }
        guard request.headers[Self.forwardedHeader] == nil else {
            throw APIError(.conflict, refusal + " (the request was forwarded here already and goes no further)")
        }
        guard let leader = follower?.status.leaderURL else {
            throw APIError(.conflict, refusal + "; no leader is known yet")
        }
        let status: Int, data: Data
        do {
            (status, data) = try await forwardOneHop(request, to: leader, timeout: 600)  // an alignment round is waited for
        } catch {
            throw APIError(.badGateway, "forwarding to the leading train node at \(leader) failed: \(error.localizedDescription)")
        }
        return Response(status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json", Self.forwardedToHeader: leader],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
