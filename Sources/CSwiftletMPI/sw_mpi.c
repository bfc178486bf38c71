#include "sw_mpi.h"

#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void describe(int rc, const char *what, char *message, size_t len) {
    if (!message || len == 0) return;
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(rc, text, &n) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", rc);
    snprintf(message, len, "%s: %s", what, text);
}

// Polls `request` until it completes or `timeout` seconds pass. Spins at first (a step's
// collectives complete within microseconds when every rank is busy on its own core), then yields,
// then sleeps in growing steps up to 1 ms, so a rank waiting for an idle server costs no CPU.
static int wait_for(MPI_Request *request, double timeout, const char *what, char *message, size_t len) {
    double start = now_seconds();
    long polls = 0;
    long sleep_ns = 1000;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            describe(rc, what, message, len);
            return SW_MPI_ERROR;
        }
        if (done) return SW_MPI_OK;
        polls++;
        if (polls < 2000) continue;
        double waited = now_seconds() - start;
        if (timeout > 0 && waited > timeout) {
            if (message && len) snprintf(message, len, "%s: no answer within %.1f s", what, timeout);
            return SW_MPI_TIMEOUT;
        }
        if (waited < 0.002) {
            sched_yield();
        } else {
            struct timespec pause = {0, sleep_ns};
            nanosleep(&pause, NULL);
            if (sleep_ns < 1000000) sleep_ns *= 2;
        }
    }
}

int sw_mpi_launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMI_SIZE") != NULL || getenv("PMIX_RANK") != NULL;
}

int sw_mpi_init(int *rank, int *size, char *message, size_t len) {
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
        describe(rc, "MPI_Init_thread", message, len);
        return SW_MPI_ERROR;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return SW_MPI_OK;
}

int sw_mpi_allreduce_sum_f32(float *buffer, size_t count, double timeout, char *message, size_t len) {
    MPI_Request request;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    if (rc != MPI_SUCCESS) {
        describe(rc, "MPI_Iallreduce", message, len);
        return SW_MPI_ERROR;
    }
    return wait_for(&request, timeout, "all-reduce", message, len);
}

int sw_mpi_broadcast(void *buffer, size_t bytes, int root, double timeout, char *message, size_t len) {
    MPI_Request request;
    int rc = MPI_Ibcast(buffer, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD, &request);
    if (rc != MPI_SUCCESS) {
        describe(rc, "MPI_Ibcast", message, len);
        return SW_MPI_ERROR;
    }
    return wait_for(&request, timeout, "broadcast", message, len);
}

int sw_mpi_gather_f32(const float *send, int send_count, float *receive, const int *counts, const int *displacements,
                      int root, double timeout, char *message, size_t len) {
    MPI_Request request;
    int rc = MPI_Igatherv(send, send_count, MPI_FLOAT, receive, counts, displacements, MPI_FLOAT, root, MPI_COMM_WORLD,
                          &request);
    if (rc != MPI_SUCCESS) {
        describe(rc, "MPI_Igatherv", message, len);
        return SW_MPI_ERROR;
    }
    return wait_for(&request, timeout, "gather", message, len);
}

void sw_mpi_finalize(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

void sw_mpi_abort(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
}
