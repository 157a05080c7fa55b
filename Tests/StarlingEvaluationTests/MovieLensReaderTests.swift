import StarlingCore
import StarlingEvaluation
import Testing

struct MovieLensReaderTests {
    @Test func readsAtomicFileFindingColumnsByHeaderName() throws {
        let directory = TemporaryDirectory()
        let path = try directory.write(
            "ratings.inter",
            """
            item_id:token\trating:float\tuser_id:token\tlabel:float\ttimestamp:float
            242\t3\t196\t0\t881250949
            302\t4.5\t186\t1\t891717742

            """
        )
        let events = try MovieLensReader.read(path: path)
        #expect(
            events == [
                Event(type: .rating, user: "196", item: "242", timestamp: EventTime(milliseconds: 881_250_949_000), value: 3),
                Event(type: .rating, user: "186", item: "302", timestamp: EventTime(milliseconds: 891_717_742_000), value: 4.5),
            ]
        )
    }

    @Test func readsGroupLensUData() throws {
        let directory = TemporaryDirectory()
        let path = try directory.write("u.data", "196\t242\t3\t881250949\r\n22\t377\t1\t878887116\r\n")
        let events = try MovieLensReader.read(path: path)
        #expect(events.map(\.user) == ["22", "196"])
        #expect(events.map(\.item) == ["377", "242"])
        #expect(events.map(\.value) == [1, 3])
        #expect(events.map(\.timestamp) == [.seconds(878_887_116), .seconds(881_250_949)])
        #expect(events.allSatisfy { $0.type == .rating })
    }

    @Test func detectsAHeaderInAFileNotNamedInter() throws {
        let directory = TemporaryDirectory()
        let path = try directory.write(
            "ratings.tsv",
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100\n"
        )
        let events = try MovieLensReader.read(path: path)
        #expect(events == [rating("1", "10", 5, at: 100)])
    }

    @Test func sortsByTimeKeepingFileOrderForEqualTimes() throws {
        let directory = TemporaryDirectory()
        let path = try directory.write(
            "u.data",
            """
            1\ta\t5\t300
            2\tb\t4\t100
            3\tc\t3\t200
            4\td\t2\t100
            5\te\t1\t200
            """
        )
        let events = try MovieLensReader.read(path: path)
        #expect(events.map(\.user) == ["2", "4", "3", "5", "1"])
    }

    @Test func malformedLineNamesFileAndLine() throws {
        let directory = TemporaryDirectory()
        let path = try directory.write(
            "ml.inter",
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100\n2\t20\t4\n"
        )
        let error = try #require(throws: MovieLensReaderError.self) { try MovieLensReader.read(path: path) }
        #expect(error.file == path)
        #expect(error.line == 3)
        #expect(error.description == "\(path):3: expected 4 tab-separated fields, found 3")
    }

    @Test func badRatingAndTimestampAreRejected() throws {
        let rating = try #require(throws: MovieLensReaderError.self) {
            try MovieLensReader.parse(Array("1\t10\tfive\t100\n".utf8), file: "u.data")
        }
        #expect(rating.description == "u.data:1: the rating 'five' is not a number")
        let timestamp = try #require(throws: MovieLensReaderError.self) {
            try MovieLensReader.parse(Array("1\t10\t5\t100\n1\t11\t5\tsoon\n".utf8), file: "u.data")
        }
        #expect(timestamp.line == 2)
        #expect(timestamp.message.contains("'soon'"))
    }

    @Test func headerWithoutANeededColumnIsRejected() throws {
        let error = try #require(throws: MovieLensReaderError.self) {
            try MovieLensReader.parse(Array("user_id:token\titem_id:token\ttimestamp:float\n".utf8), file: "x.inter")
        }
        #expect(error.line == 1)
        #expect(error.message.contains("no 'rating' column"))
    }

    @Test func missingFileIsAClearError() throws {
        let directory = TemporaryDirectory()
        let path = "\(directory.path)/absent.inter"
        let error = try #require(throws: MovieLensReaderError.self) { try MovieLensReader.read(path: path) }
        #expect(error.line == nil)
        #expect(error.description == "\(path): no such file")
    }

    @Test func fractionalSecondsBecomeMilliseconds() throws {
        let events = try MovieLensReader.parse(Array("1\t10\t4\t100.25\n".utf8), file: "u.data")
        #expect(events.first?.timestamp == EventTime(milliseconds: 100_250))
    }
}
