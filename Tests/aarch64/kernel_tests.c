// Checks every NEON kernel against the scalar reference of the same library, through the public
// entry points (which pick the kernel from the thread's level) and on fixed-seed inputs.
// Built for aarch64 by scripts/test_aarch64.sh and run under qemu with and without dotprod
// and i8mm (with both, the quantized packed path at m >= 2 takes the i8mm kernel).
#include <stdlib.h>
#include "check.h"

int g_failures = 0;

int main(void) {
    if (sw_cpu_max_level() != SW_ISA_NEON) {
        fprintf(stderr, "FAIL: this CPU does not report NEON (level %s)\n", sw_cpu_level_name(sw_cpu_max_level()));
        return 1;
    }
    printf("aarch64 kernel tests: dotprod %d, i8mm %d\n", sw_cpu_has_neon_dotprod(), sw_cpu_has_neon_i8mm());
    // With dotprod present both integer paths run here; without it only the widening one exists.
    const int variants = sw_cpu_has_neon_dotprod() ? 2 : 1;
    for (int v = 0; v < variants; v++) {
        sw_cpu_set_neon_dotprod(v == 0 ? 1 : 0);
        test_converters();
        test_ops();
        test_quant();
        test_kquant();
        test_attention();
        test_linear_sampling();
    }
    sw_cpu_set_neon_dotprod(1);
    test_quant_i8mm();
    if (g_failures) {
        fprintf(stderr, "aarch64 kernel tests: %d failure(s)\n", g_failures);
        return 1;
    }
    printf("aarch64 kernel tests: all passed\n");
    return 0;
}
