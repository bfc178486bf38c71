// Paged attention, the KV cache writer's bf16 path and the int8 rounding of keys, values and
// queries at the NEON level (the dispatch and task split are in sw_attention.c).
//
// Per (sequence, kv head, tile of tokens) task, each cache block is converted once to floats:
// keys as [head_dim][block] (so a row's scores are FMAs over 4 keys per vector, no horizontal
// sums) and values as [block][head_dim]. Each row of the tile then takes one online-softmax
// step per block. int8 keys are read as they are when dotprod is present (i8_scores). The
// arithmetic depends on the tile alone, so a sequence's output is the same whatever else is in
// the batch.
#include "sw_attention.h"
#include "sw_neon.h"

#if defined(__aarch64__)
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sw_attention_impl.h"
#include "sw_kv_layout.h"

// Bit-identical to q8_round (sw_kv_layout.h) for head_dim a multiple of 8: FCVTNS rounds to
// nearest even like rintf, and |x * inv| <= 127 needs no clamp.
float swi_q8_round_neon(const float *x, int head_dim, int8_t *q8, float *rounded, int32_t *sum) {
    float32x4_t m = vdupq_n_f32(0);
    for (int d = 0; d < head_dim; d += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + d)));
    const float sc = vmaxvq_f32(m) / 127.0f;
    const float inv = sc > 0 ? 1.0f / sc : 0.0f;
    int32x4_t total = vdupq_n_s32(0);
    for (int d = 0; d < head_dim; d += 8) {
        const int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + d), inv));
        const int32x4_t b = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + d + 4), inv));
        const int16x8_t h = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
        vst1_s8(q8 + d, vmovn_s16(h));
        if (rounded) {
            vst1q_f32(rounded + d, vmulq_n_f32(vcvtq_f32_s32(a), sc));
            vst1q_f32(rounded + d + 4, vmulq_n_f32(vcvtq_f32_s32(b), sc));
        }
        total = vaddq_s32(total, vaddq_s32(a, b));
    }
    if (sum) *sum = vaddvq_s32(total);
    return sc;
}

// bf16 words of 8 floats, rounded as f32_to_bf16 (sw_kv_layout.h).
static inline uint16x8_t bf16x8(const float *x) {
    uint16x4_t h[2];
    for (int j = 0; j < 2; j++) {
        const uint32x4_t u = vreinterpretq_u32_f32(vld1q_f32(x + 4 * j));
        const uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
        const uint32x4_t r = vaddq_u32(u, vaddq_u32(vdupq_n_u32(0x7fff), odd));
        const uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
        h[j] = vshrn_n_u32(vbslq_u32(nan, vorrq_u32(u, vdupq_n_u32(0x400000)), r), 16);
    }
    return vcombine_u16(h[0], h[1]);
}

// The bf16 writer for head_dim a multiple of 32 (layouts of k_index and v_index).
void swi_kv_write_bf16_neon(const float *k, size_t k_stride, const float *v, size_t v_stride,
                            const int32_t *slot_mapping, int num_tokens, uint16_t *k_cache,
                            uint16_t *v_cache, int num_kv_heads, int head_dim, int block_size) {
    for (int i = 0; i < num_tokens; i++) {
        const int32_t slot = slot_mapping[i];
        if (slot < 0) continue;
        const size_t block = (size_t)(slot / block_size);
        const int off = slot % block_size;
        const float *ki = k + (size_t)i * k_stride, *vi = v + (size_t)i * v_stride;
        for (int h = 0; h < num_kv_heads; h++) {
            const size_t base = (block * num_kv_heads + h) * (size_t)head_dim * block_size;
            uint32_t *kc = (uint32_t *)(k_cache + base) + off;
            uint16_t *vc = v_cache + base + (size_t)off * head_dim;
            for (int g = 0; g < head_dim; g += 32) {
                // Keys: dims 2p and 2p+1 side by side, one dword per pair, pairs block_size apart.
                uint32_t pairs[16];
                for (int j = 0; j < 4; j++) vst1q_u16((uint16_t *)pairs + 8 * j, bf16x8(ki + h * head_dim + g + 8 * j));
                for (int p = 0; p < 16; p++) kc[(size_t)(g / 2 + p) * block_size] = pairs[p];
                // Values: dims w and 16 + w side by side.
                for (int j = 0; j < 2; j++) {
                    const uint16x8_t a = bf16x8(vi + h * head_dim + g + 8 * j), b = bf16x8(vi + h * head_dim + g + 16 + 8 * j);
                    vst1q_u16(vc + g + 16 * j, vzip1q_u16(a, b));
                    vst1q_u16(vc + g + 16 * j + 8, vzip2q_u16(a, b));
                }
            }
        }
    }
}

int sw_attn_neon_fits(int dtype, int head_dim) {
    return head_dim > 0 && head_dim % (dtype == SW_KV_BF16 ? 32 : 8) == 0 && head_dim <= SW_MAX_HEAD_DIM;
}

// Keys are padded to a multiple of 4 per block.
static inline int padded_block(int block_size) { return (block_size + 3) & ~3; }

size_t sw_attn_neon_scratch(int rows, int keys, int block_size, int head_dim) {
    (void)keys;
    const size_t bp = (size_t)padded_block(block_size);
    return (size_t)rows * head_dim + 2 * bp * head_dim + bp;
}

// int8 keys read as they are (i8_scores): the caller's test, per task.
static inline int i8_sdot(const attn_ctx *c) {
    return c->dtype == SW_KV_I8 && c->block_size % 4 == 0 && sw_cpu_use_neon_dotprod();
}

// Scores of int8 keys [o0, o1) (o0, o1 multiples of 4) against the int8 query q8 by sdot, the
// key layout ([head_dim/4][block][4] bytes, offset by 128) being the operand shape of `sdot lane`:
// score = sum(q8 * k8) * ksc[o] * qs, -inf outside [vlo, vhi]. Returns the lane maxima.
SW_NEON_DOTPROD static float32x4_t i8_scores(const int8_t *kh, int bs, int hd, const int8_t *q8, float qs,
                                             const float *ksc, int o0, int o1, int vlo, int vhi, float *p) {
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    const int8x16_t flip = vdupq_n_s8((int8_t)0x80);
#define SW_KEYS(g) veorq_s8(vld1q_s8(kh + ((size_t)(g) * bs + o) * 4), flip)
    float32x4_t bmax = ninf;
    for (int o = o0; o < o1; o += 4) {
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
        int g = 0;
        for (; g + 4 <= hd / 4; g += 4) {
            const int8x16_t qv = vld1q_s8(q8 + 4 * g);
            a0 = vdotq_laneq_s32(a0, SW_KEYS(g), qv, 0);
            a1 = vdotq_laneq_s32(a1, SW_KEYS(g + 1), qv, 1);
            a0 = vdotq_laneq_s32(a0, SW_KEYS(g + 2), qv, 2);
            a1 = vdotq_laneq_s32(a1, SW_KEYS(g + 3), qv, 3);
        }
        if (g < hd / 4) {  // head_dim % 16 == 8: two groups left
            const int8x8_t qv = vld1_s8(q8 + 4 * g);
            a0 = vdotq_lane_s32(a0, SW_KEYS(g), qv, 0);
            a1 = vdotq_lane_s32(a1, SW_KEYS(g + 1), qv, 1);
        }
        float32x4_t sc = vmulq_f32(vcvtq_f32_s32(vaddq_s32(a0, a1)), vmulq_n_f32(vld1q_f32(ksc + o), qs));
        const int32x4_t oi = vaddq_s32(vdupq_n_s32(o), (int32x4_t){0, 1, 2, 3});
        const uint32x4_t vis = vandq_u32(vcgeq_s32(oi, vdupq_n_s32(vlo)), vcleq_s32(oi, vdupq_n_s32(vhi)));
        sc = vbslq_f32(vis, sc, ninf);
        vst1q_f32(p + o, sc);
        bmax = vmaxq_f32(bmax, sc);
    }
#undef SW_KEYS
    return bmax;
}

// One head's block as floats: kt[d * bp + o] and vf[o * head_dim + d] for o < n; with
// i8_sdot, kt holds the keys' scales instead (0 past n).
static void convert_block(const attn_ctx *c, const char *kh, const char *vh, int n, int bp, float *kt, float *vf) {
    const int hd = c->head_dim, bs = c->block_size;
    if (i8_sdot(c)) {
        for (int o = 0; o < bp; o++) kt[o] = o < n ? i8_scale(kh, o, hd, bs) : 0.0f;
    }
    if (c->dtype == SW_KV_F32) {
        for (int d = 0; d < hd; d++) memcpy(kt + (size_t)d * bp, (const float *)kh + (size_t)d * bs, (size_t)n * 4);
        memcpy(vf, vh, (size_t)n * hd * 4);
    } else if (c->dtype == SW_KV_BF16) {
        const uint32_t *kp = (const uint32_t *)kh;
        for (int p = 0; p < hd / 2; p++) {
            float *e = kt + (size_t)(2 * p) * bp, *od = e + bp;
            int o = 0;
            for (; o + 4 <= n; o += 4) {
                const uint32x4_t w = vld1q_u32(kp + (size_t)p * bs + o);
                vst1q_f32(e + o, vreinterpretq_f32_u32(vshlq_n_u32(w, 16)));
                vst1q_f32(od + o, vreinterpretq_f32_u32(vandq_u32(w, vdupq_n_u32(0xffff0000u))));
            }
            for (; o < n; o++) {
                const uint32_t w = kp[(size_t)p * bs + o], lo = w << 16, hi = w & 0xffff0000u;
                memcpy(e + o, &lo, 4);
                memcpy(od + o, &hi, 4);
            }
        }
        const uint16_t *vp = (const uint16_t *)vh;
        for (int o = 0; o < n; o++)
            for (int g = 0; g < hd; g += 32)
                for (int j = 0; j < 16; j += 4) {
                    const uint32x4_t w = vreinterpretq_u32_u16(vld1q_u16(vp + (size_t)o * hd + g + 2 * j));
                    vst1q_f32(vf + (size_t)o * hd + g + j, vreinterpretq_f32_u32(vshlq_n_u32(w, 16)));
                    vst1q_f32(vf + (size_t)o * hd + g + 16 + j, vreinterpretq_f32_u32(vandq_u32(w, vdupq_n_u32(0xffff0000u))));
                }
    } else {
        const uint8_t *kp = (const uint8_t *)kh;
        const int8_t *vp = (const int8_t *)vh;
        if (!i8_sdot(c)) {  // keys as floats (with i8_sdot, attention reads them as they are)
            float sc[256];
            float *scp = n <= 256 ? sc : malloc((size_t)n * 4);
            for (int o = 0; o < n; o++) scp[o] = i8_scale(kh, o, hd, bs);
            // 4 keys x 4 dims per load, regrouped to 4 dims x 4 keys.
            static const uint8_t tr[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
            const uint8x16_t idx = vld1q_u8(tr);
            for (int g = 0; g < hd / 4; g++) {
                int o = 0;
                for (; o + 4 <= n; o += 4) {
                    const int8x16_t q = vreinterpretq_s8_u8(veorq_u8(vqtbl1q_u8(vld1q_u8(kp + ((size_t)g * bs + o) * 4), idx), vdupq_n_u8(0x80)));
                    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
                    const float32x4_t s4 = vld1q_f32(scp + o);
                    vst1q_f32(kt + (size_t)(4 * g) * bp + o, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), s4));
                    vst1q_f32(kt + (size_t)(4 * g + 1) * bp + o, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), s4));
                    vst1q_f32(kt + (size_t)(4 * g + 2) * bp + o, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), s4));
                    vst1q_f32(kt + (size_t)(4 * g + 3) * bp + o, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), s4));
                }
                for (; o < n; o++)
                    for (int j = 0; j < 4; j++)
                        kt[(size_t)(4 * g + j) * bp + o] = (float)((int)kp[((size_t)g * bs + o) * 4 + j] - 128) * scp[o];
            }
            if (scp != sc) free(scp);
            for (int d = 0; d < hd; d++)
                for (int o = n; o < bp; o++) kt[(size_t)d * bp + o] = 0;
        }
        for (int o = 0; o < n; o++) {
            const float s = i8_scale(vh, o, hd, bs);
            for (int d = 0; d < hd; d += 8) {
                const int16x8_t w = vmovl_s8(vld1_s8(vp + (size_t)o * hd + d));
                vst1q_f32(vf + (size_t)o * hd + d, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))), s));
                vst1q_f32(vf + (size_t)o * hd + d + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(w)), s));
            }
        }
    }
    // Padding keys score 0 and are masked later; keep them finite.
    if (c->dtype != SW_KV_I8)
        for (int d = 0; d < hd; d++)
            for (int o = n; o < bp; o++) kt[(size_t)d * bp + o] = 0;
}

void sw_attn_task_neon(const attn_ctx *c, int ith, int s, int kvh, int t0, int t1) {
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, bp = padded_block(bs), G = c->num_heads / c->num_kv_heads;
    const int qlen = b->query_start[s + 1] - b->query_start[s];
    const int rows = (t1 - t0) * G;
    float *acc = c->scores + (size_t)ith * c->scores_per_thread;
    float *kt = acc + (size_t)rows * hd, *vf = kt + (size_t)bp * hd, *p = vf + (size_t)bp * hd;
    float m[SW_MAX_ROWS], l[SW_MAX_ROWS];
    int pos[SW_MAX_ROWS];
    memset(acc, 0, (size_t)rows * hd * sizeof(float));
    for (int r = 0; r < rows; r++) { m[r] = -INFINITY; l[r] = 0; pos[r] = b->context_len[s] - qlen + t0 + r / G; }
    int lo, hi;
    tile_range(c, s, t0, t1, &lo, &hi);
    const int32_t *table = b->block_tables + (size_t)s * b->max_blocks_per_seq;
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    const int i8dp = i8_sdot(c);
    for (int kp = lo - lo % bs; kp <= hi; kp += bs) {
        const size_t off = head_off(c, table[kp / bs], kvh);
        const int n = hi - kp + 1 < bs ? hi - kp + 1 : bs;  // keys past hi are never visible
        convert_block(c, (const char *)c->k_cache + off, (const char *)c->v_cache + off, n, bp, kt, vf);
        for (int r = 0; r < rows; r++) {
            // Visible keys of this row in this block: [vlo, vhi] (block offsets).
            const int first = c->window > 0 ? pos[r] - c->window + 1 : 0;
            const int vlo = first > kp ? first - kp : 0, vhi = pos[r] - kp < n - 1 ? pos[r] - kp : n - 1;
            if (vlo > vhi) continue;
            const int tok = t0 + r / G, head = kvh * G + r % G;
            const float *qr = c->q + (size_t)(b->query_start[s] + tok) * c->q_stride + (size_t)head * hd;
            // Scores of keys [o0, o1): the vectors of 4 that hold visible keys.
            const int o0 = vlo & ~3, o1 = (vhi & ~3) + 4;
            float32x4_t bmax = ninf;
            if (i8dp) {
                const size_t qrow = (size_t)(b->query_start[s] + tok) * c->num_heads + head;
                bmax = i8_scores((const int8_t *)c->k_cache + off, bs, hd, c->q8 + qrow * hd, c->q8_scale[qrow] * c->scale,
                                 kt, o0, o1, vlo, vhi, p);
            }
            for (int o = o0; o < o1 && !i8dp; o += 4) {
                float32x4_t s0 = vdupq_n_f32(0), s1 = s0;
                int d = 0;
                for (; d + 2 <= hd; d += 2) {
                    s0 = vfmaq_n_f32(s0, vld1q_f32(kt + (size_t)d * bp + o), qr[d]);
                    s1 = vfmaq_n_f32(s1, vld1q_f32(kt + (size_t)(d + 1) * bp + o), qr[d + 1]);
                }
                float32x4_t sc = vmulq_n_f32(vaddq_f32(s0, s1), c->scale);
                const int32x4_t oi = vaddq_s32(vdupq_n_s32(o), (int32x4_t){0, 1, 2, 3});
                const uint32x4_t vis = vandq_u32(vcgeq_s32(oi, vdupq_n_s32(vlo)), vcleq_s32(oi, vdupq_n_s32(vhi)));
                sc = vbslq_f32(vis, sc, ninf);
                vst1q_f32(p + o, sc);
                bmax = vmaxq_f32(bmax, sc);
            }
            const float mb = vmaxvq_f32(bmax), mn = mb > m[r] ? mb : m[r];
            const float corr = expf(m[r] - mn);
            float32x4_t ls = vdupq_n_f32(0);
            for (int o = o0; o < o1; o += 4) {
                const float32x4_t sc = vld1q_f32(p + o);
                // sw_exp_neon clamps at e^-87, so masked keys are zeroed explicitly.
                const float32x4_t e = vbslq_f32(vceqq_f32(sc, ninf), vdupq_n_f32(0), sw_exp_neon(vsubq_f32(sc, vdupq_n_f32(mn))));
                vst1q_f32(p + o, e);
                ls = vaddq_f32(ls, e);
            }
            l[r] = l[r] * corr + vaddvq_f32(ls);
            m[r] = mn;
            float *ar = acc + (size_t)r * hd;
            for (int d = 0; d < hd; d += 8) {
                float32x4_t a0 = vmulq_n_f32(vld1q_f32(ar + d), corr), a1 = vmulq_n_f32(vld1q_f32(ar + d + 4), corr);
                for (int o = vlo; o <= vhi; o++) {
                    a0 = vfmaq_n_f32(a0, vld1q_f32(vf + (size_t)o * hd + d), p[o]);
                    a1 = vfmaq_n_f32(a1, vld1q_f32(vf + (size_t)o * hd + d + 4), p[o]);
                }
                vst1q_f32(ar + d, a0);
                vst1q_f32(ar + d + 4, a1);
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        const int tok = t0 + r / G, head = kvh * G + r % G;
        float *orow = c->out + (size_t)(b->query_start[s] + tok) * c->out_stride + (size_t)head * hd;
        const float inv = l[r] > 0 ? 1.0f / l[r] : 0;
        for (int d = 0; d < hd; d += 4) vst1q_f32(orow + d, vmulq_n_f32(vld1q_f32(acc + (size_t)r * hd + d), inv));
    }
}
#endif
