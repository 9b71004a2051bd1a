import XCTest
import CSampleAttn
import SampleAttn

/// Dense mode against the float64 oracle over shapes, GQA ratios, dtypes and layouts.
final class DenseTests: XCTestCase {
    func check(sq: Int, sk: Int, hq: Int, hkv: Int, dim: Int, dtype: Int32 = SA_DTYPE_F32, layout: Layout = .tokenMajor,
               seed: UInt64 = 7, line: UInt = #line) {
        let c = Case(sq: sq, sk: sk, hq: hq, hkv: hkv, dim: dim, dtype: dtype, layout: layout, seed: seed, amplitude: 2)
        let lse = c.run(params())
        let ref = c.reference()
        let err = c.relativeError(ref.out)
        // float32 accumulation: 1e-5; half-precision outputs carry their own rounding (2^-11, 2^-8).
        let tol = dtype == SA_DTYPE_F32 ? 1e-5 : (dtype == SA_DTYPE_F16 ? 1e-3 : 8e-3)
        XCTAssertLessThan(err, tol, "sq \(sq) sk \(sk) hq \(hq) hkv \(hkv) d \(dim) dtype \(dtype) \(layout)", line: line)
        XCTAssertLessThan(maxAbsDiff(lse, ref.lse), 1e-4, "lse", line: line)
    }

    func testOddLengths() {
        for (sq, sk) in [(1, 1), (7, 7), (97, 97), (130, 130), (301, 301)] {
            check(sq: sq, sk: sk, hq: 2, hkv: 1, dim: 64)
        }
    }

    func testChunkedPrefill() {
        for (sq, sk) in [(1, 50), (13, 200), (100, 257), (96, 96 * 3)] {
            check(sq: sq, sk: sk, hq: 4, hkv: 2, dim: 64)
        }
    }

    func testGQARatios() {
        for g in [1, 2, 4, 7, 8] {
            check(sq: 67, sk: 150, hq: 2 * g, hkv: 2, dim: 64)
        }
    }

    func testHeadDims() {
        for d in [8, 16, 24, 64, 80, 128, 256] {
            check(sq: 40, sk: 70, hq: 2, hkv: 1, dim: d)
        }
    }

    func testDtypesAndLayouts() {
        for dtype in [SA_DTYPE_F32, SA_DTYPE_F16, SA_DTYPE_BF16] {
            for layout in Layout.allCases {
                check(sq: 50, sk: 120, hq: 4, hkv: 2, dim: 64, dtype: dtype, layout: layout)
            }
        }
    }

    func testThreadCountIndependence() {
        let c = Case(sq: 300, sk: 500, hq: 4, hkv: 2, dim: 64, seed: 3)
        c.run(params(), threads: 1)
        let one = c.out.bytes
        for t: Int32 in [2, 3, 8] {
            c.run(params(), threads: t)
            XCTAssertEqual(c.out.bytes, one, "threads \(t)")
        }
    }
}
