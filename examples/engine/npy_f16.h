/*
 * npy_f16.h - two small things an engine host needs to feed libsampleattn from .npy dumps:
 *   - f16 <-> f32 conversion (IEEE binary16, round to nearest even; no F16C needed),
 *   - a reader for float16 C-order .npy files (format versions 1, 2 and 3).
 * Header-only (static functions), C99. Copy it, or replace it with your engine's own helpers
 * (ggml_fp16_to_fp32 / ggml_fp32_to_fp16 do the same).
 */
#ifndef SA_EXAMPLE_NPY_F16_H
#define SA_EXAMPLE_NPY_F16_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- f16 <-> f32 */
static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {                      /* inf / nan */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {                  /* normal */
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {                  /* +-0 */
        bits = sign;
    } else {                                /* subnormal: renormalize */
        int e = -1;
        do { e++; man <<= 1; } while (!(man & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)                  /* inf / nan (keep nan quiet) */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0));
    if (ax >= 0x477ff000u)                  /* rounds to >= 65520: inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {                 /* below the smallest normal: subnormal or 0 */
        if (ax < 0x33000000u) return sign;  /* < 2^-25: rounds to 0 */
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;          /* 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((ax >> 13) - (112u << 10)); /* rebias exponent, keep 10 mantissa bits */
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
    return (uint16_t)(sign | r);
}

/* ---------------------------------------------------------------- .npy (float16, C order) */
typedef struct npy_f16 {
    uint16_t *data;      /* malloc'ed, C order */
    int       ndim;
    int64_t   shape[8];
    int64_t   count;     /* product of shape */
} npy_f16;

/* Reads a little-endian float16 ('<f2'), C-order .npy file. Returns 0 on success, else -1 with a
   message in err (err_size bytes). Free with npy_f16_free. */
static int npy_f16_load(const char *path, npy_f16 *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, err_size, "%.400s: cannot open", path); return -1; }
    unsigned char pre[12];
    size_t header_len;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        snprintf(err, err_size, "%.400s: not a .npy file", path); fclose(f); return -1;
    }
    if (pre[6] == 1) {
        header_len = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) { snprintf(err, err_size, "%.400s: truncated", path); fclose(f); return -1; }
        header_len = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        snprintf(err, err_size, "%.400s: .npy version %d not supported", path, pre[6]); fclose(f); return -1;
    }
    char *hdr = (char *)malloc(header_len + 1);
    if (!hdr || fread(hdr, 1, header_len, f) != header_len) {
        snprintf(err, err_size, "%.400s: truncated header", path); free(hdr); fclose(f); return -1;
    }
    hdr[header_len] = 0;
    const char *descr = strstr(hdr, "'descr'");
    const char *fortran = strstr(hdr, "'fortran_order'");
    const char *shape = strstr(hdr, "'shape'");
    if (!descr || !fortran || !shape) {
        snprintf(err, err_size, "%.400s: unexpected header %.60s", path, hdr); free(hdr); fclose(f); return -1;
    }
    {   /* descr's value is the first quoted string after the key */
        const char *val = strchr(descr + 7, '\'');
        if (!val || strncmp(val, "'<f2'", 5) != 0) {
            snprintf(err, err_size, "%.400s: dtype is not little-endian float16 ('<f2'): %.60s", path, hdr);
            free(hdr); fclose(f); return -1;
        }
    }
    {
        const char *val = fortran + strlen("'fortran_order'");
        while (*val == ' ' || *val == ':') val++;
        if (strncmp(val, "False", 5) != 0) {
            snprintf(err, err_size, "%.400s: Fortran-order arrays are not supported", path);
            free(hdr); fclose(f); return -1;
        }
    }
    {
        const char *p = strchr(shape, '(');
        if (!p) { snprintf(err, err_size, "%.400s: bad shape in %.60s", path, hdr); free(hdr); fclose(f); return -1; }
        p++;
        out->count = 1;
        while (*p && *p != ')') {
            while (*p == ' ' || *p == ',') p++;
            if (*p == ')') break;
            char *end;
            long long n = strtoll(p, &end, 10);
            if (end == p || n < 0 || out->ndim == 8) {
                snprintf(err, err_size, "%.400s: bad shape in %.60s", path, hdr); free(hdr); fclose(f); return -1;
            }
            out->shape[out->ndim++] = n;
            out->count *= n;
            p = end;
        }
    }
    free(hdr);
    out->data = (uint16_t *)malloc((size_t)out->count * sizeof(uint16_t) + 1);
    if (!out->data) { snprintf(err, err_size, "%.400s: out of memory", path); fclose(f); return -1; }
    if (fread(out->data, sizeof(uint16_t), (size_t)out->count, f) != (size_t)out->count) {
        snprintf(err, err_size, "%.400s: truncated data", path);
        free(out->data); out->data = NULL; fclose(f); return -1;
    }
    fclose(f);
    return 0;
}

static void npy_f16_free(npy_f16 *a) {
    free(a->data);
    a->data = NULL;
}

#endif /* SA_EXAMPLE_NPY_F16_H */
