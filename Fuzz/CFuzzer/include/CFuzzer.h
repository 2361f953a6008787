// libFuzzer's entry for programs with their own main (compiler-rt, FuzzerInterface.h). Only the
// fuzzing build (-sanitize=fuzzer) links libFuzzer, and only that build calls this.
#ifndef EAM_CFUZZER_H
#define EAM_CFUZZER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
