import Engine
import SemanticIDs
import Testing

@Suite struct CodebookBytesTests {
    /// A built codebook with an item coded online reads back with the same centroids, codes and coding
    /// order, so a receiving node numbers items as the sender does.
    @Test func roundTripKeepsCentroidsCodesAndOrder() throws {
        let v = CodebookTests.vectors(120)
        let (book, _) = try CodebookTests.build(v)
        _ = try book.add(item: 5, vector: Array(v.row(3)))
        let back = try Codebook(encoded: book.encoded())
        #expect(back.version == book.version && back.count == 121)
        #expect(back.quantizer.centroids == book.quantizer.centroids)
        #expect(back.itemsInOrder == book.itemsInOrder)
        #expect(back.collisionsBeforeResolution == book.collisionsBeforeResolution)
        for item in book.itemsInOrder {
            #expect(back.code(of: item) == book.code(of: item) && back.index(of: item) == book.index(of: item))
        }
        #expect(back.encoded() == book.encoded())
    }

    /// Bytes that are not an encoding are refused with a reason, never trapped on.
    @Test func damagedBytesAreRefused() throws {
        let (book, _) = try CodebookTests.build(CodebookTests.vectors(60))
        let good = book.encoded()
        var outOfRange = good
        let firstCode = good.count - book.count * (8 + 4 * book.levels) + 8  // the first item's first code
        outOfRange[firstCode..<firstCode + 4] = [0xFF, 0xFF, 0, 0]
        var twice = good
        let record = 8 + 4 * book.levels
        twice.replaceSubrange((good.count - record)..., with: good[(good.count - 2 * record)..<(good.count - record)])  // last item = the one before
        let cases: [([UInt8], String)] = [
            (Array(good.prefix(good.count - 3)), "truncated"), ([], "truncated"), (Array("JUNK".utf8) + good.dropFirst(4), "magic"),
            (good + [0], "after its items"), (outOfRange, "out of range"), (twice, "twice"),
        ]
        for (bytes, reason) in cases {
            #expect { _ = try Codebook(encoded: bytes) } throws: { ($0 as? CodebookError)?.description.contains(reason) == true }
        }
    }
}
