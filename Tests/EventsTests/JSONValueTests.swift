import Engine
@testable import Events
import Foundation
import Testing

@Suite struct JSONValueTests {
    func parse(_ s: String) -> JSONValue? { try? JSONValue.parse(Array(s.utf8)) }

    @Test func valuesAndNesting() throws {
        #expect(parse(#" {"a": [1, -2.5e2, true, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude42"], "b": {}} "#)
                == .object([("a", .array([.number(1), .number(-250), .bool(true), .null, .string("x\"\\/\u{8}\u{c}\n\r\té🙂")])), ("b", .object([]))]))
        #expect(parse("0") == .number(0) && parse("-0.0") == .number(0) && parse("[]") == .array([]))
        #expect(parse("1E2") == .number(100) && parse("12345678901234567890") == .number(12345678901234567890))
        #expect(parse("0.1") == .number(0.1) && parse("1e-7") == .number(1e-7) && parse("9007199254740993") == .number(9007199254740993))
        #expect(parse(#"{"a":1}"#) == .object([("a", .number(1))]))
    }

    /// What the strict grammar refuses, each with its reason.
    @Test(arguments: [
        "", " ", "{", "[1,]", #"{"a":1,}"#, "01", "-", "1.", ".5", "1e", "+1", "NaN", "Infinity", "tru", "nul",
        #"{"a" 1}"#, #"{a:1}"#, "[1 2]", "1 2", #""abc"#, "\"\u{1}\"", #""\x""#, #""\u12g4""#, #""\ud800""#, #""\udc00x""#,
        #"{"a":1,"a":2}"#, "// c\n1", "'x'", "1e400", "-1e400",
    ])
    func refused(text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8AndDepthAreRefused() {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse([0x22, 0xC3, 0x22]) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Array((String(repeating: "[", count: 33) + String(repeating: "]", count: 33)).utf8)) }
        #expect((try? JSONValue.parse(Array((String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).utf8))) != nil)
    }

    /// Differential check against Foundation's parser on 20,000 seeded mutations of real events (bytes
    /// flipped, inserted, deleted, cut): wherever both accept, they agree on every value; wherever
    /// Foundation refuses, so does this parser. (This parser is stricter, so the converse need not hold.)
    @Test func agreesWithFoundationOnMutatedEvents() throws {
        var item = ItemEvent(eventID: "i-1", itemID: 7, timestampMs: 1_799_000_000_000)
        (item.durationMs, item.authorID, item.tags, item.embedding) = (30_000, 3, ["cats", "é \"q\""], [0.5, -1.25, 3e-5])
        var interaction = InteractionEvent(eventID: "e-1", userID: 42, itemID: 7, timestampMs: 1_799_999_000_000, requestID: "r",
                                           position: 2, watchTimeMs: 12_000, durationMs: 30_000)
        interaction.like = true
        let seeds = [Event.item(item).json(), Event.interaction(interaction).json()].map { Array($0.utf8) }
        let alphabet = Array(#"{}[]":,.-+eE0123456789tfnul\ "#.utf8) + [0x00, 0x1F, 0x7F, 0xC3, 0xA9, 0xFF]
        var rng = SplitMix64(seed: 7)
        var bothAccepted = 0
        for _ in 0..<20_000 {
            var bytes = seeds[Int(rng.next() % 2)]
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = Int(rng.next() % UInt64(bytes.count + 1))
                switch rng.next() % 4 {
                case 0 where at < bytes.count: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                case 2 where at < bytes.count: bytes.remove(at: at)
                default: bytes = Array(bytes.prefix(at))
                }
            }
            let ours = try? JSONValue.parse(bytes)
            let theirs = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            if theirs == nil { #expect(ours == nil, "accepted what Foundation refuses: \(String(decoding: bytes, as: UTF8.self))") }
            if let ours, let theirs {
                bothAccepted += 1
                #expect(same(ours, theirs), "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(bothAccepted > 1000)
    }

    private func same(_ a: JSONValue, _ b: Any) -> Bool {
        switch a {
        case .null: return b is NSNull
        case .bool(let x): return (b as? NSNumber).map { isFoundationBool($0) && $0.boolValue == x } ?? false
        case .number(let x): return (b as? NSNumber).map { !isFoundationBool($0) && $0.doubleValue == x } ?? false
        case .string(let x): return (b as? String) == x
        case .array(let xs):
            guard let ys = b as? [Any], ys.count == xs.count else { return false }
            return zip(xs, ys).allSatisfy { same($0, $1) }
        case .object(let members):
            guard let dict = b as? [String: Any], dict.count == members.count else { return false }
            return members.allSatisfy { m in dict[m.key].map { same(m.value, $0) } ?? false }
        }
    }

    private func isFoundationBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }
}
