/* Threads, clock and CPU count for a runtime core compiled without an operating system of its
 * own (Embedded Swift for aarch64-none-none-elf) that is linked into a POSIX program, such as a
 * Linux device's: eam_platform.h's POSIX functions, compiled as external definitions of the
 * declarations such a core sees. */
#define EAM_PLATFORM_FN
#include "eam_platform.h"
