import NIOCore
import StarlingCore
import StarlingHTTP
import Testing

struct JSONWriterTests {
    private func written(_ body: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        body(&writer)
        return String(buffer: writer.buffer)
    }

    @Test(
        arguments: [
            (0.0, "0"), (4.0, "4"), (4.850173605610329, "4.850174"), (-2.5, "-2.5"), (0.001, "0.001"),
            (0.000123, "0.000123"), (123_456.000_000_4, "123456"), (2e9, "2000000000.0"), (.infinity, "null"),
            (.nan, "null"), (1.0000005, "1.000001"),
        ]
    )
    func numbersAreWrittenWithAtMostSixDecimals(value: Double, expected: String) {
        #expect(self.written { $0.value(value) } == expected)
    }

    @Test func objectsArraysAndEscapesFormValidJSON() throws {
        let text = self.written { w in
            w.beginObject()
            w.field("name", "quote \" backslash \\ newline \n tab \t bell \u{07} ü")
            w.key("list")
            w.beginArray()
            w.value(1)
            w.value(true)
            w.null()
            w.beginObject()
            w.endObject()
            w.endArray()
            w.field("n", 1.5)
            w.endObject()
        }
        #expect(text == #"{"name":"quote \" backslash \\ newline \n tab \t bell \u0007 ü","list":[1,true,null,{}],"n":1.5}"#)
        let parsed = try JSONScanner.parse(text)
        #expect(parsed["name"] == .string("quote \" backslash \\ newline \n tab \t bell \u{07} ü"))
    }
}
