// The AVX2-level packed-tile kernel with 256-bit vpdpbusd. Included by sw_quant_avxvnni.c once
// per encoding of that instruction, so one body serves both:
//   VN_TARGET        target attribute string of every function below
//   VN_DPBUSD(a,u,s) a + per-dword sums of u8 u x s8 s (the VEX or the EVEX intrinsic)
//   VN_NAME(x)       x with the variant's suffix
// Only the VEX build runs in production (AVX-VNNI CPUs at the AVX2 level); the EVEX build lets
// CPUs with AVX512-VNNI + VL test this body (see sw_quant_test_hooks.h).
//
// Geometry and arithmetic follow swi_qtile_avx2 (sw_quant_avx2.c), which this must match bit
// for bit: a register tile is the tile's 32 rows (4 ymm, one row per dword lane) by one
// activation row, chunks of K blocks (swi_avx2_chunks), float sums per chunk added to
// Y. What VNNI changes is only the exact int32 dot product of a block, which is the same number
// whichever instructions form it:
//   Q8_0: the record's w ^ 0x80 = w + 128 is the unsigned operand as stored, so records are
//         read directly (no |w| / sign scratch as for vpmaddubsw) and the sum starts at
//         -128 * sum(x) to cancel the offset.
//   Q4:   nibbles times x, plus -8 * sum(x) for Q4_0 (its nibbles hold q + 8). Records are
//         widened per chunk into scratch when enough activation rows reuse them.

#define VN_T __attribute__((target(VN_TARGET)))
#define VN_TI VN_T static inline __attribute__((always_inline))

VN_TI void VN_NAME(widen_q4)(const uint8_t *rec, int has_m, uint8_t *dst) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
#pragma clang loop unroll(full)
    for (int j = 0; j < 16; j++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(rec + j * 32));
        const int g = j >> 2, o = (j & 3) * 32;
        _mm256_store_si256((__m256i *)(dst + g * 128 + o), _mm256_and_si256(v, m4));
        _mm256_store_si256((__m256i *)(dst + (g + 4) * 128 + o), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) {
        _mm256_store_ps((float *)(dst + 1024 + j * 32), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(rec + 512 + j * 16))));
        if (has_m)
            _mm256_store_ps((float *)(dst + 1152 + j * 32), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(rec + 576 + j * 16))));
    }
}

// The tile's rows x one activation row over blocks kb0..kb0+kcb-1. S: the chunk's records, or
// for Q4 with `widened` its scratch. Unlike swi_qtile_avx2, records read directly are not
// prefetched a tile ahead: measured on the EVEX twin (Zen 4, one thread), the 17 prefetches per
// block cost more than they saved next to 32 vpdpbusd (Q8_0 m = 1, 1536 x 576: 150 against 100
// GOP/s; 49152 x 576: 50 against 36), the tiles being walked in address order anyway.
VN_TI void VN_NAME(qkernel)(const sw_qtype fmt, const int widened, const int split, const uint8_t *S, int kb0, int kcb,
                            const uint8_t *x, const int32_t *xsum, float *y, int nrows, int accumulate) {
    const int pb = widened ? VN_PB4 : (int)swi_qrec_bytes(fmt);
    const int32_t off = fmt == SW_QTYPE_Q8_0 ? -128 : fmt == SW_QTYPE_Q4_0 ? -8 : 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 f[4];
#pragma clang loop unroll(full)
    for (int v = 0; v < 4; v++) f[v] = _mm256_setzero_ps();

    for (int bi = 0; bi < kcb; bi++) {
        const int b = kb0 + bi;
        const uint8_t *pk = S + (size_t)bi * pb;
        const sw_block_q8a *xb = (const sw_block_q8a *)x + b;
        // `split`: two accumulators per ymm (even and odd groups). With one, vpdpbusd's 5-cycle
        // latency on 4 chains of 8 left the multiply ports idle when many activation rows reuse
        // a chunk (Intel Xeon with AVX-VNNI, one thread, 1536 x 576, m = 32: Q4_1 198 -> 216
        // GOP/s, Q8_0 222 -> 231); for one row it cost 1-4 % (Q8_0 160 -> 158 GOP/s), the loads
        // being the limit there. The int sums are exact, so the results are the same bits.
        __m256i a[4], a2[4];
        const __m256i a0 = _mm256_set1_epi32(off * xsum[b]);
#pragma clang loop unroll(full)
        for (int v = 0; v < 4; v++) {
            a[v] = a0;
            a2[v] = _mm256_setzero_si256();
        }
#pragma clang loop unroll(full)
        for (int g = 0; g < 8; g++) {
            const __m256i xv = _mm256_set1_epi32(vn_load_i32(xb->qs + 4 * g));
#pragma clang loop unroll(full)
            for (int v = 0; v < 4; v++) {
                __m256i w;
                if (fmt == SW_QTYPE_Q8_0 || widened) {
                    w = _mm256_loadu_si256((const __m256i *)(pk + g * 128 + v * 32));
                } else {
                    const __m256i raw = _mm256_loadu_si256((const __m256i *)(pk + (g & 3) * 128 + v * 32));
                    w = _mm256_and_si256(g < 4 ? raw : _mm256_srli_epi16(raw, 4), m4);
                }
                if (split && (g & 1)) a2[v] = VN_DPBUSD(a2[v], w, xv);
                else a[v] = VN_DPBUSD(a[v], w, xv);
            }
        }
#pragma clang loop unroll(full)
        for (int v = 0; v < 4 && split; v++) a[v] = _mm256_add_epi32(a[v], a2[v]);
        const __m256 dx = _mm256_set1_ps(xb->d);
#pragma clang loop unroll(full)
        for (int v = 0; v < 4; v++) {
            const __m256 d = widened ? _mm256_load_ps((const float *)(pk + 1024) + 8 * v)
                                     : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pk + (fmt == SW_QTYPE_Q8_0 ? 1024 : 512) + v * 16)));
            f[v] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a[v]), dx), d, f[v]);
        }
        if (fmt == SW_QTYPE_Q4_1) {
            const __m256 sx = _mm256_set1_ps(xb->s);
#pragma clang loop unroll(full)
            for (int v = 0; v < 4; v++) {
                const __m256 mv = widened ? _mm256_load_ps((const float *)(pk + 1152) + 8 * v)
                                          : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pk + 576 + v * 16)));
                f[v] = _mm256_fmadd_ps(mv, sx, f[v]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int v = 0; v < 4; v++) {
        const int n = nrows - 8 * v;
        if (n <= 0) break;
        float *yv = y + 8 * v;
        if (n >= 8) {
            _mm256_storeu_ps(yv, accumulate ? _mm256_add_ps(f[v], _mm256_loadu_ps(yv)) : f[v]);
        } else {
            const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            _mm256_maskstore_ps(yv, mk, accumulate ? _mm256_add_ps(f[v], _mm256_maskload_ps(yv, mk)) : f[v]);
        }
    }
}

#define VN_QK_DEF(FMT, NAME, WIDENED, SPLIT)                                                       \
    VN_T static void VN_NAME(qk_##NAME)(const uint8_t *S, int kb0, int kcb, const uint8_t *x,     \
                                        const int32_t *xsum, float *y, int nrows, int accumulate) { \
        VN_NAME(qkernel)(FMT, WIDENED, SPLIT, S, kb0, kcb, x, xsum, y, nrows, accumulate);         \
    }
VN_QK_DEF(SW_QTYPE_Q8_0, q8_0, 0, 0)
VN_QK_DEF(SW_QTYPE_Q4_0, q4_0, 0, 0)
VN_QK_DEF(SW_QTYPE_Q4_1, q4_1, 0, 0)
VN_QK_DEF(SW_QTYPE_Q8_0, q8_0_split, 0, 1)
VN_QK_DEF(SW_QTYPE_Q4_0, q4_0_widened, 1, 1)
VN_QK_DEF(SW_QTYPE_Q4_1, q4_1_widened, 1, 1)
#undef VN_QK_DEF

VN_T static void VN_NAME(swi_qtile)(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                                    float *Y, size_t ldy, const uint8_t *pf) {
    _Alignas(32) uint8_t scratch[VN_KCB4 * VN_PB4];
    const int nb = K / 32;
    const size_t xrb = sw_q8a_row_bytes(K), rec = swi_qrec_bytes(t);
    const int nch = swi_avx2_chunks(t, nb);
    // Q8_0 records need no widening. Q4 ones are widened once per chunk from 5 activation rows
    // on; up to 4, splitting the nibbles in registers was faster on the EVEX twin (best GOP/s,
    // 1536 x 576, Q4_0 m = 2 / 4 / 8: 198 / 206 / 221 reading records, 150 / 192 / 248 widened).
    // From the same 5 rows, Q8_0 splits its accumulator chains as the widened Q4 kernels do.
    const int many_rows = m > 4;
    const int widen = t != SW_QTYPE_Q8_0 && many_rows;
    const vn_kernel_fn fn = t == SW_QTYPE_Q8_0 ? (many_rows ? VN_NAME(qk_q8_0_split) : VN_NAME(qk_q8_0))
                            : t == SW_QTYPE_Q4_0 ? (widen ? VN_NAME(qk_q4_0_widened) : VN_NAME(qk_q4_0))
                                                 : (widen ? VN_NAME(qk_q4_1_widened) : VN_NAME(qk_q4_1));
    for (int c = 0, kb0 = 0, kcb; c < nch; c++, kb0 += kcb) {
        kcb = swi_chunk_blocks(nb, nch, c);
        const uint8_t *R = P + (size_t)kb0 * rec;
        const uint8_t *pfc = pf ? pf + (size_t)kb0 * rec : NULL;
        // Widening does prefetch the next tile's chunk (Q4 at m = 4, 49152 x 576: 155 against 110
        // GOP/s without).
        for (int bi = 0; bi < kcb && widen; bi++) {
            VN_NAME(widen_q4)(R + (size_t)bi * rec, t == SW_QTYPE_Q4_1, scratch + (size_t)bi * VN_PB4);
            if (pfc)
                for (size_t l = 0; l < rec; l += 64) _mm_prefetch((const char *)(pfc + (size_t)bi * rec + l), _MM_HINT_T1);
        }
        for (int i = 0; i < m; i++) {
            const uint8_t *x = Xq + (size_t)i * xrb;
            fn(widen ? scratch : R, kb0, kcb, x, (const int32_t *)(x + (size_t)nb * sizeof(sw_block_q8a)),
               Y + (size_t)i * ldy, nrows, kb0 > 0);
        }
    }
}

#undef VN_T
#undef VN_TI
