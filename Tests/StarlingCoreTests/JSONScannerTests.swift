import StarlingCore
import Testing

struct JSONScannerTests {
    @Test func parsesLiteralsAndNumbers() throws {
        #expect(try JSONScanner.parse("null") == .null)
        #expect(try JSONScanner.parse("true") == .bool(true))
        #expect(try JSONScanner.parse(" false ") == .bool(false))
        #expect(try JSONScanner.parse("0") == .number(0, integer: 0))
        #expect(try JSONScanner.parse("-42") == .number(-42, integer: -42))
        #expect(try JSONScanner.parse("9223372036854775807") == .number(9.223372036854775807e18, integer: Int64.max))
        #expect(try JSONScanner.parse("1.5") == .number(1.5, integer: nil))
        #expect(try JSONScanner.parse("-2.5e-3") == .number(-0.0025, integer: nil))
        #expect(try JSONScanner.parse("1E3") == .number(1000, integer: nil))
        #expect(try JSONScanner.parse("1e+2") == .number(100, integer: nil))
    }

    @Test func integerTooLargeForInt64KeepsOnlyTheDoubleValue() throws {
        let value = try JSONScanner.parse("18446744073709551616")
        #expect(value == .number(18_446_744_073_709_551_616.0, integer: nil))
        let justOver = try JSONScanner.parse("9223372036854775808")
        #expect(justOver == .number(9_223_372_036_854_775_808.0, integer: nil))
    }

    @Test func decodesStringEscapes() throws {
        let value = try JSONScanner.parse(#""q\"b\\s\/\b\f\n\r\t|\u00e9|\ud83d\ude00|\u0041""#)
        #expect(value == .string("q\"b\\s/\u{08}\u{0C}\n\r\t|é|😀|A"))
    }

    @Test func keepsRawUTF8InStrings() throws {
        #expect(try JSONScanner.parse("\"héllo ✓ 😀\"") == .string("héllo ✓ 😀"))
    }

    @Test func keepsObjectMembersInDocumentOrderIncludingDuplicates() throws {
        let value = try JSONScanner.parse(#"{"b": 1, "a": [true, null, "x"], "b": {"c": {}}}"#)
        guard case .object(let members) = value else {
            Issue.record("expected an object, got \(value)")
            return
        }
        #expect(members.map(\.key) == ["b", "a", "b"])
        #expect(members[1].value == .array([.bool(true), .null, .string("x")]))
        #expect(members[2].value == .object([JSONMember(key: "c", value: .object([]))]))
        // The subscript finds the first member with the key.
        #expect(value["b"] == .number(1, integer: 1))
        #expect(value["missing"] == nil)
        #expect(JSONValue.array([])["b"] == nil)
    }

    @Test func parsesEmptyContainersAndWhitespace() throws {
        #expect(try JSONScanner.parse(" \t\r\n{ } ") == .object([]))
        #expect(try JSONScanner.parse("[ ]") == .array([]))
        #expect(try JSONScanner.parse("[[],[[]]]") == .array([.array([]), .array([.array([])])]))
    }

    struct SyntaxErrorCase: Sendable, CustomTestStringConvertible {
        var input: String
        var line: Int
        var column: Int
        var message: String
        var testDescription: String { "\(self.input.debugDescription) -> \(self.line):\(self.column)" }
    }

    static let syntaxErrors: [SyntaxErrorCase] = [
        SyntaxErrorCase(input: "", line: 1, column: 1, message: "unexpected end of input"),
        SyntaxErrorCase(input: #"{"a": 1,}"#, line: 1, column: 9, message: "expected a string key"),
        SyntaxErrorCase(input: "[1, 2", line: 1, column: 6, message: "expected ',' or ']' in an array, found end of input"),
        SyntaxErrorCase(input: "{\n  \"a\": tru\n}", line: 2, column: 8, message: "invalid literal"),
        SyntaxErrorCase(input: "[\n1,\n2,\n]", line: 4, column: 1, message: "unexpected ']', expected a value"),
        SyntaxErrorCase(input: "01", line: 1, column: 3, message: "leading zeros"),
        SyntaxErrorCase(input: "-", line: 1, column: 2, message: "expected digits"),
        SyntaxErrorCase(input: "1.", line: 1, column: 3, message: "after the decimal point"),
        SyntaxErrorCase(input: "1e", line: 1, column: 3, message: "exponent"),
        SyntaxErrorCase(input: "1e999", line: 1, column: 1, message: "number out of range"),
        SyntaxErrorCase(input: "\"abc", line: 1, column: 5, message: "unterminated string"),
        SyntaxErrorCase(input: #""a\x""#, line: 1, column: 4, message: "invalid escape sequence"),
        SyntaxErrorCase(input: #""\ud800""#, line: 1, column: 8, message: "unpaired surrogate"),
        SyntaxErrorCase(input: #""\udc00""#, line: 1, column: 8, message: "unpaired surrogate"),
        SyntaxErrorCase(input: #""\u12g4""#, line: 1, column: 6, message: "invalid hex digit"),
        SyntaxErrorCase(input: "\"a\u{01}b\"", line: 1, column: 3, message: "control character"),
        SyntaxErrorCase(input: "1 2", line: 1, column: 3, message: "unexpected data after the end"),
        SyntaxErrorCase(input: #"{"a" 1}"#, line: 1, column: 6, message: "expected ':' after an object key, found '1'"),
        SyntaxErrorCase(input: "{1: 2}", line: 1, column: 2, message: "expected a string key, found '1'"),
        SyntaxErrorCase(input: "nul", line: 1, column: 1, message: "unexpected end of input"),
        SyntaxErrorCase(input: "@", line: 1, column: 1, message: "unexpected '@', expected a value"),
    ]

    @Test(arguments: syntaxErrors)
    func reportsLineAndColumnOfSyntaxErrors(_ testCase: SyntaxErrorCase) {
        do throws(JSONSyntaxError) {
            let value = try JSONScanner.parse(testCase.input)
            Issue.record("expected a syntax error, parsed \(value)")
        } catch {
            #expect(error.line == testCase.line)
            #expect(error.column == testCase.column)
            #expect(error.message.contains(testCase.message), "message was: \(error.message)")
            #expect(error.description.hasPrefix("invalid JSON at line \(testCase.line), column \(testCase.column): "))
        }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22]] {
            do throws(JSONSyntaxError) {
                let value = try JSONScanner.parse(bytes)
                Issue.record("expected invalid UTF-8 to be rejected, parsed \(value)")
            } catch {
                #expect(error.message.contains("UTF-8"))
                #expect(error.column == 2)
            }
        }
    }

    @Test func boundsNestingDepth() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try JSONScanner.parse(ok)
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        do throws(JSONSyntaxError) {
            _ = try JSONScanner.parse(tooDeep)
            Issue.record("expected nesting of 65 to be rejected")
        } catch {
            #expect(error.message.contains("nesting deeper than 64"))
        }
        // Hostile input far deeper than the limit fails cleanly instead of overflowing the stack.
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONScanner.parse(hostile) }
    }

    @Test func streamsArrayElementsWithTheirIndices() throws {
        let bytes = Array(#" [10, "x", {"k": false}] trailing"#.utf8)
        var indices: [Int] = []
        var values: [JSONValue] = []
        let result: Result<Int, JSONSyntaxError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONSyntaxError) -> Int in
                var scanner = JSONScanner(buffer)
                try scanner.readArray { scanner, index throws(JSONSyntaxError) in
                    indices.append(index)
                    values.append(try scanner.readValue())
                }
                return scanner.position
            }
        }
        let endPosition = try result.get()
        #expect(indices == [0, 1, 2])
        #expect(values == [.number(10, integer: 10), .string("x"), .object([JSONMember(key: "k", value: .bool(false))])])
        #expect(endPosition == 24)
    }

    @Test func customMaxDepthIsHonoured() throws {
        let bytes = Array("[[1]]".utf8)
        let shallow: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONSyntaxError) in
                var scanner = JSONScanner(buffer, maxDepth: 2)
                return try scanner.readValue()
            }
        }
        #expect(throws: JSONSyntaxError.self) { try shallow.get() }
        let deep: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONSyntaxError) in
                var scanner = JSONScanner(buffer, maxDepth: 3)
                return try scanner.readValue()
            }
        }
        #expect(try deep.get() == .array([.array([.number(1, integer: 1)])]))
    }
}
