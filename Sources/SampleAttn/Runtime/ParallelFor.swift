import CSampleAttn

/// Runs body(task, worker) for every task on the context's threads (see sac_parallel_for).
func parallelFor(threads: Int, tasks: Int, _ body: @escaping (Int, Int) -> Void) {
    final class Box { let body: (Int, Int) -> Void; init(_ b: @escaping (Int, Int) -> Void) { body = b } }
    let box = Box(body)
    withExtendedLifetime(box) {
        sac_parallel_for(Int32(clamping: threads), Int64(tasks), { env, task, worker in
            Unmanaged<Box>.fromOpaque(env!).takeUnretainedValue().body(Int(task), Int(worker))
        }, Unmanaged.passUnretained(box).toOpaque())
    }
}
