/* The C MPI twin of bench/initfinalize: only joins the job and leaves it,
 * so that the whole job's time is the launcher's and the runtime's fixed
 * cost.
 *
 *   mpicc -O2 -o /tmp/initfinalize bench/initfinalize/c/initfinalize.c
 *   time mpirun -np 4 /tmp/initfinalize */
#include <mpi.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Finalize();
    return 0;
}
