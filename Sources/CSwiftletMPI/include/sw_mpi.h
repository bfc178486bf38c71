// The few MPI calls tensor parallelism makes, as plain C functions: Swift cannot import MPI's
// handle macros (MPI_COMM_WORLD, MPI_FLOAT, ...), and every collective here is non-blocking and
// polled against a deadline, since a blocking one never returns when a peer has died.
#ifndef SW_MPI_H
#define SW_MPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Outcomes of a collective.
enum {
    SW_MPI_OK = 0,
    /// The deadline passed before the collective completed: a peer is gone or stuck.
    SW_MPI_TIMEOUT = 1,
    /// MPI reported an error (its text is in the message buffer).
    SW_MPI_ERROR = 2,
};

/// Whether this process was started by an MPI launcher (mpirun sets OMPI_COMM_WORLD_SIZE / PMI_SIZE).
int sw_mpi_launched(void);

/// Initializes MPI (serialized threading: one thread at a time calls MPI) and makes errors
/// return instead of aborting. Returns SW_MPI_OK and fills rank and size.
int sw_mpi_init(int *rank, int *size, char *message, size_t message_len);

/// Sums `count` floats across all ranks, in place.
int sw_mpi_allreduce_sum_f32(float *buffer, size_t count, double timeout_seconds, char *message, size_t message_len);

/// Sends `bytes` bytes from `root` to every other rank.
int sw_mpi_broadcast(void *buffer, size_t bytes, int root, double timeout_seconds, char *message, size_t message_len);

/// Gathers `counts[rank]` floats from each rank into `receive` at `displacements[rank]` on `root`
/// (`receive`, `counts` and `displacements` are read on root only).
int sw_mpi_gather_f32(const float *send, int send_count, float *receive, const int *counts, const int *displacements,
                      int root, double timeout_seconds, char *message, size_t message_len);

/// Ends MPI after a clean stop of every rank.
void sw_mpi_finalize(void);

/// Ends every rank of the job with `code`.
void sw_mpi_abort(int code);

#ifdef __cplusplus
}
#endif

#endif
