"""sampleattn: causal prefill attention (exact dense and SampleAttention) on numpy arrays and
torch tensors.

    import sampleattn
    out = sampleattn.attention(q, k, v)                       # (S, H, d) float32/float16/bfloat16
    out, lse, plan = sampleattn.attention(q, k, v, return_lse=True, return_plan=True)
    plan.heads[0].window, plan.heads[0].indices, plan.heads[0].density

The native library is found through $SAMPLEATTN_LIBRARY, beside this package (where the wheel
puts it), or the system (see ``sampleattn._loader``); it is loaded on first use and must have
this package's major.minor version.
"""
from ._version import __version__
from ._loader import LibraryNotFoundError
from .api import (LAYOUTS, MODES, Plan, PlanHead, SampleAttnError, attention, features,
                  library_path, set_workspace_cache, status_string, version, version_number,
                  workspace_cached)

__all__ = ["__version__", "attention", "Plan", "PlanHead", "SampleAttnError",
           "LibraryNotFoundError", "version", "version_number", "features", "status_string",
           "library_path", "set_workspace_cache", "workspace_cached", "MODES", "LAYOUTS"]
