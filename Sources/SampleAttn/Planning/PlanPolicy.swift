import CSampleAttn

/// What the seed and slash planners share once each head has its picks: the union over a K/V
/// group (SA_FLAG_SHARE_KV_GROUP), the dense fallback of heads over max_density, and the plan's
/// fallback reason.

/// The sorted union of the picks of a group's heads: every head of the group then reads one set.
func groupUnion(_ picks: [[Int]]) -> [Int] {
    Array(Set(picks.joined())).sorted()
}

/// The heads of a plan as a planner fills them, and the fallback reason they imply.
struct PlannedHeads {
    private(set) var heads: [HeadPlan]
    private var densityFallback = false
    private let sq: Int, sk: Int

    init(count: Int, sq: Int, sk: Int) {
        heads = Array(repeating: HeadPlan.dense(sq: sq, sk: sk), count: count)
        self.sq = sq
        self.sk = sk
    }

    /// Stores head h, computed densely instead when it keeps more than max_density of the causal
    /// entries (unless force_sparse): above it, sparse attention is no faster (docs/DEFAULTS.md).
    mutating func store(_ head: HeadPlan, at h: Int, params: Params) {
        if head.density > Double(params.maxDensity) && !params.forceSparse {
            heads[h] = HeadPlan.dense(sq: sq, sk: sk)
            densityFallback = true
        } else {
            heads[h] = head
        }
    }

    subscript(h: Int) -> HeadPlan {
        get { heads[h] }
        set { heads[h] = newValue }
    }

    /// SA_FALLBACK_DENSITY when a head fell back or every head is dense, else SA_FALLBACK_NONE.
    var fallbackReason: Int32 {
        densityFallback || heads.allSatisfy(\.dense) ? SA_FALLBACK_DENSITY : SA_FALLBACK_NONE
    }
}
