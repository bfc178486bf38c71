#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/// Returns the C heap's free pages to the operating system (glibc: malloc_trim(0), which
/// releases free memory at the top of every arena and madvises whole free pages inside them).
/// Allocators keep freed memory for reuse; in a server whose requests come and go that retained
/// memory is most of the resident set. Returns 1 if anything was released, 0 if not or if the C
/// library has no such call.
int sw_release_free_heap(void);

#ifdef __cplusplus
}
#endif
