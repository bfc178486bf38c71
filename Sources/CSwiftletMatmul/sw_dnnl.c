// oneDNN matmul for multi-token linear layers (bf16 on AVX512-BF16/AMX, or f32).
#include "sw_dnnl.h"
#include "sw_quant.h"
#include "sw_cpu.h"
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void omp_set_num_threads(int);

enum { SW_DNNL_CACHE = 16, SW_DNNL_MAX_PARTS = 16 };

typedef struct {
    int m;                 // 0 = empty
    size_t ldy;
    unsigned long last;    // use stamp for LRU replacement
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst; // created once; only their data handles change per call
} cached_prim;

typedef struct {
    int n0, n;             // output rows [n0, n0 + n)
    dnnl_memory_desc_t w_md;
    void *w;               // reordered weights
    size_t w_bytes;
    dnnl_stream_t stream;
    dnnl_memory_t w_mem;
    cached_prim cache[SW_DNNL_CACHE];
    unsigned long clock;
    int status;
} part_t;

struct sw_dnnl_linear {
    int n, k, dtype, parts;
    part_t part[SW_DNNL_MAX_PARTS];
};

static dnnl_engine_t g_engine;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
    // oneDNN picks its own instruction set; a capped level (SWIFTLET_ISA) caps it too.
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX2) dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
    else if (level == SW_ISA_SCALAR) dnnl_set_max_cpu_isa(dnnl_cpu_isa_sse41);
    dnnl_engine_create(&g_engine, dnnl_cpu, 0);
}

// OpenMP's thread count is a per-thread setting, and oneDNN may be called from any thread (test
// runners, the server), so every calling thread is made single-threaded before it calls in.
void sw_dnnl_init(void) {
    omp_set_num_threads(1);
    pthread_once(&g_once, init_once);
}

static dnnl_data_type_t dt(int dtype) { return dtype == SW_DNNL_BF16 ? dnnl_bf16 : dnnl_f32; }

// Matmul descriptor for m rows of part p, weights either `any` (to learn oneDNN's choice) or fixed.
static dnnl_status_t make_pd(const sw_dnnl_linear *l, const part_t *p, int m, const dnnl_memory_desc_t *w_md,
                             size_t ldy, dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t src, wts, dst;
    dnnl_dims_t sd = {m, l->k}, wd = {l->k, p->n}, dd = {m, p->n};
    dnnl_dims_t dstr = {(dnnl_dim_t)ldy, 1};
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&src, 2, sd, dt(l->dtype), dnnl_ab);
    if (s) return s;
    if (w_md) wts = *w_md;
    else if ((s = dnnl_memory_desc_init_by_tag(&wts, 2, wd, dt(l->dtype), dnnl_format_tag_any))) return s;
    if ((s = dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, dstr))) return s;
    dnnl_matmul_desc_t md;
    if ((s = dnnl_matmul_desc_init(&md, &src, &wts, NULL, &dst))) return s;
    return dnnl_primitive_desc_create(pd, &md, NULL, g_engine, NULL);
}

sw_dnnl_linear *sw_dnnl_linear_create(const void *w, int n, int k, int dtype, int parts, char *err, size_t err_len) {
    sw_dnnl_init();
    if (!g_engine) { snprintf(err, err_len, "oneDNN CPU engine unavailable"); return NULL; }
    if (parts < 1) parts = 1;
    if (parts > SW_DNNL_MAX_PARTS) parts = SW_DNNL_MAX_PARTS;
    // Parts hold whole multiples of 16 rows so each keeps oneDNN's blocked layouts full.
    while (parts > 1 && n / parts < 64) parts--;
    sw_dnnl_linear *l = calloc(1, sizeof *l);
    l->n = n; l->k = k; l->dtype = dtype; l->parts = parts;
    size_t esz = dtype == SW_DNNL_BF16 ? 2 : 4;
    int per = (n / parts + 15) / 16 * 16;
    for (int i = 0; i < parts; i++) {
        part_t *p = &l->part[i];
        p->n0 = i * per;
        p->n = i == parts - 1 ? n - p->n0 : per;
        dnnl_primitive_desc_t pd;
        dnnl_status_t s = make_pd(l, p, 64, NULL, (size_t)p->n, &pd);
        if (s) { snprintf(err, err_len, "oneDNN matmul (%d x %d, %s) unavailable: status %d", n, k, dtype ? "bf16" : "f32", (int)s); sw_dnnl_linear_destroy(l); return NULL; }
        p->w_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        dnnl_primitive_desc_destroy(pd);
        p->w_bytes = dnnl_memory_desc_get_size(&p->w_md);
        p->w = aligned_alloc(64, (p->w_bytes + 63) / 64 * 64);
        // Reorder from plain [N][K] rows (oneDNN's "ba" view of a K x N matrix).
        dnnl_memory_desc_t plain;
        dnnl_dims_t wd = {k, p->n};
        dnnl_memory_desc_init_by_tag(&plain, 2, wd, dt(dtype), dnnl_ba);
        dnnl_memory_t msrc, mdst;
        dnnl_memory_create(&msrc, &plain, g_engine, (char *)w + (size_t)p->n0 * k * esz);
        dnnl_memory_create(&mdst, &p->w_md, g_engine, p->w);
        dnnl_memory_create(&p->w_mem, &p->w_md, g_engine, p->w);
        dnnl_primitive_desc_t rpd;
        dnnl_primitive_t rp;
        dnnl_stream_create(&p->stream, g_engine, dnnl_stream_default_flags);
        if (dnnl_reorder_primitive_desc_create(&rpd, &plain, g_engine, &p->w_md, g_engine, NULL) ||
            dnnl_primitive_create(&rp, rpd)) {
            snprintf(err, err_len, "oneDNN weight reorder failed");
            dnnl_memory_destroy(msrc); dnnl_memory_destroy(mdst);
            sw_dnnl_linear_destroy(l);
            return NULL;
        }
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, msrc}, {DNNL_ARG_TO, mdst}};
        dnnl_primitive_execute(rp, p->stream, 2, args);
        dnnl_stream_wait(p->stream);
        dnnl_primitive_destroy(rp);
        dnnl_primitive_desc_destroy(rpd);
        dnnl_memory_destroy(msrc);
        dnnl_memory_destroy(mdst);
    }
    return l;
}

size_t sw_dnnl_linear_weight_bytes(const sw_dnnl_linear *l) {
    size_t t = 0;
    for (int i = 0; i < l->parts; i++) t += l->part[i].w_bytes;
    return t;
}

void sw_dnnl_linear_destroy(sw_dnnl_linear *l) {
    if (!l) return;
    for (int i = 0; i < l->parts; i++) {
        part_t *p = &l->part[i];
        for (int c = 0; c < SW_DNNL_CACHE; c++)
            if (p->cache[c].prim) {
                dnnl_primitive_destroy(p->cache[c].prim);
                dnnl_memory_destroy(p->cache[c].src);
                dnnl_memory_destroy(p->cache[c].dst);
            }
        if (p->w_mem) dnnl_memory_destroy(p->w_mem);
        if (p->stream) dnnl_stream_destroy(p->stream);
        free(p->w);
    }
    free(l);
}

typedef struct {
    sw_dnnl_linear *l;
    const void *x; int m; float *y; size_t ldy;
} fwd_ctx;

// Primitive (and its memory objects) for m rows of part p; ldy is part of the destination layout.
static cached_prim *prim_for(const sw_dnnl_linear *l, part_t *p, int m, size_t ldy) {
    cached_prim *victim = &p->cache[0];
    for (int c = 0; c < SW_DNNL_CACHE; c++) {
        cached_prim *e = &p->cache[c];
        if (e->prim && e->m == m && e->ldy == ldy) { e->last = ++p->clock; return e; }
        if (!e->prim || e->last < victim->last) victim = e;
    }
    dnnl_primitive_desc_t pd;
    if (make_pd(l, p, m, &p->w_md, ldy, &pd)) return NULL;
    // oneDNN may want another weight layout for this m; the stored one must be accepted as is.
    if (!dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), &p->w_md)) {
        dnnl_primitive_desc_destroy(pd);
        return NULL;
    }
    dnnl_primitive_t prim;
    dnnl_status_t s = dnnl_primitive_create(&prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s) return NULL;
    if (victim->prim) {
        dnnl_primitive_destroy(victim->prim);
        dnnl_memory_destroy(victim->src);
        dnnl_memory_destroy(victim->dst);
    }
    dnnl_memory_desc_t src, dst;
    dnnl_dims_t sd = {m, l->k}, dd = {m, p->n}, dstr = {(dnnl_dim_t)ldy, 1};
    dnnl_memory_desc_init_by_tag(&src, 2, sd, dt(l->dtype), dnnl_ab);
    dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, dstr);
    dnnl_memory_create(&victim->src, &src, g_engine, DNNL_MEMORY_NONE);
    dnnl_memory_create(&victim->dst, &dst, g_engine, DNNL_MEMORY_NONE);
    victim->prim = prim;
    victim->m = m;
    victim->ldy = ldy;
    victim->last = ++p->clock;
    return victim;
}

static void fwd_task(void *ctx, int ith, int nth) {
    fwd_ctx *c = ctx;
    omp_set_num_threads(1);
    sw_dnnl_linear *l = c->l;
    for (int i = ith; i < l->parts; i += nth) {
        part_t *p = &l->part[i];
        cached_prim *e = prim_for(l, p, c->m, c->ldy);
        if (!e) { p->status = -1; continue; }
        dnnl_memory_set_data_handle(e->src, (void *)c->x);
        dnnl_memory_set_data_handle(e->dst, c->y + p->n0);
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, p->w_mem}, {DNNL_ARG_DST, e->dst}};
        p->status = dnnl_primitive_execute(e->prim, p->stream, 3, args);
        if (!p->status) p->status = dnnl_stream_wait(p->stream);
    }
}

int sw_dnnl_linear_forward(sw_pool *pool, sw_dnnl_linear *l, const float *x, size_t ldx, int m,
                           float *y, size_t ldy, uint16_t *scratch) {
    if (m <= 0) return 0;
    const void *src = x;
    float *packed = NULL;
    if (l->dtype == SW_DNNL_BF16) {
        for (int i = 0; i < m; i++) sw_f32_to_bf16_row(x + (size_t)i * ldx, scratch + (size_t)i * l->k, (size_t)l->k);
        src = scratch;
    } else if (ldx != (size_t)l->k) {
        packed = malloc(sizeof(float) * (size_t)m * l->k);
        for (int i = 0; i < m; i++) memcpy(packed + (size_t)i * l->k, x + (size_t)i * ldx, sizeof(float) * l->k);
        src = packed;
    }
    fwd_ctx c = {.l = l, .x = src, .m = m, .y = y, .ldy = ldy};
    if (pool && l->parts > 1) sw_pool_run(pool, fwd_task, &c);
    else fwd_task(&c, 0, 1);
    free(packed);
    int st = 0;
    for (int i = 0; i < l->parts; i++) if (l->part[i].status) st = l->part[i].status;
    return st;
}
