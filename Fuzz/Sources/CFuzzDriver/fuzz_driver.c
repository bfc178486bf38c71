/* The declaration in include/fuzz_driver.h is all this target provides; libFuzzer itself is
   linked in by -sanitize=fuzzer. A C target needs at least one source file. */
#include "fuzz_driver.h"
