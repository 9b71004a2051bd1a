/// Fixed constants of the seed planner (not tunable: results depend on them, not on threads),
/// and the size of its reduction tasks.
enum PlanningTraits {
    /// Stage-1 sums are split into this many partitions of the sampled groups (group g in
    /// partition g % count), reduced in a fixed order, so sums do not depend on threads.
    static let partitions = 4
    /// Stage 2's held-out check: the sampled rows split into this many folds by their offset in
    /// their group.
    static let heldOutFolds = 4
    /// Keys per task when stage 1 reduces its sums (a multiple of 8; the sums are elementwise,
    /// so this only sets the tasks' size).
    static let reductionKeys = 2048
    /// Seed plans' candidate windows wider than window_ratio's: its doublings, this many (two
    /// were measured; the second was never the cheapest, docs/DEFAULTS.md).
    static let widerWindows = 1
}
