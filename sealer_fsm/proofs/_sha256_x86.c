/* The x86 backends of _sha256.h: SHA-NI (four nodes interleaved, or one long message) and AVX-512 (sixteen
 * nodes, one per 32-bit lane). Each function carries its own target attribute, so the module builds with the compiler's
 * default flags and runs on any x86-64; the CPU is asked at run time which of them it can execute.
 */
#include "_sha256.h"

#ifdef SEALER_FSM_X86
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

int cpu_has_sha_ni(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int ssse3_and_sse41 = (ecx & bit_SSSE3) && (ecx & bit_SSE4_1);
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return ssse3_and_sse41 && (ebx & bit_SHA);
}

int cpu_has_avx512(void) {
    unsigned int eax, ebx, ecx, edx, xcr0_low, xcr0_high;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    const unsigned int sse_avx_and_zmm_state = 0xE6; /* the OS saves XMM, YMM, opmask and ZMM registers */
    if ((xcr0_low & sse_avx_and_zmm_state) != sse_avx_and_zmm_state) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & bit_AVX512F) && (ebx & bit_AVX512BW);
}


#define SHA_NI __attribute__((target("sha,sse4.1,ssse3")))
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* The state lives in two registers as SHA-NI wants it: (a, b, e, f) and (c, d, g, h), high word first. */
static ALWAYS_INLINE SHA_NI void sha_ni_initial_state(__m128i *abef, __m128i *cdgh) {
    *abef = _mm_set_epi32((int)sha256_iv[0], (int)sha256_iv[1], (int)sha256_iv[4], (int)sha256_iv[5]);
    *cdgh = _mm_set_epi32((int)sha256_iv[2], (int)sha256_iv[3], (int)sha256_iv[6], (int)sha256_iv[7]);
}

/* 64 rounds over one message block per lane, its schedule extended four words at a time, the lanes
 * interleaved so that the core overlaps their dependent sha256rnds2. The caller adds the saved state. */
static ALWAYS_INLINE SHA_NI void sha_ni_message_rounds(__m128i abef[], __m128i cdgh[], __m128i msg[][4],
                                                       const int lanes) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) {
        const __m128i k = _mm_loadu_si128((const __m128i *)&sha256_k[4 * i]);
#pragma GCC unroll 4
        for (int l = 0; l < lanes; l++) {
            __m128i wk = _mm_add_epi32(msg[l][i % 4], k);
            cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk);
            if (i >= 3 && i <= 14) {
                __m128i carry = _mm_alignr_epi8(msg[l][i % 4], msg[l][(i + 3) % 4], 4);
                msg[l][(i + 1) % 4] = _mm_sha256msg2_epu32(_mm_add_epi32(msg[l][(i + 1) % 4], carry), msg[l][i % 4]);
            }
            abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], _mm_shuffle_epi32(wk, 0x0E));
            if (i >= 1 && i <= 12) msg[l][(i + 3) % 4] = _mm_sha256msg1_epu32(msg[l][(i + 3) % 4], msg[l][i % 4]);
        }
    }
}

static ALWAYS_INLINE SHA_NI void sha_ni_load_block(__m128i msg[4], const uint8_t *block) {
    const __m128i byteswap_words = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++)
        msg[q] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * q)), byteswap_words);
}

/* The big-endian digest, top two bits cleared. */
static ALWAYS_INLINE SHA_NI void sha_ni_store_digest(uint8_t *out, __m128i abef, __m128i cdgh) {
    const __m128i byteswap_words = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    const __m128i truncate_to_254_bits = _mm_set_epi32(0x3FFFFFFF, -1, -1, -1);
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    __m128i abcd = _mm_blend_epi16(feba, dchg, 0xF0);
    __m128i efgh = _mm_alignr_epi8(dchg, feba, 8);
    _mm_storeu_si128((__m128i *)out, _mm_shuffle_epi8(abcd, byteswap_words));
    _mm_storeu_si128((__m128i *)(out + 16), _mm_and_si128(_mm_shuffle_epi8(efgh, byteswap_words), truncate_to_254_bits));
}

/* Hash `lanes` (at most 4) consecutive pairs at once. All input is loaded before any output is stored, which
 * is what makes in-place reduction safe. Always inlined with a constant `lanes`, so the loops fully unroll. */
static ALWAYS_INLINE SHA_NI void sha_ni_lanes(uint8_t *out, const uint8_t *in, const int lanes) {
    __m128i abef[4], cdgh[4], saved_abef[4], saved_cdgh[4], msg[4][4];
#pragma GCC unroll 4
    for (int l = 0; l < lanes; l++) {
        sha_ni_initial_state(&saved_abef[l], &saved_cdgh[l]);
        abef[l] = saved_abef[l];
        cdgh[l] = saved_cdgh[l];
        sha_ni_load_block(msg[l], in + 64 * l);
    }
    /* First block: the message itself. */
    sha_ni_message_rounds(abef, cdgh, msg, lanes);
#pragma GCC unroll 4
    for (int l = 0; l < lanes; l++) {
        abef[l] = saved_abef[l] = _mm_add_epi32(abef[l], saved_abef[l]);
        cdgh[l] = saved_cdgh[l] = _mm_add_epi32(cdgh[l], saved_cdgh[l]);
    }
    /* Second block: the constant padding block, its schedule precomputed. */
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) {
        const __m128i wk = _mm_loadu_si128((const __m128i *)&sha256_padding_block_wk[4 * i]);
        const __m128i wk_high = _mm_shuffle_epi32(wk, 0x0E);
#pragma GCC unroll 4
        for (int l = 0; l < lanes; l++) {
            cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk);
            abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], wk_high);
        }
    }
#pragma GCC unroll 4
    for (int l = 0; l < lanes; l++)
        sha_ni_store_digest(out + 32 * l, _mm_add_epi32(abef[l], saved_abef[l]), _mm_add_epi32(cdgh[l], saved_cdgh[l]));
}

SHA_NI void hash_pairs_sha_ni(uint8_t *out, const uint8_t *in, size_t count) {
    size_t node = 0;
    for (; node + 4 <= count; node += 4) sha_ni_lanes(out + 32 * node, in + 64 * node, 4);
    for (; node < count; node++) sha_ni_lanes(out + 32 * node, in + 64 * node, 1);
}

SHA_NI void hash_blocks_sha_ni(uint8_t out[32], const uint8_t *blocks, size_t count) {
    __m128i abef[1], cdgh[1], msg[1][4];
    sha_ni_initial_state(&abef[0], &cdgh[0]);
    for (size_t block = 0; block < count; block++) {
        const __m128i saved_abef = abef[0], saved_cdgh = cdgh[0];
        sha_ni_load_block(msg[0], blocks + 64 * block);
        sha_ni_message_rounds(abef, cdgh, msg, 1);
        abef[0] = _mm_add_epi32(abef[0], saved_abef);
        cdgh[0] = _mm_add_epi32(cdgh[0], saved_cdgh);
    }
    sha_ni_store_digest(out, abef[0], cdgh[0]);
}

/* ---- AVX-512: sixteen independent nodes, message word t of node j in lane j of w[t] ---------------- */

#define AVX512 __attribute__((target("avx512f,avx512bw")))

#define SHA256_ROUND(a, b, c, d, e, f, g, h, wk)                                                           \
    do {                                                                                                  \
        __m512i sigma1 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(e, 6), _mm512_ror_epi32(e, 11),        \
                                                   _mm512_ror_epi32(e, 25), 0x96); /* x ^ y ^ z */        \
        __m512i choose = _mm512_ternarylogic_epi32(e, f, g, 0xCA);             /* e ? f : g */           \
        __m512i t1 = _mm512_add_epi32(_mm512_add_epi32(h, wk), _mm512_add_epi32(sigma1, choose));         \
        __m512i sigma0 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(a, 2), _mm512_ror_epi32(a, 13),        \
                                                   _mm512_ror_epi32(a, 22), 0x96);                        \
        __m512i majority = _mm512_ternarylogic_epi32(a, b, c, 0xE8);                                      \
        d = _mm512_add_epi32(d, t1);                                                                      \
        h = _mm512_add_epi32(t1, _mm512_add_epi32(sigma0, majority));                                     \
    } while (0)

/* 64 rounds on 16 lanes. With `w` (the first block) the schedule is extended in place, 16 words deep;
 * without, the round inputs are the padding block's precomputed schedule plus constants. */
static inline __attribute__((always_inline)) AVX512 void avx512_compress(__m512i state[8], __m512i *w) {
    __m512i a = state[0], b = state[1], c = state[2], d = state[3];
    __m512i e = state[4], f = state[5], g = state[6], h = state[7];
#pragma GCC unroll 8
    for (int t = 0; t < 64; t += 8) {
        __m512i wk[8];
        for (int j = 0; j < 8; j++) {
            int i = t + j;
            if (w == NULL) {
                wk[j] = _mm512_set1_epi32((int)sha256_padding_block_wk[i]);
                continue;
            }
            if (i >= 16) {
                __m512i w15 = w[(i - 15) & 15], w2 = w[(i - 2) & 15];
                __m512i s0 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(w15, 7), _mm512_ror_epi32(w15, 18),
                                                       _mm512_srli_epi32(w15, 3), 0x96);
                __m512i s1 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(w2, 17), _mm512_ror_epi32(w2, 19),
                                                       _mm512_srli_epi32(w2, 10), 0x96);
                w[i & 15] = _mm512_add_epi32(_mm512_add_epi32(w[i & 15], w[(i - 7) & 15]), _mm512_add_epi32(s0, s1));
            }
            wk[j] = _mm512_add_epi32(w[i & 15], _mm512_set1_epi32((int)sha256_k[i]));
        }
        SHA256_ROUND(a, b, c, d, e, f, g, h, wk[0]);
        SHA256_ROUND(h, a, b, c, d, e, f, g, wk[1]);
        SHA256_ROUND(g, h, a, b, c, d, e, f, wk[2]);
        SHA256_ROUND(f, g, h, a, b, c, d, e, wk[3]);
        SHA256_ROUND(e, f, g, h, a, b, c, d, wk[4]);
        SHA256_ROUND(d, e, f, g, h, a, b, c, wk[5]);
        SHA256_ROUND(c, d, e, f, g, h, a, b, wk[6]);
        SHA256_ROUND(b, c, d, e, f, g, h, a, wk[7]);
    }
    state[0] = _mm512_add_epi32(state[0], a); state[1] = _mm512_add_epi32(state[1], b);
    state[2] = _mm512_add_epi32(state[2], c); state[3] = _mm512_add_epi32(state[3], d);
    state[4] = _mm512_add_epi32(state[4], e); state[5] = _mm512_add_epi32(state[5], f);
    state[6] = _mm512_add_epi32(state[6], g); state[7] = _mm512_add_epi32(state[7], h);
}

/* Sixteen pairs: gathered into lanes (all loads before any store, so in-place reduction is safe),
 * hashed, then scattered back as big-endian digests with the top two bits cleared. */
static AVX512 void avx512_16(uint8_t *out, const uint8_t *in) {
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i byteswap_words = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
    const __m512i message_words = _mm512_slli_epi32(lane, 4), digest_words = _mm512_slli_epi32(lane, 3);
    __m512i w[16], state[8];
    for (int t = 0; t < 16; t++)
        w[t] = _mm512_shuffle_epi8(_mm512_i32gather_epi32(message_words, in + 4 * t, 4), byteswap_words);
    for (int i = 0; i < 8; i++) state[i] = _mm512_set1_epi32((int)sha256_iv[i]);
    avx512_compress(state, w);
    avx512_compress(state, NULL);
    for (int i = 0; i < 8; i++) {
        __m512i word = _mm512_shuffle_epi8(state[i], byteswap_words);
        if (i == 7) word = _mm512_and_si512(word, _mm512_set1_epi32(0x3FFFFFFF)); /* digest[31] &= 0x3F */
        _mm512_i32scatter_epi32(out + 4 * i, digest_words, word, 4);
    }
}

AVX512 void hash_pairs_avx512(uint8_t *out, const uint8_t *in, size_t count) {
    size_t node = 0;
    for (; node + 16 <= count; node += 16) avx512_16(out + 32 * node, in + 64 * node);
    if (node < count) { /* the top levels of a tree: pad the group with scratch pairs */
        uint8_t scratch[16 * 64] = {0};
        memcpy(scratch, in + 64 * node, 64 * (count - node));
        avx512_16(scratch, scratch);
        memcpy(out + 32 * node, scratch, 32 * (count - node));
    }
}
#endif
