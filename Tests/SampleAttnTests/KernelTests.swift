import XCTest
@testable import SampleAttn

/// Each micro-kernel against its scalar reference (ReferenceKernels, bit for bit) and against a
/// float64 computation of the same product.
final class KernelTests: XCTestCase {
    /// A 64-byte aligned float buffer filled with uniform [-1, 1) values.
    final class Buffer {
        let p: UnsafeMutablePointer<Float>
        let count: Int
        init(_ count: Int, seed: UInt64) {
            self.count = count
            p = .allocate(capacity: count)
            var rng = SeededRandom(seed)
            for i in 0..<count { p[i] = rng.uniform() }
        }
        func copy() -> Buffer {
            let b = Buffer(count, seed: 0)
            b.p.update(from: p, count: count)
            return b
        }
        var values: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
        deinit { p.deallocate() }
    }

    func testScoreTileMatchesReferenceAndFloat64() {
        for dim in [8, 64, 136, 256] {
            let q = Buffer(dim * KernelTraits.rows, seed: 1), kt = Buffer(dim * KernelTraits.keyTile, seed: 2)
            let lds = 24
            let s = Buffer(KernelTraits.rows * lds, seed: 3), ref = s.copy()
            scoreTile(q.p, kt.p, dim, s.p, lds)
            ReferenceKernels.scoreTile(q.p, kt.p, dim, ref.p, lds)
            XCTAssertEqual(s.values, ref.values, "dim \(dim)")
            for r in 0..<KernelTraits.rows {
                for t in 0..<KernelTraits.keyTile {
                    var exact = 0.0
                    for c in 0..<dim { exact += Double(q.p[c * KernelTraits.rows + r]) * Double(kt.p[c * KernelTraits.keyTile + t]) }
                    XCTAssertEqual(Double(s.p[r * lds + t]), exact, accuracy: 1e-6 * Double(dim), "dim \(dim) r \(r) t \(t)")
                }
            }
            // Columns past the tile are not written.
            for r in 0..<KernelTraits.rows { for t in KernelTraits.keyTile..<lds { XCTAssertEqual(s.p[r * lds + t], ref.p[r * lds + t]) } }
        }
    }

    func testScoreTileRowMaxFoldsTheTile() {
        let dim = 32
        let q = Buffer(dim * KernelTraits.rows, seed: 4), kt = Buffer(dim * KernelTraits.keyTile, seed: 5)
        let s = Buffer(KernelTraits.rows * 16, seed: 6)
        var maxes = [F8](repeating: F8(repeating: -.infinity), count: KernelTraits.rows)
        maxes[2] = F8(repeating: 1e9)    // an earlier tile's larger max stays
        maxes.withUnsafeMutableBufferPointer { scoreTile(q.p, kt.p, dim, s.p, 16, rowMax: $0.baseAddress!) }
        for r in 0..<KernelTraits.rows {
            let rowMaximum = (0..<16).map { s.p[r * 16 + $0] }.max()!
            XCTAssertEqual(hmax(maxes[r]), r == 2 ? 1e9 : rowMaximum)
        }
    }

    func testValueKernelsMatchReferenceAndFloat64() {
        typealias Tile = (UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, Int, Int, UnsafeMutablePointer<Float>, Int) -> Void
        let kernels: [(String, Int, Tile, Tile)] = [
            ("valueTile16", 16, { valueTile16($0, $1, $2, $3, $4, $5, $6, $7) }, { ReferenceKernels.valueTile16($0, $1, $2, $3, $4, $5, $6, $7) }),
            ("valueTile8", 8, { valueTile8($0, $1, $2, $3, $4, $5, $6, $7) }, { ReferenceKernels.valueTile8($0, $1, $2, $3, $4, $5, $6, $7) }),
        ]
        let ldp = 40, ldv = 24, ldo = 20, ja = 3, jb = 37
        for (name, width, kernel, reference) in kernels {
            let p = Buffer(KernelTraits.rows * ldp, seed: 7), v = Buffer(jb * ldv, seed: 8)
            let o = Buffer(KernelTraits.rows * ldo, seed: 9), ref = o.copy(), start = o.copy()
            kernel(p.p, ldp, v.p, ldv, ja, jb, o.p, ldo)
            reference(p.p, ldp, v.p, ldv, ja, jb, ref.p, ldo)
            XCTAssertEqual(o.values, ref.values, name)
            for r in 0..<KernelTraits.rows {
                for c in 0..<ldo {
                    var exact = Double(start.p[r * ldo + c])
                    if c < width { for j in ja..<jb { exact += Double(p.p[r * ldp + j]) * Double(v.p[j * ldv + c]) } }
                    XCTAssertEqual(Double(o.p[r * ldo + c]), exact, accuracy: 1e-5, "\(name) r \(r) c \(c)")
                }
            }
        }
    }

    func testValueRowsMatchesReferenceAndFloat64() {
        for dim in [8, 24, 64, 136] {
            let ldp = 50, ja = 0, jb = 50
            let p = Buffer(KernelTraits.rows * ldp, seed: 10), v = Buffer(jb * dim, seed: 11)
            let o = Buffer(KernelTraits.rows * dim, seed: 12), ref = o.copy(), start = o.copy()
            valueRows(p.p, ldp, v.p, dim, ja, jb, o.p)
            ReferenceKernels.valueRows(p.p, ldp, v.p, dim, ja, jb, ref.p)
            XCTAssertEqual(o.values, ref.values, "dim \(dim)")
            for r in 0..<KernelTraits.rows {
                for c in 0..<dim {
                    var exact = Double(start.p[r * dim + c])
                    for j in ja..<jb { exact += Double(p.p[r * ldp + j]) * Double(v.p[j * dim + c]) }
                    XCTAssertEqual(Double(o.p[r * dim + c]), exact, accuracy: 1e-5, "dim \(dim) r \(r) c \(c)")
                }
            }
        }
    }

    func testRangeSumsMatchReferenceAndFloat64() {
        let src = Buffer(300, seed: 20)
        for (a, b) in [(0, 0), (0, 7), (3, 11), (5, 300), (1, 257), (0, 256)] {
            let sum = rangeSum(src.p, a, b)
            XCTAssertEqual(sum, ReferenceKernels.rangeSum(src.p, a, b), "\(a)..<\(b)")
            let exact = (a..<b).reduce(0.0) { $0 + Double(src.p[$1]) }
            XCTAssertEqual(Double(sum), exact, accuracy: 1e-5, "\(a)..<\(b)")

            let n = b - a, dst = Buffer(n + 1, seed: 21), ref = dst.copy(), start = dst.copy()
            let scale: Float = 0.37
            let total = addScaledSum(dst.p, src.p + a, n, scale)
            XCTAssertEqual(total, ReferenceKernels.addScaledSum(ref.p, src.p + a, n, scale), "\(a)..<\(b)")
            XCTAssertEqual(total, sum, "\(a)..<\(b)")
            XCTAssertEqual(dst.values, ref.values, "\(a)..<\(b)")
            XCTAssertEqual(dst.p[n], start.p[n], "writes past n")
            for j in 0..<n {
                XCTAssertEqual(Double(dst.p[j]), Double(start.p[j]) + Double(src.p[a + j]) * Double(scale), accuracy: 1e-6)
            }
        }
    }

    func testExp2vMatchesReferenceAndFloat64() {
        var rng = SeededRandom(13)
        var worstToReference = 0.0, worstToExact = 0.0
        for _ in 0..<4096 {
            var x = F8()
            for i in 0..<8 { x[i] = 128 * rng.uniform() - 2 }   // [-130, 126): softmax inputs are <= 0
            let y = exp2v(x), ref = ReferenceKernels.exp2v(x)
            for i in 0..<8 where x[i] >= -126 {
                worstToReference = max(worstToReference, abs(Double(y[i]) / Double(ref[i]) - 1))
                worstToExact = max(worstToExact, abs(Double(y[i]) / Foundation.exp2(Double(x[i])) - 1))
            }
            for i in 0..<8 where x[i] < -126 { XCTAssertEqual(y[i], 0) }
        }
        // The polynomial's truncation (< 2e-7) plus float32 rounding of its products.
        XCTAssertLessThan(worstToReference, 5e-7)
        XCTAssertLessThan(worstToExact, 5e-7)
    }

    func testExp2vEdgeValues() {
        // Integers are exact (f = 0), masked scores (-inf) and underflows are exactly 0.
        let x = F8(0, 1, -1, 10, -126, 126, -.infinity, -127)
        let y = exp2v(x)
        XCTAssertEqual(y, F8(1, 2, 0.5, 1024, Float(sign: .plus, exponent: -126, significand: 1),
                             Float(sign: .plus, exponent: 126, significand: 1), 0, 0))
        XCTAssertEqual(exp2s(3), 8)
    }

    func testPackedKeyDotAndUnpackQueryFollowTheLayouts() {
        let dim = 16, keys = 40
        let store = Buffer(PackedKV.paddedKeys(keys) * dim, seed: 14)
        let panel = PackedKV(kt: store.p, v: nil, keys: keys, dim: dim)
        let q = Buffer(dim, seed: 15)
        for j in [0, 15, 16, 39] {
            // Key j's dim c sits in tile j / 16, at row c of the tile, lane j % 16.
            let element = { (c: Int) in store.p[(j / 16) * 16 * dim + c * 16 + j % 16] }
            var exact: Float = 0
            for c in 0..<dim { exact += q.p[c] * element(c) }
            XCTAssertEqual(panel.dot(q.p, key: j), exact)
            XCTAssertEqual(panel.key(at: j).pointee, element(0))
        }
        let packed = Buffer(12 * dim, seed: 16), row = Buffer(dim, seed: 0)
        unpackQuery(packed.p, row: 7, dim: dim, into: row.p)
        for c in 0..<dim { XCTAssertEqual(row.p[c], packed.p[6 * dim + c * 6 + 1]) }
    }
}
