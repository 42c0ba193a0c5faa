/* Portable SHA-256 truncated to 254 bits, of 64-byte node pairs and of pre-padded blocks: see _sha256.h. */
#include "_sha256.h"

#include <string.h>

const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
const uint32_t sha256_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* A 64-byte message always ends with the same second block (0x80, zeros, bit length 512), so that block's
 * message schedule plus the round constants is computed once. */
uint32_t sha256_padding_block_wk[64];

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define SMALL_SIGMA0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SMALL_SIGMA1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

static void expand_schedule(uint32_t w[64]) {
    for (int t = 16; t < 64; t++)
        w[t] = SMALL_SIGMA1(w[t - 2]) + w[t - 7] + SMALL_SIGMA0(w[t - 15]) + w[t - 16];
}

void sha256_prepare_tables(void) {
    uint32_t w[64] = {0x80000000u};
    w[15] = 512;
    expand_schedule(w);
    for (int t = 0; t < 64; t++) sha256_padding_block_wk[t] = w[t] + sha256_k[t];
}

static uint32_t load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* 64 rounds over `wk` (schedule words already added to the round constants). */
static void compress_rounds(uint32_t state[8], const uint32_t wk[64]) {
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + wk[t];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

/* Rounds of one message block: its schedule, then 64 rounds into `state`. */
static void compress_block(uint32_t state[8], const uint8_t *block) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++) w[t] = load_be32(block + 4 * t);
    expand_schedule(w);
    for (int t = 0; t < 64; t++) w[t] += sha256_k[t];
    compress_rounds(state, w);
}

static void store_truncated_digest(uint8_t *digest, const uint32_t state[8]) {
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)state[i];
    }
    digest[31] &= 0x3F;
}

void hash_pairs_portable(uint8_t *out, const uint8_t *in, size_t count) {
    for (size_t node = 0; node < count; node++) {
        uint32_t state[8];
        memcpy(state, sha256_iv, sizeof state);
        compress_block(state, in + 64 * node);
        compress_rounds(state, sha256_padding_block_wk);
        store_truncated_digest(out + 32 * node, state);
    }
}

void hash_blocks_portable(uint8_t out[32], const uint8_t *blocks, size_t count) {
    uint32_t state[8];
    memcpy(state, sha256_iv, sizeof state);
    for (size_t block = 0; block < count; block++) compress_block(state, blocks + 64 * block);
    store_truncated_digest(out, state);
}
