import Glibc

/// A parsed JSON value (RFC 8259). Numbers are doubles (event fields are integers below 2^53 or floats);
/// booleans stay apart from numbers; an object keeps its members in order.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// Parses one JSON text: a value with optional whitespace around it, nothing else. Strict: no
    /// comments, trailing commas, NaN or Infinity literals, numbers beyond a double's range, leading
    /// zeros, unescaped control characters, invalid UTF-8, lone surrogates or duplicate keys; nesting
    /// deeper than `maxDepth` is refused.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 32) throws(JSONSyntaxError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in
            try JSONParser.whole(buffer, maxDepth: maxDepth) { parser throws(JSONSyntaxError) in try parser.value(depth: 0) }
        }
    }

}

/// Why a text is not JSON, and where.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let problem: String
    init(_ offset: Int, _ problem: String) { (self.offset, self.problem) = (offset, problem) }
    public var description: String { "\(problem) at byte \(offset)" }
}

/// A member's value as `JSONParser.scanMembers` keeps it: a scalar read, a string as where its content
/// is (made into a `String` only when asked), an array or object as where its text is.
struct ScannedValue {
    enum Kind { case null, bool, number, string, composite }
    var kind: Kind
    /// A string's content (without the quotes), or the value's text.
    var range: Range<Int>
    var bool = false
    var number = 0.0
    /// A string with escape sequences (decoded when asked).
    var escaped = false
}

/// A recursive-descent parser over a byte buffer.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) { (self.bytes, self.maxDepth) = (bytes, maxDepth) }

    /// Runs `body` on the text's value, with optional whitespace around it and nothing after.
    static func whole<T>(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, _ body: (inout JSONParser) throws(JSONSyntaxError) -> T) throws(JSONSyntaxError) -> T {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let result = try body(&parser)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw JSONSyntaxError(parser.position, "trailing characters") }
        return result
    }

    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while let b = current, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position += 1 }
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard let b = current else { throw JSONSyntaxError(position, "unexpected end") }
        switch b {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw JSONSyntaxError(position, "unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count, memcmp(bytes.baseAddress! + position, word.utf8Start, n) == 0 else {
            throw JSONSyntaxError(position, "unexpected character")
        }
        position += n
    }

    private mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        try forEachMember(depth: depth) { name, at, value throws(JSONSyntaxError) in
            let key = try Self.text(name, at: at)
            guard !members.contains(where: { $0.key == key }) else { throw JSONSyntaxError(at, "duplicate member \"\(key)\"") }
            members.append((key, value))
        }
        return .object(members)
    }

    /// The object starting here, member by member: its name (as read), where the name starts, its value.
    private mutating func forEachMember(depth: Int, _ body: (StringContent, Int, JSONValue) throws(JSONSyntaxError) -> Void) throws(JSONSyntaxError) {
        try forEachMemberName(depth: depth) { parser, name, at throws(JSONSyntaxError) in try body(name, at, try parser.value(depth: depth)) }
    }

    /// The object starting here, member by member: `body` gets the parser at the member's value (which it
    /// must read), the member's name (as read) and where the name starts.
    private mutating func forEachMemberName(depth: Int, _ body: (inout JSONParser, StringContent, Int) throws(JSONSyntaxError) -> Void) throws(JSONSyntaxError) {
        guard depth <= maxDepth else { throw JSONSyntaxError(position, "nested deeper than \(maxDepth)") }
        position += 1  // {
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw JSONSyntaxError(position, "expected a member name") }
            let at = position
            let name = try stringContent()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw JSONSyntaxError(position, "expected ':'") }
            position += 1
            skipWhitespace()
            try body(&self, name, at)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return
            default: throw JSONSyntaxError(position, "expected ',' or '}'")
            }
        }
    }

    private mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= maxDepth else { throw JSONSyntaxError(position, "nested deeper than \(maxDepth)") }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            default: throw JSONSyntaxError(position, "expected ',' or ']'")
            }
        }
    }

    /// A string literal's content: the bytes as they are when it has no escapes (not yet checked as
    /// UTF-8 unless `ascii`), else the decoded bytes.
    enum StringContent {
        case raw(UnsafeBufferPointer<UInt8>, ascii: Bool)
        case decoded([UInt8])
    }

    private mutating func stringContent() throws(JSONSyntaxError) -> StringContent {
        let start = position
        position += 1  // "
        var runStart = position
        var decoded: [UInt8] = []
        var escaped = false, ascii = true
        while true {
            // The plain bytes up to the next quote, backslash or control character, in one tight loop.
            var bits: UInt8 = 0
            while position < bytes.count {
                let b = bytes[position]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                bits |= b
                position += 1
            }
            if bits >= 0x80 { ascii = false }
            guard let b = current else { throw JSONSyntaxError(start, "unterminated string") }
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { throw JSONSyntaxError(position, "control character in a string") }
            if b >= 0x80 { ascii = false }
            if b == UInt8(ascii: "\\") {
                decoded.append(contentsOf: bytes[runStart..<position])
                escaped = true
                try escape(into: &decoded)
                runStart = position
                continue
            }
            position += 1
        }
        let run = UnsafeBufferPointer(rebasing: bytes[runStart..<position])
        position += 1  // "
        guard escaped else { return .raw(run, ascii: ascii) }
        decoded.append(contentsOf: run)
        return .decoded(decoded)
    }

    /// A string literal, checked as UTF-8.
    private mutating func string() throws(JSONSyntaxError) -> String {
        let start = position
        return try Self.text(try stringContent(), at: start)
    }

    /// A string literal's content as text; invalid UTF-8 is an error at `start`.
    private static func text(_ content: StringContent, at start: Int) throws(JSONSyntaxError) -> String {
        switch content {
        case let .raw(run, ascii: true): return String(decoding: run, as: UTF8.self)
        case let .raw(run, ascii: false):
            guard let s = String(validating: run, as: UTF8.self) else { throw JSONSyntaxError(start, "invalid UTF-8") }
            return s
        case let .decoded(bytes):
            guard let s = String(validating: bytes, as: UTF8.self) else { throw JSONSyntaxError(start, "invalid UTF-8") }
            return s
        }
    }

    /// The members of the object starting here whose names are in `names`, scanned into `found` by index
    /// (which starts all nil): each value read as far as `ScannedValue` keeps it, without building it.
    /// Other members are parsed (so the text is still checked whole) and dropped. No member name may
    /// repeat.
    mutating func scanMembers(named names: MemberNames, into found: UnsafeMutableBufferPointer<ScannedValue?>) throws(JSONSyntaxError) {
        var others: [String] = []
        try forEachMemberName(depth: 1) { parser, name, at throws(JSONSyntaxError) in
            let index: Int? = switch name {
            case let .raw(run, ascii: true): names.index(of: run)
            case .raw(_, ascii: false): nil
            case let .decoded(bytes): bytes.withUnsafeBufferPointer { names.index(of: $0) }
            }
            if let index {
                guard found[index] == nil else { throw JSONSyntaxError(at, "duplicate member") }
                found[index] = try parser.scannedValue()
            } else {
                _ = try parser.value(depth: 1)
                let other = try Self.text(name, at: at)
                guard !others.contains(other) else { throw JSONSyntaxError(at, "duplicate member \"\(other)\"") }
                others.append(other)
            }
        }
    }

    /// The value starting here, as `ScannedValue` keeps it; checked as strictly as `value` checks it.
    private mutating func scannedValue() throws(JSONSyntaxError) -> ScannedValue {
        let start = position
        switch current {
        case UInt8(ascii: "\""):
            let content = try stringContent()
            if case .raw(_, ascii: true) = content {
                return ScannedValue(kind: .string, range: start + 1..<position - 1)
            }
            _ = try Self.text(content, at: start)  // checked as UTF-8, as `value` would
            if case .raw = content { return ScannedValue(kind: .string, range: start + 1..<position - 1) }
            return ScannedValue(kind: .string, range: start + 1..<position - 1, escaped: true)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            _ = try value(depth: 1)
            return ScannedValue(kind: .composite, range: start..<position)
        default:
            switch try value(depth: 1) {
            case .null: return ScannedValue(kind: .null, range: start..<position)
            case let .bool(b): return ScannedValue(kind: .bool, range: start..<position, bool: b)
            case let .number(n): return ScannedValue(kind: .number, range: start..<position, number: n)
            default: preconditionFailure("a scalar JSON value parsed as a string or composite")
            }
        }
    }

    /// The text of the string literal whose content is `range` (as scanned).
    func string(at range: Range<Int>, escaped: Bool) -> String {
        guard escaped else { return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
        var parser = self
        parser.position = range.lowerBound - 1
        do { return try parser.string() } catch { preconditionFailure("a scanned string no longer parses: \(error)") }
    }

    /// The composite value whose text is `range` (as scanned), built.
    func value(at range: Range<Int>) -> JSONValue {
        var parser = self
        parser.position = range.lowerBound
        do { return try parser.value(depth: 1) } catch { preconditionFailure("a scanned value no longer parses: \(error)") }
    }

    /// One escape sequence after a backslash, appended as UTF-8.
    private mutating func escape(into out: inout [UInt8]) throws(JSONSyntaxError) {
        let at = position
        position += 1  // backslash
        guard let e = current else { throw JSONSyntaxError(at, "unterminated escape") }
        position += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard current == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                    throw JSONSyntaxError(at, "lone surrogate")
                }
                position += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw JSONSyntaxError(at, "lone surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw JSONSyntaxError(at, "lone surrogate")
            }
            out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
        default: throw JSONSyntaxError(at, "invalid escape")
        }
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw JSONSyntaxError(position, "short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw JSONSyntaxError(position, "invalid \\u escape")
            }
            v = v << 4 | UInt32(digit)
            position += 1
        }
        return v
    }

    /// A number per the RFC grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. Up to 19 significant
    /// digits with a small exponent convert exactly (an integer, or one rounding of an exact product);
    /// anything else goes through strtod.
    private mutating func number() throws(JSONSyntaxError) -> Double {
        let start = position
        var negative = false
        if current == UInt8(ascii: "-") { negative = true; position += 1 }
        var mantissa: UInt64 = 0, digits = 0, exponent = 0
        func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } ?? false }
        guard isDigit(current) else { throw JSONSyntaxError(position, "expected a digit") }
        if current == UInt8(ascii: "0") {
            position += 1
            if isDigit(current) { throw JSONSyntaxError(position, "leading zero") }
        } else {
            while let b = current, isDigit(b) {
                if digits < 19 { mantissa = mantissa * 10 + UInt64(b - UInt8(ascii: "0")) } else { exponent += 1 }
                if mantissa > 0 { digits += 1 }
                position += 1
            }
        }
        if current == UInt8(ascii: ".") {
            position += 1
            guard isDigit(current) else { throw JSONSyntaxError(position, "expected a digit after '.'") }
            while let b = current, isDigit(b) {
                if digits < 19 {
                    mantissa = mantissa * 10 + UInt64(b - UInt8(ascii: "0"))
                    exponent -= 1
                    if mantissa > 0 { digits += 1 }
                }
                position += 1
            }
        }
        var explicit = 0
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            var sign = 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { sign = current == UInt8(ascii: "-") ? -1 : 1; position += 1 }
            guard isDigit(current) else { throw JSONSyntaxError(position, "expected a digit in the exponent") }
            while let b = current, isDigit(b) {
                if explicit < 100_000 { explicit = explicit * 10 + Int(b - UInt8(ascii: "0")) }
                position += 1
            }
            explicit *= sign
        }
        let e10 = exponent + explicit
        // Exact: the mantissa fits a double's 53 bits and 10^|e| is exact (|e| <= 22).
        if mantissa < 1 << 53 && abs(e10) <= 22 {
            let m = Double(mantissa)
            let v = e10 >= 0 ? m * exactPowersOfTen[e10] : m / exactPowersOfTen[-e10]
            return negative ? -v : v
        }
        var text = Array(bytes[start..<position])
        text.append(0)
        let v = text.withUnsafeBufferPointer { strtod(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), nil) }
        guard v.isFinite else { throw JSONSyntaxError(start, "number out of range") }
        return v
    }
}

/// 10^0 ... 10^22, each exactly representable as a double.
private let exactPowersOfTen: [Double] = (0...22).map { e in (0..<e).reduce(1.0) { a, _ in a * 10 } }
