import Datasets
import Foundation
import Testing

@Suite struct ItemContentTests {
    func parse(_ text: String) throws -> [String: [Float]] { try ItemContentFile.parse(Data(text.utf8), name: "items") }

    @Test func csvAndTypedTSVParse() throws {
        let csv = try parse("item,a,b\nm1,0.5,-1\r\nm2,2,0\n")
        #expect(csv == ["m1": [0.5, -1], "m2": [2, 0]])
        let tsv = try parse("item_id:token\tv:float\n7\t1e-3\n")
        #expect(tsv == ["7": [0.001]])
    }

    @Test(arguments: [
        ("user,a\nx,1\n", "items:1: the first column is 'user'"),
        ("item\nx\n", "items:1: no vector columns"),
        ("item,a,b\nx,1\n", "items:2: 2 fields, the header has 3"),
        ("item,a\nx,1\nx,2\n", "items:3: item 'x' given again"),
        ("item,a\n,1\n", "items:2: empty item id"),
        ("item,a\nx,nan\n", "items:2: 'nan' in column a is not a finite number"),
        ("item,a\n", "items: no items after the header"),
        ("", "items: empty file"),
    ])
    func malformedFilesAreRefusedWithTheirLine(text: String, message: String) throws {
        let error = #expect(throws: DatasetError.self) { try parse(text) }
        #expect(error?.description.hasPrefix(message) == true, "\(String(describing: error))")
    }

    /// Genres share the item's unit of weight; the release decade is one-hot; a missing year leaves it out.
    @Test func movieLensItemsBecomeGenreAndDecadeVectors() throws {
        let text = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\r\n"
            + "1\tToy Story\t1995\tAnimation Comedy\r\n2\tGoldenEye\t1995\tAction\r\n3\tOld\t1931\tComedy\r\n4\tunknown\t\tunknown\r\n"
        let content = try MovieLens.content(items: Data(text.utf8), name: "ml.item")
        // Columns: Action, Animation, Comedy, unknown, then the 1930s and the 1990s.
        let h = 1 / Float(2).squareRoot()
        #expect(content["1"] == [0, h, h, 0, 0, 1])
        #expect(content["2"] == [1, 0, 0, 0, 0, 1])
        #expect(content["3"] == [0, 0, 1, 0, 1, 0])
        #expect(content["4"] == [0, 0, 0, 1, 0, 0])
        let bad = #expect(throws: DatasetError.self) { try MovieLens.content(items: Data("item_id:token\tgenre:token\n1\tx\n".utf8), name: "ml.item") }
        #expect(bad?.description.contains("release_year") == true)
    }
}
