// The end of the AVX2 region that avx2_begin.h opens.
#pragma GCC pop_options
