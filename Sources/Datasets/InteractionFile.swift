import Foundation

/// An interaction log from any system, as CSV or TSV (the delimiter is the header's: a tab if it has
/// one, else a comma): a header naming the columns, then one interaction per row. Columns (names are
/// matched without case, a `:type` suffix as in RecBole's atomic files is ignored):
/// - user: `user`, `user_id`, `userid`; item: `item`, `item_id`, `itemid`, `movie_id`, `movieid`;
///   time: `timestamp`, `time`, `ts` (a number: seconds, which `--time-gaps` reads; milliseconds order the events as well; fractions are dropped);
/// - optional: `rating` (a number; rows keep it), or `positive` / `label` (1 or 0, true or false: rows
///   with 0 are not interactions and are dropped). Without either, every row is an interaction rated 5.
/// Other columns are ignored; fields are not quoted. A row with the wrong number of fields, an empty id
/// or a value that is not a number is refused with its line number.
public enum InteractionFile {
    static let userNames: Set<String> = ["user", "user_id", "userid"]
    static let itemNames: Set<String> = ["item", "item_id", "itemid", "movie_id", "movieid"]
    static let timeNames: Set<String> = ["timestamp", "time", "ts"]
    static let flagNames: Set<String> = ["positive", "label"]

    public static func load(_ path: String) throws -> InteractionLog {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        return try parse(data, name: path)
    }

    /// The same from bytes; `name` prefixes error messages.
    public static func parse(_ data: Data, name: String) throws -> InteractionLog {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first, !header.isEmpty else { throw DatasetError("\(name): empty file: a header line naming user, item and timestamp columns comes first") }
        let delimiter = header.contains(UInt8(ascii: "\t")) ? UInt8(ascii: "\t") : UInt8(ascii: ",")
        let names = fields(header, delimiter).map { $0.split(separator: ":").first.map(String.init)?.lowercased().trimmingCharacters(in: .whitespaces) ?? "" }
        func column(_ candidates: Set<String>, _ what: String, required: Bool) throws -> Int? {
            let found = names.indices.filter { candidates.contains(names[$0]) }
            guard found.count <= 1 else { throw DatasetError("\(name):1: more than one \(what) column (\(found.map { names[$0] }.joined(separator: ", ")))") }
            if required && found.isEmpty {
                throw DatasetError("\(name):1: no \(what) column; the header has \(names.joined(separator: ", ")) (expected one of \(candidates.sorted().joined(separator: ", ")))")
            }
            return found.first
        }
        let user = try column(userNames, "user", required: true)!
        let item = try column(itemNames, "item", required: true)!
        let time = try column(timeNames, "timestamp", required: true)!
        let rating = try column(["rating"], "rating", required: false)
        let flag = try column(flagNames, "positive", required: false)
        guard rating == nil || flag == nil else { throw DatasetError("\(name):1: give a rating or a positive column, not both") }

        var log = InteractionLog()
        for (index, line) in lines.enumerated().dropFirst() {
            let number = index + 1
            guard !line.isEmpty else { throw DatasetError("\(name):\(number): empty line") }
            let values = fields(line, delimiter)
            guard values.count == names.count else {
                throw DatasetError("\(name):\(number): \(values.count) fields, the header has \(names.count)")
            }
            let (u, i) = (values[user].trimmingCharacters(in: .whitespaces), values[item].trimmingCharacters(in: .whitespaces))
            guard !u.isEmpty, !i.isEmpty else { throw DatasetError("\(name):\(number): empty user or item id") }
            guard let t = Double(values[time].trimmingCharacters(in: .whitespaces)), t.isFinite else {
                throw DatasetError("\(name):\(number): timestamp '\(values[time])' is not a number")
            }
            var score: Float = 5
            if let rating {
                guard let r = Float(values[rating].trimmingCharacters(in: .whitespaces)), r.isFinite else {
                    throw DatasetError("\(name):\(number): rating '\(values[rating])' is not a number")
                }
                score = r
            }
            if let flag {
                switch values[flag].trimmingCharacters(in: .whitespaces).lowercased() {
                case "1", "true": break
                case "0", "false": continue
                default: throw DatasetError("\(name):\(number): positive '\(values[flag])' is not 1, 0, true or false")
                }
            }
            log.append(user: u, item: i, rating: score, timestamp: Int64(t))
        }
        guard !log.events.isEmpty else { throw DatasetError("\(name): no interactions after the header") }
        return log
    }

    private static func fields(_ line: Data.SubSequence, _ delimiter: UInt8) -> [String] {
        line.split(separator: delimiter, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}
