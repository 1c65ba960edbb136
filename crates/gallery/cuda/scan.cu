// The int8 gallery scan on an NVIDIA GPU (vigil_gallery::gpu).
//
// One warp per template: each lane multiplies four int8 pairs with __dp4a,
// the warp sums by shuffles, and lane 0 appends the row to the output when
// its score passes the threshold. The host picks the threshold so that at
// least the rows it will re-score exactly come back, and re-scores them in
// f32, so what a reviewer sees is exact.
//
// Regenerate scan.ptx (committed beside this file, loaded at run time by the
// CUDA driver, which JIT-compiles it for the GPU in hand):
//   nvcc -ptx -arch=compute_75 -O3 scan.cu -o scan.ptx   (CUDA 13.0; Turing or newer)

extern "C" __global__ void score_select(const int* __restrict__ gallery,
                                        const int* __restrict__ query,
                                        unsigned n, unsigned words, int threshold,
                                        unsigned* __restrict__ count,
                                        unsigned* __restrict__ out_row,
                                        int* __restrict__ out_score, unsigned cap) {
    unsigned long long tid = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    unsigned row = (unsigned)(tid >> 5);
    unsigned lane = threadIdx.x & 31u;
    if (row >= n) return;  // the whole warp shares `row`, so it leaves together
    const int* r = gallery + (unsigned long long)row * words;
    int acc = 0;
    for (unsigned j = lane; j < words; j += 32u) acc = __dp4a(r[j], query[j], acc);
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
    if (lane == 0 && acc > threshold) {
        unsigned p = atomicAdd(count, 1u);
        if (p < cap) {
            out_row[p] = row;
            out_score[p] = acc;
        }
    }
}
