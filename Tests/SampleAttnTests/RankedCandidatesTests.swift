import XCTest
@testable import SampleAttn

/// RankedCandidates pops in the order of a full sort by (mass descending, id ascending), with
/// items pushed back at a lower mass after their pop, as stage 2's stale entries are.
final class RankedCandidatesTests: XCTestCase {
    /// The reference: the largest remaining item by a scan of all of them.
    struct ScanQueue {
        var items: [Candidates.Item]
        mutating func pop() -> Candidates.Item {
            var best = 0
            for i in items.indices where Candidates.above(items[i], items[best]) { best = i }
            return items.remove(at: best)
        }
    }

    func testPopsInRankOrderWithPushBacks() {
        for (n, seed) in [(0, 1), (1, 2), (7, 3), (300, 4), (2000, 5)] as [(Int, UInt64)] {
            var rng = SeededRandom(seed)
            // Masses from a few values, so that ties (broken by id) are common.
            let initial = (0..<n).map { (mass: Double(Int(rng.next() % 40)) / 4, id: $0) }
            var ranked = RankedCandidates(initial), reference = ScanQueue(items: initial)
            var pops = 0
            while !ranked.isEmpty {
                let got = ranked.pop(), want = reference.pop()
                XCTAssertTrue(got == want, "n \(n) pop \(pops): \(got) != \(want)")
                pops += 1
                if rng.next() % 3 == 0 && got.mass > 0 {   // stale: back with less mass
                    let lower = (mass: got.mass - Double(1 + Int(rng.next() % 8)) / 4, id: got.id)
                    if lower.mass > 0 { ranked.push(lower); reference.items.append(lower) }
                }
            }
            XCTAssertTrue(reference.items.isEmpty, "n \(n): \(reference.items.count) left")
            XCTAssertGreaterThanOrEqual(pops, n)
        }
    }

    func testSplitBestMovesTheBestToTheEnd() {
        var rng = SeededRandom(9)
        let items = (0..<5000).map { (mass: Double(Int(rng.next() % 50)), id: $0) }
        for k in [0, 1, 2, 63, 250, 1000, 4999, 5000, 9000] {
            var work = items
            let taken = work.withUnsafeMutableBufferPointer { RankedCandidates.splitBest(about: k, of: $0) }
            XCTAssertEqual(Set(work.map(\.id)).count, 5000, "k \(k): items lost")
            if k == 0 { XCTAssertEqual(taken, 0); continue }
            XCTAssertGreaterThan(taken, 0, "k \(k)")
            if k >= 5000 { XCTAssertEqual(taken, 5000, "k \(k)") }
            XCTAssertLessThanOrEqual(taken, max(2 * k, 64), "k \(k): far more than asked")
            // Every item moved ranks above every item left.
            let left = work[..<(5000 - taken)], moved = work[(5000 - taken)...]
            let worstMoved = moved.min { Candidates.above($1, $0) }!
            if let bestLeft = left.max(by: { Candidates.above($1, $0) }) {
                XCTAssertTrue(Candidates.above(worstMoved, bestLeft), "k \(k): \(bestLeft) left above \(worstMoved)")
            }
        }
    }

    /// CandidateSort gives the standard library's order on random, sorted, reversed, equal-mass
    /// and organ-pipe inputs (the patterns that make a naive quicksort quadratic or wrong).
    func testCandidateSortMatchesTheStandardSort() {
        var rng = SeededRandom(11)
        for n in [0, 1, 2, 3, 16, 17, 18, 100, 1000, 5000] {
            let patterns: [(String, [Candidates.Item])] = [
                ("random", (0..<n).map { _ in (mass: Double(Int(rng.next() % 30)), id: Int(rng.next() % 100_000)) }),
                ("ascending", (0..<n).map { (mass: Double($0), id: $0) }),
                ("descending", (0..<n).map { (mass: Double(n - $0), id: $0) }),
                ("equal masses, ids descending", (0..<n).map { (mass: 1.0, id: n - $0) }),
                ("organ pipe", (0..<n).map { (mass: Double(min($0, n - $0)), id: $0) }),
            ]
            for (name, items) in patterns {
                var got = items
                got.withUnsafeMutableBufferPointer { CandidateSort.sortBestLast($0) }
                let want = items.sorted { CandidateSort.before($0, $1) }
                XCTAssertTrue(got.elementsEqual(want) { $0 == $1 }, "n \(n), \(name)")
            }
        }
    }
}
