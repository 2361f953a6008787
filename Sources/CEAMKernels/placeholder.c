#include "eam_kernels.h"
