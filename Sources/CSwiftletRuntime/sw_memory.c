#include "sw_memory.h"

#include <stdlib.h>  // defines __GLIBC__ on glibc systems
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int sw_release_free_heap(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

int sw_limit_heap_arenas(int per_core) {
#if defined(__GLIBC__)
    // The user's MALLOC_ARENA_MAX, read by glibc itself, wins.
    if (per_core < 1 || getenv("MALLOC_ARENA_MAX") != NULL) return 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    return mallopt(M_ARENA_MAX, (int)(per_core * cores)) == 1;
#else
    (void)per_core;
    return 0;
#endif
}
