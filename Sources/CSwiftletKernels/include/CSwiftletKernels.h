#ifndef CSWIFTLET_KERNELS_H
#define CSWIFTLET_KERNELS_H
// Umbrella header: each kernel family has its own header.
#include "sw_pool.h"
#include "sw_quant.h"
#include "sw_quant_test_hooks.h"
#include "sw_attention.h"
#include "sw_ops.h"
#include "sw_dnnl.h"
#include "sw_gemm_f32.h"
#include "sw_cpu.h"
#include "sw_sampling.h"
#endif
