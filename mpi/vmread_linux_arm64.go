package mpi

// sysProcessVMReadv is process_vm_readv's system call number.
const sysProcessVMReadv = 270
