/// The head_dim values the kernels support: whole SIMD8 vectors, up to the size their scratch
/// buffers are laid out for. Validation (TensorView) and sa_get_features report them.
enum ShapeLimits {
    static let headDimMultiple = 8
    static let maxHeadDim = 256
}
