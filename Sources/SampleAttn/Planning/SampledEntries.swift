/// Stage-1 probabilities large enough to matter for diagonals: per sampled row, the keys outside
/// its window (sinks excluded) with probability >= 1 / capacity, ascending. At most `capacity`
/// keys of a softmax row can reach that, so a row never overflows its slots.
struct SampledEntries {
    static let capacity = 256
    let keys: UnsafeMutablePointer<Int32>    // [rows x capacity]
    let probs: UnsafeMutablePointer<Float>   // [rows x capacity]
    let counts: UnsafeMutablePointer<Int32>  // [rows]

    /// Records keys [from, to) of one sampled row (`row` holds 2^(s - max), `inv` 1 / its sum).
    func record(_ index: Int, row: UnsafePointer<Float>, from: Int, to: Int, inv: Float) {
        let threshold = 1 / (Float(Self.capacity) * inv)
        let keys = self.keys + index * Self.capacity, probs = self.probs + index * Self.capacity
        var n = 0
        var a = from
        while a < to {
            let b = min(to, a + 64)
            if rowMax(row, a, b) >= threshold {   // most blocks hold no large entry
                for j in a..<b where row[j] >= threshold && n < Self.capacity {
                    keys[n] = Int32(j)
                    probs[n] = row[j] * inv
                    n += 1
                }
            }
            a = b
        }
        counts[index] = Int32(n)
    }
}
