// Included by each AVX2 wrapper of csrc/isa/ (see csrc/isa.h) after its renaming macro: every
// header a wrapped kernel includes, with the build's own flags (so that no inline function or
// template of a header is compiled for AVX2), then the start of the AVX2 region. A kernel that
// includes a header not listed here must add it here. avx2_end.h closes the region.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "fuse/fuse.h"
#include "prep/prepare.h"

#pragma GCC push_options
#pragma GCC target("avx2")
