// Open MPI from Debian (libopenmpi-dev); found through pkg-config's ompi-c.
#include <mpi.h>
