import HummingbirdCore

/// A request value the API refuses, with the reason the client gets (as a 400).
public struct BadRequest: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The path and query values of the HTTP API, checked before any work is done. Each function takes the
/// text as the router hands it over (nil when absent) and returns the value or the reason it is refused.
/// Kept apart from the routes so libFuzzer can drive them with Hummingbird's URI parser
/// (`Tests/Fuzz/HTTPQueryFuzz`).
public enum RequestParameters {
    /// User ids are integers below 2^53 (what a JSON number holds exactly), as in events.
    public static let userLimit: UInt64 = 1 << 53

    /// `{id}` of `/v1/users/{id}/recommendations`.
    public static func user(_ text: String?) throws(BadRequest) -> UInt64 {
        guard let text, let user = UInt64(text), user < userLimit else { throw BadRequest("user id must be an integer in [0, 2^53)") }
        return user
    }

    /// `?count=` of the recommendations: `defaultCount` when absent.
    public static func count(_ uri: URI, defaultCount: Int, maxCount: Int) throws(BadRequest) -> Int {
        guard let text = uri.queryParameters["count"] else { return defaultCount }
        guard let count = Int(text), (1...maxCount).contains(count) else { throw BadRequest("count must be an integer in 1...\(maxCount)") }
        return count
    }

    /// `?wait=true` of `POST /v1/admin/align`; any other value, or none, is false.
    public static func wait(_ uri: URI) -> Bool { uri.queryParameters["wait"] == "true" }

    /// `{round}` of `/v1/admin/rounds/{round}/pairs`.
    public static func round(_ text: String?) throws(BadRequest) -> Int {
        guard let text, let round = Int(text), round > 0 else { throw BadRequest("round must be a positive integer") }
        return round
    }

    /// `{version}` of `/v1/admin/promote/{version}`.
    public static func version(_ text: String?) throws(BadRequest) -> UInt32 {
        guard let text, let version = UInt32(text) else { throw BadRequest("version must be an integer in [0, 2^32)") }
        return version
    }
}
