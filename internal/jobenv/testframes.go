package jobenv

// TestFrames, when set to "1" in a rank's environment (gorun's tests set
// it), makes the rank write to its stderr, as it finalizes, how many
// frames it sent to each rank of the world: one line, "gorun-test: rank R
// sent frames: N0 N1 ...". The tests prove with it that collectives whose
// data goes through shared memory send no messages on a host.
const TestFrames = "GORUN_TEST_FRAMES"
