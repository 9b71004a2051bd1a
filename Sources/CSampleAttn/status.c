/* The static strings of sa_status_string (kept in C so they are plain NUL-terminated data). */
#include "csampleattn.h"

static const char *const messages[SA_STATUS_COUNT] = {
    [SA_OK]                       = "success",
    [SA_ERR_NULL_ARGUMENT]        = "a required pointer argument is NULL",
    [SA_ERR_INVALID_DTYPE]        = "invalid dtype",
    [SA_ERR_INVALID_SHAPE]        = "invalid shape: a size is zero or negative",
    [SA_ERR_UNSUPPORTED_HEAD_DIM] = "unsupported head dimension",
    [SA_ERR_GQA_MISMATCH]         = "head counts do not allow grouped-query attention",
    [SA_ERR_SEQ_MISMATCH]         = "sequence lengths do not match",
    [SA_ERR_INVALID_STRIDE]       = "invalid stride or reserved field",
    [SA_ERR_OVERLAPPING_VIEW]     = "a tensor view overlaps itself",
    [SA_ERR_OVERFLOW]             = "sizes or strides overflow",
    [SA_ERR_ALIASING]             = "output memory overlaps another argument",
    [SA_ERR_INVALID_SCALE]        = "scale is not finite or negative",
    [SA_ERR_INVALID_PARAM]        = "a parameter is out of range",
    [SA_ERR_INVALID_MODE]         = "unknown or unavailable mode",
    [SA_ERR_UNKNOWN_FLAG]         = "unknown flag bits",
    [SA_ERR_STRUCT_SIZE]          = "struct_size is invalid",
    [SA_ERR_OUT_OF_MEMORY]        = "out of memory",
    [SA_ERR_CONTEXT_BUSY]         = "the context is in use by another thread",
    [SA_ERR_PLAN_MISMATCH]        = "the plan does not match the inputs",
    [SA_ERR_INDEX_OUT_OF_RANGE]   = "index out of range",
    [SA_ERR_BUFFER_TOO_SMALL]     = "buffer too small",
    [SA_ERR_INTERNAL]             = "internal error",
    [SA_ERR_UNSUPPORTED_CPU]      = "the CPU lacks an instruction set the library needs or was asked to use",
};

const char *sac_status_message(int32_t status) {
    if (status < 0 || status >= SA_STATUS_COUNT || messages[status] == 0) return "unknown status";
    return messages[status];
}

#define SAC_STR2(x) #x
#define SAC_STR(x) SAC_STR2(x)

const char *sac_version_string(void) {
    return SAC_STR(SA_VERSION_MAJOR) "." SAC_STR(SA_VERSION_MINOR) "." SAC_STR(SA_VERSION_PATCH);
}
