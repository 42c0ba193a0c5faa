/* The two pseudo-random functions of the SDR graph, in portable C: ChaCha8 (the DRG parents' generator, as
 * rand_chacha's ChaCha8Rng) and BLAKE2b-512 (the Feistel round function). Neither is on a hot path: the
 * graph calls ChaCha8 twice per node and BLAKE2b only to fill its round tables (see _sdr_graph.h).
 */
#include <string.h>

#include "_sdr_graph.h"

#define ROTL32(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

/* ---- ChaCha8 ------------------------------------------------------------------------------------------ */

#define QUARTER_ROUND(a, b, c, d)                                                                              \
    do {                                                                                                      \
        a += b; d ^= a; d = ROTL32(d, 16);                                                                    \
        c += d; b ^= c; b = ROTL32(b, 12);                                                                    \
        a += b; d ^= a; d = ROTL32(d, 8);                                                                     \
        c += d; b ^= c; b = ROTL32(b, 7);                                                                     \
    } while (0)

void chacha8_block(const uint32_t key[8], uint64_t counter, uint32_t out[16]) {
    const uint32_t input[16] = {
        0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, /* "expand 32-byte k" */
        key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
        (uint32_t)counter, (uint32_t)(counter >> 32), 0, 0,
    };
    uint32_t x[16];
    memcpy(x, input, sizeof x);
    for (int double_round = 0; double_round < 4; double_round++) {
        QUARTER_ROUND(x[0], x[4], x[8], x[12]);
        QUARTER_ROUND(x[1], x[5], x[9], x[13]);
        QUARTER_ROUND(x[2], x[6], x[10], x[14]);
        QUARTER_ROUND(x[3], x[7], x[11], x[15]);
        QUARTER_ROUND(x[0], x[5], x[10], x[15]);
        QUARTER_ROUND(x[1], x[6], x[11], x[12]);
        QUARTER_ROUND(x[2], x[7], x[8], x[13]);
        QUARTER_ROUND(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++) out[i] = x[i] + input[i];
}

/* ---- BLAKE2b-512 -------------------------------------------------------------------------------------- */

static const uint64_t blake2b_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t blake2b_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static uint64_t load_le64(const uint8_t *p) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = value << 8 | p[i];
    return value;
}

#define BLAKE2B_G(a, b, c, d, x, y)                                                                            \
    do {                                                                                                      \
        v[a] += v[b] + (x); v[d] = ROTR64(v[d] ^ v[a], 32);                                                   \
        v[c] += v[d]; v[b] = ROTR64(v[b] ^ v[c], 24);                                                         \
        v[a] += v[b] + (y); v[d] = ROTR64(v[d] ^ v[a], 16);                                                   \
        v[c] += v[d]; v[b] = ROTR64(v[b] ^ v[c], 63);                                                         \
    } while (0)

static void blake2b_compress(uint64_t h[8], const uint8_t block[128], uint64_t bytes_so_far, int last) {
    uint64_t m[16], v[16];
    for (int i = 0; i < 16; i++) m[i] = load_le64(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = blake2b_iv[i];
    }
    v[12] ^= bytes_so_far; /* the 128-bit counter's high word stays zero for messages under 2^64 bytes */
    if (last) v[14] = ~v[14];
    for (int round = 0; round < 12; round++) {
        const uint8_t *s = blake2b_sigma[round];
        BLAKE2B_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        BLAKE2B_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        BLAKE2B_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        BLAKE2B_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        BLAKE2B_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        BLAKE2B_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        BLAKE2B_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        BLAKE2B_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

void blake2b_512(uint8_t out[64], const uint8_t *data, size_t length) {
    uint64_t h[8];
    memcpy(h, blake2b_iv, sizeof h);
    h[0] ^= 0x01010000 | 64; /* depth 1, fanout 1, no key, 64-byte digest */
    size_t done = 0;
    while (length - done > 128) { /* every block but the last, which is compressed with the final flag */
        done += 128;
        blake2b_compress(h, data + done - 128, done, 0);
    }
    uint8_t last[128] = {0};
    memcpy(last, data + done, length - done);
    blake2b_compress(h, last, length, 1);
    for (int i = 0; i < 64; i++) out[i] = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
}
