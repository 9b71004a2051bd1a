import XCTest
import Foundation
import CSampleAttn
import SampleAttn

/// Pins the library's results bit for bit: SHA-256 of the output, the lse, the call's stats and
/// the plan (per head: info, indices, diagonal offsets) on the shipped capture
/// data/qwen05b_code_4k (first 2048 tokens), against Tests/SampleAttnTests/Fixtures/bitwise_4k.json.
/// A change that is meant to alter results regenerates the fixture with
/// SA_WRITE_BITWISE_FIXTURE=1 (that run writes the file and fails, so it never counts as a pass).
final class BitwiseRegressionTests: XCTestCase {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let data = testsDir.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("data/qwen05b_code_4k").path
    static let fixture = testsDir.appendingPathComponent("Fixtures/bitwise_4k.json").path
    static let tokens = 2048

    struct Case { let name: String; let mode: Int32; let sq: Int; let edit: (inout sa_params) -> Void }

    static let cases: [Case] = [
        Case(name: "dense", mode: SA_MODE_DENSE, sq: tokens) { _ in },
        Case(name: "sample", mode: SA_MODE_SAMPLE, sq: tokens) { _ in },
        Case(name: "sample_paper", mode: SA_MODE_SAMPLE, sq: tokens) {
            $0.alpha_correction = 0; $0.max_diagonals = 0; $0.min_window = 0; $0.rank_prior_rows = 0
        },
        Case(name: "slash", mode: SA_MODE_SAMPLE_SLASH, sq: tokens) { _ in },
        Case(name: "sample_chunk512", mode: SA_MODE_SAMPLE, sq: 512) { _ in },
        Case(name: "slash_chunk512", mode: SA_MODE_SAMPLE_SLASH, sq: 512) { _ in },
    ]

    /// Hashes of one case: sa_attention's output, lse and stats (timings left out), and the plan
    /// sa_plan_create makes from the same inputs.
    func digests(_ c: Case, q: HeadMajorNpy, k: HeadMajorNpy, v: HeadMajorNpy) -> [String: String] {
        let sk = Self.tokens, hq = q.heads, dim = q.dim
        var p = params(c.mode, c.edit)
        var qv = q.view(sk - c.sq..<sk), kv = k.view(0..<sk), vv = v.view(0..<sk)
        let ctx = sa_context_new_impl(0)
        defer { sa_context_free_impl(ctx) }
        var out = [Float](repeating: 0, count: c.sq * hq * dim)
        var lse = [Float](repeating: 0, count: c.sq * hq)
        var stats = sa_stats()
        stats.struct_size = UInt32(MemoryLayout<sa_stats>.size)
        let status = out.withUnsafeMutableBytes { ob in
            lse.withUnsafeMutableBufferPointer { lb in
                var o = sa_tensor(data: ob.baseAddress, dtype: SA_DTYPE_F32, reserved: 0, n_tokens: Int64(c.sq),
                                  n_heads: Int64(hq), head_dim: Int64(dim), stride_token: 0, stride_head: 0)
                return sa_attention_impl(ctx, &p, &qv, &kv, &vv, &o, lb.baseAddress, &stats)
            }
        }
        XCTAssertEqual(status, SA_OK, "\(c.name): " + String(cString: sa_context_last_error_impl(ctx)))
        var statsBytes = ByteLog()
        statsBytes.add(stats.mode); statsBytes.add(stats.n_heads); statsBytes.add(stats.n_dense_heads)
        statsBytes.add(stats.kept_entries); statsBytes.add(stats.causal_entries); statsBytes.add(stats.density)
        statsBytes.add(stats.cra_estimate); statsBytes.add(stats.fallback_reason)

        var plan: OpaquePointer?
        XCTAssertEqual(sa_plan_create_impl(ctx, &p, &qv, &kv, &plan), SA_OK, "\(c.name): plan")
        defer { sa_plan_free_impl(plan) }
        var planBytes = ByteLog()
        for h in 0..<Int64(hq) {
            var info = sa_plan_head()
            info.struct_size = UInt32(MemoryLayout<sa_plan_head>.size)
            XCTAssertEqual(sa_plan_head_info_impl(plan, h, &info), SA_OK)
            planBytes.add(info.dense); planBytes.add(info.window); planBytes.add(info.n_indices)
            planBytes.add(info.kept_entries); planBytes.add(info.density); planBytes.add(info.cra_mean)
            planBytes.add(info.cra_min); planBytes.add(info.block_size); planBytes.add(info.n_slash_blocks)
            var indices = [Int64](repeating: -1, count: Int(info.n_indices))
            var offsets = [Int64](repeating: -1, count: Int(info.n_slash_blocks))
            XCTAssertEqual(indices.withUnsafeMutableBufferPointer { sa_plan_head_indices_impl(plan, h, $0.baseAddress, info.n_indices) }, SA_OK)
            XCTAssertEqual(offsets.withUnsafeMutableBufferPointer { sa_plan_head_slashes_impl(plan, h, $0.baseAddress, info.n_slash_blocks) }, SA_OK)
            for x in indices { planBytes.add(x) }
            for x in offsets { planBytes.add(x) }
        }
        return ["out": out.withUnsafeBytes { SHA256.hex(Array($0)) },
                "lse": lse.withUnsafeBytes { SHA256.hex(Array($0)) },
                "stats": SHA256.hex(statsBytes.bytes),
                "plan": SHA256.hex(planBytes.bytes)]
    }

    func testResultsMatchFixture() throws {
        var actual: [String: [String: String]] = [:]
        for layer in [1, 12, 23] {
            let name = String(format: "%@/L%02d_", Self.data, layer)
            let q = try HeadMajorNpy(name + "q.npy"), k = try HeadMajorNpy(name + "k.npy"), v = try HeadMajorNpy(name + "v.npy")
            for c in Self.cases { actual["L\(layer)/\(c.name)"] = digests(c, q: q, k: k, v: v) }
        }
        if ProcessInfo.processInfo.environment["SA_WRITE_BITWISE_FIXTURE"] == "1" {
            let json = try JSONSerialization.data(withJSONObject: actual, options: [.prettyPrinted, .sortedKeys])
            try FileManager.default.createDirectory(atPath: (Self.fixture as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try (json + Data("\n".utf8)).write(to: URL(fileURLWithPath: Self.fixture))   // a text file ends in a newline
            XCTFail("fixture written to \(Self.fixture); run again without SA_WRITE_BITWISE_FIXTURE to compare")
            return
        }
        let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixture)))
        guard let expected = stored as? [String: [String: String]] else { return XCTFail("fixture is not a table of hashes") }
        XCTAssertEqual(Set(expected.keys), Set(actual.keys))
        for (key, hashes) in actual.sorted(by: { $0.key < $1.key }) {
            for (what, hash) in hashes.sorted(by: { $0.key < $1.key }) {
                XCTAssertEqual(hash, expected[key]?[what], "\(key): \(what) differs from the pinned result")
            }
        }
    }

    func testSHA256KnownAnswers() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}

/// Little-endian bytes of the values a hash covers.
struct ByteLog {
    var bytes: [UInt8] = []
    mutating func add<T>(_ value: T) { withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) } }
}

/// FIPS 180-4 SHA-256 (Foundation on Linux has no CryptoKit).
enum SHA256 {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]

    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) * 8
        for i in (0..<8).reversed() { data.append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                w[i] = data[chunk + 4 * i..<chunk + 4 * i + 4].reduce(0) { $0 << 8 | UInt32($1) }
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, x) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] = h[i] &+ x }
        }
        return h.map { String(format: "%08x", $0) }.joined()
    }
}
