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

/// Caps the number of malloc arenas at `per_core` per online core (glibc: mallopt(M_ARENA_MAX)) unless the environment sets
/// MALLOC_ARENA_MAX. glibc adds an arena whenever a thread finds its arena locked, up to 8 per
/// core; each keeps its own live objects and fragments, so a server's resident set steps up
/// whenever thread timing creates one more. Returns 1 if the cap was set.
int sw_limit_heap_arenas(int per_core);

#ifdef __cplusplus
}
#endif
