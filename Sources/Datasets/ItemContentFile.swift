import Foundation

/// Item content vectors from any system, as CSV or TSV (the delimiter is the header's: a tab if it has
/// one, else a comma): a header whose first column names the item (`item`, `item_id`, ... as in
/// `InteractionFile`, a `:type` suffix ignored), then one row per item: its id, then the vector's values,
/// one per remaining column. Every row has the header's number of fields and finite numbers; an item
/// given twice, an empty id or a value that is not a number is refused with its line number.
public enum ItemContentFile {
    public static func load(_ path: String) throws -> [String: [Float]] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        return try parse(data, name: path)
    }

    /// The same from bytes; `name` prefixes error messages.
    public static func parse(_ data: Data, name: String) throws -> [String: [Float]] {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first, !header.isEmpty else { throw DatasetError("\(name): empty file: a header line naming the item column and the vector's columns comes first") }
        let delimiter = header.contains(UInt8(ascii: "\t")) ? UInt8(ascii: "\t") : UInt8(ascii: ",")
        let names = header.split(separator: delimiter, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self).split(separator: ":").first.map(String.init)?.lowercased().trimmingCharacters(in: .whitespaces) ?? ""
        }
        guard let first = names.first, InteractionFile.itemNames.contains(first) else {
            throw DatasetError("\(name):1: the first column is '\(names.first ?? "")'; it names the item (one of \(InteractionFile.itemNames.sorted().joined(separator: ", ")))")
        }
        guard names.count >= 2 else { throw DatasetError("\(name):1: no vector columns after the item column") }
        var vectors: [String: [Float]] = [:]
        for (index, line) in lines.enumerated().dropFirst() {
            let number = index + 1
            let fields = line.split(separator: delimiter, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
            guard fields.count == names.count else { throw DatasetError("\(name):\(number): \(fields.count) fields, the header has \(names.count)") }
            guard !fields[0].isEmpty else { throw DatasetError("\(name):\(number): empty item id") }
            guard vectors[fields[0]] == nil else { throw DatasetError("\(name):\(number): item '\(fields[0])' given again") }
            vectors[fields[0]] = try fields.dropFirst().enumerated().map { column, text in
                guard let v = Float(text), v.isFinite else { throw DatasetError("\(name):\(number): '\(text)' in column \(names[column + 1]) is not a finite number") }
                return v
            }
        }
        guard !vectors.isEmpty else { throw DatasetError("\(name): no items after the header") }
        return vectors
    }
}
