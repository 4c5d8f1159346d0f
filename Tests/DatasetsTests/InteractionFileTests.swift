import Datasets
import Foundation
import Testing

@Suite struct InteractionFileTests {
    func parse(_ text: String) throws -> InteractionLog { try InteractionFile.parse(Data(text.utf8), name: "log") }

    @Test func csvWithRatingsAndTSVWithTypedHeadersParse() throws {
        let csv = try parse("userId,movieId,rating,timestamp,title\nu1,m1,4.5,100,x\r\nu2,m2,3,50,y\nu1,m3,5,90,z\n")
        #expect(csv.users == ["u1", "u2"] && csv.items == ["m1", "m2", "m3"])
        #expect(csv.events.map(\.rating) == [4.5, 3, 5])
        #expect(csv.histories() == [[2, 0], [1]])
        let tsv = try parse("user_id:token\titem_id:token\ttimestamp:float\n7\t8\t1700000000000\n7\t9\t1700000000001\n")
        #expect(tsv.histories() == [[0, 1]] && tsv.events.allSatisfy { $0.rating == 5 })
    }

    @Test func aPositiveColumnDropsTheNegativeRows() throws {
        let log = try parse("user,item,ts,positive\na,x,1,1\na,y,2,0\na,z,3,true\nb,x,4,false\n")
        #expect(log.events.count == 2 && log.items == ["x", "z"] && log.users == ["a"])
    }

    @Test(arguments: [
        ("user,item\na,b\n", "log:1: no timestamp column"),
        ("user,item,time,ts\na,b,1,2\n", "log:1: more than one timestamp column"),
        ("user,item,ts,rating,label\na,b,1,5,1\n", "log:1: give a rating or a positive column, not both"),
        ("user,item,ts\na,b,1\na,b\n", "log:3: 2 fields, the header has 3"),
        ("user,item,ts\na,b,1\n,b,2\n", "log:3: empty user or item id"),
        ("user,item,ts\na,b,soon\n", "log:2: timestamp 'soon' is not a number"),
        ("user,item,ts,rating\na,b,1,five\n", "log:2: rating 'five' is not a number"),
        ("user,item,ts,positive\na,b,1,maybe\n", "log:2: positive 'maybe' is not 1, 0, true or false"),
        ("user,item,ts\na,b,1\n\na,c,2\n", "log:3: empty line"),
        ("user,item,ts\n", "log: no interactions after the header"),
        ("", "log: empty file"),
    ])
    func malformedFilesAreRefusedWithTheirLine(text: String, message: String) throws {
        let error = #expect(throws: DatasetError.self) { try parse(text) }
        #expect(error?.description.hasPrefix(message) == true, "\(String(describing: error))")
    }
}
