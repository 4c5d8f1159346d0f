import Foundation

/// Malformed and hostile event messages with the rejection each must get (`EventRejection.description`),
/// shared by the Kafka and HTTP ingest tests. Timestamps are in 2026, so valid under any test clock.
public enum HostileEvents {
    static let valid = #""event_id":"h","user_id":1,"item_id":2,"timestamp_ms":1767225600000,"request_id":"r","position":0,"watch_time_ms":5,"duration_ms":9"#

    /// (name, bytes, expected reason).
    public static let corpus: [(name: String, bytes: [UInt8], reason: String)] = [
        ("truncated JSON", Array(#"{"schema":1,"type":"interaction","#.utf8), "invalid-json"),
        ("empty message", [], "invalid-json"),
        ("invalid UTF-8", Array(#"{"schema":1,"type":"interaction","event_id":""#.utf8) + [0xFF, 0xFE] + Array(#"","user_id":1}"#.utf8), "invalid-json"),
        ("NaN literal", Array(#"{"schema":1,"type":"interaction",\#(valid),"like":NaN}"#.utf8), "invalid-json"),
        ("number beyond a double", Array(#"{"schema":1,"type":"interaction",\#(valid.replacingOccurrences(of: "\"watch_time_ms\":5", with: "\"watch_time_ms\":1e999"))}"#.utf8), "invalid-json"),
        ("duplicate member", Array(#"{"schema":1,"type":"interaction",\#(valid),"user_id":2}"#.utf8), "invalid-json"),
        ("nested 10,000 deep", Array((#"{"schema":1,"x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}").utf8), "invalid-json"),
        ("100 KB string", Array((#"{"schema":1,"type":"item","event_id":""# + String(repeating: "x", count: 100_000) + #""}"#).utf8), "too-large"),
        ("1 MB string", Array((#"{"schema":1,"type":"item","event_id":""# + String(repeating: "x", count: 1 << 20) + #""}"#).utf8), "too-large"),
        ("not an object", Array("[1,2,3]".utf8), "not-an-object"),
        ("unknown schema", Array(#"{"schema":7,"type":"interaction"}"#.utf8), "unsupported-schema:schema"),
        ("unknown type", Array(#"{"schema":1,"type":"purchase"}"#.utf8), "unknown-type:type"),
        ("missing field", Array(#"{"schema":1,"type":"interaction","event_id":"m","user_id":1}"#.utf8), "missing-field:item_id"),
        ("id as a string", Array(#"{"schema":1,"type":"interaction",\#(valid.replacingOccurrences(of: "\"user_id\":1", with: "\"user_id\":\"1\""))}"#.utf8), "wrong-type:user_id"),
        ("boolean as a number", Array(#"{"schema":1,"type":"interaction",\#(valid),"like":1}"#.utf8), "wrong-type:like"),
        ("negative watch time", Array(#"{"schema":1,"type":"interaction",\#(valid.replacingOccurrences(of: "\"watch_time_ms\":5", with: "\"watch_time_ms\":-5"))}"#.utf8), "out-of-range:watch_time_ms"),
        ("absurd duration", Array(#"{"schema":1,"type":"interaction",\#(valid.replacingOccurrences(of: "\"duration_ms\":9", with: "\"duration_ms\":1000000000000"))}"#.utf8), "out-of-range:duration_ms"),
        ("id beyond 2^53", Array(#"{"schema":1,"type":"interaction",\#(valid.replacingOccurrences(of: "\"item_id\":2", with: "\"item_id\":18446744073709551615"))}"#.utf8), "out-of-range:item_id"),
        ("timestamp in 2100", Array(#"{"schema":1,"type":"interaction",\#(valid.replacingOccurrences(of: "1767225600000", with: "4102444800000"))}"#.utf8), "out-of-range:timestamp_ms"),
        ("embedding with a string", Array(#"{"schema":1,"type":"item","event_id":"i","item_id":3,"timestamp_ms":1767225600000,"embedding":[1,"x"]}"#.utf8), "wrong-type:embedding"),
    ]
}
