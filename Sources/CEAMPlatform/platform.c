/* CEAMPlatform is header-only (include/eam_platform.h); SwiftPM needs one source file. */
#include "eam_platform.h"
