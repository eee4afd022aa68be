import MedLedgerLedger
import Testing

@Suite("AppendOnlyList: the state's persistent append-only lists")
struct AppendOnlyListTests {
    @Test("appends across chunk boundaries keep every element in order and in place", arguments: [0, 1, 31, 32, 33, 64, 65, 1_000])
    func appendsInOrder(count: Int) {
        var list = AppendOnlyList<Int>()
        for value in 0..<count { list.append(value * 3) }
        #expect(list.count == count && list.isEmpty == (count == 0))
        #expect(Array(list) == (0..<count).map { $0 * 3 })
        for index in stride(from: 0, to: count, by: 7) { #expect(list[index] == index * 3) }
        #expect(AppendOnlyList((0..<count).map { $0 * 3 }) == list)
    }

    @Test("a copy and its original grow apart without seeing each other's appends")
    func copiesAreIndependent() {
        var original: AppendOnlyList<String> = ["a", "b"]
        for index in 0..<40 { original.append("x\(index)") }
        var copy = original
        copy.append("only in the copy")
        original.append("only in the original")
        for index in 0..<100 { copy.append("c\(index)") }
        #expect(original.count == 43 && copy.count == 143)
        #expect(original.last == "only in the original" && copy[42] == "only in the copy")
        #expect(Array(original.prefix(42)) == Array(copy.prefix(42)))
        #expect(original != copy)
    }

    @Test("equal lists are equal and hash alike however they were built; a different one is not")
    func equality() {
        let built = AppendOnlyList(0..<70)
        var appended = AppendOnlyList<Int>()
        for value in 0..<70 { appended.append(value) }
        #expect(built == appended && built.hashValue == appended.hashValue)
        appended.append(70)
        #expect(built != appended)
        #expect(AppendOnlyList<Int>() == [] && AppendOnlyList([1]).description == "[1]")
    }
}
