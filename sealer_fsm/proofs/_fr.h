/* The BLS12-381 scalar field F_p: 4×64-bit limbs, little-endian, Montgomery form with R = 2^256.
 *
 * Two multiplications compute the same thing: `fr_mul_portable` (CIOS with unsigned __int128, any 64-bit
 * compiler) and `fr_mul_adx` (the same CIOS loop in x86-64 assembly with mulx and the two independent
 * carry chains of adcx/adox, which the compiler never emits on its own). The second needs BMI2 and ADX,
 * checked at run time by `fr_cpu_has_adx`. Both use the "no-carry" form of CIOS, valid because the top limb
 * of p is below 2^63 - 1: inputs below p give a result below p.
 *
 * Everything is static inline so the Poseidon permutation, compiled once per multiplication, inlines it.
 */
#ifndef SEALER_FSM_FR_H
#define SEALER_FSM_FR_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t l[4];
} fr;

#define FR_P0 0xffffffff00000001ULL
#define FR_P1 0x53bda402fffe5bfeULL
#define FR_P2 0x3339d80809a1d805ULL
#define FR_P3 0x73eda753299d7d48ULL
#define FR_N0 0xfffffffeffffffffULL /* -p^-1 mod 2^64 */

static const fr FR_MODULUS = {{FR_P0, FR_P1, FR_P2, FR_P3}};
static const fr FR_ONE_MONT = {{0x00000001fffffffeULL, 0x5884b7fa00034802ULL, 0x998c4fefecbc4ff5ULL,
                                0x1824b159acc5056fULL}}; /* R mod p */
static const fr FR_R2 = {{0xc999e990f3f29c6dULL, 0x2b6cedcb87925c23ULL, 0x05d314967254398fULL,
                          0x0748d9d99f59ff11ULL}}; /* R^2 mod p */
static const fr FR_CANONICAL_ONE = {{1, 0, 0, 0}};

typedef unsigned __int128 fr_u128;

/* out = a - p when a >= p, else a (a < 2p). */
static inline void fr_reduce_once(fr *out, const fr *a) {
    uint64_t d[4], borrow = 0;
    for (int i = 0; i < 4; i++) {
        fr_u128 x = (fr_u128)a->l[i] - FR_MODULUS.l[i] - borrow;
        d[i] = (uint64_t)x;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    uint64_t keep = 0 - borrow; /* all ones when a < p */
    for (int i = 0; i < 4; i++) out->l[i] = (a->l[i] & keep) | (d[i] & ~keep);
}

static inline void fr_add(fr *out, const fr *a, const fr *b) {
    fr sum;
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        fr_u128 x = (fr_u128)a->l[i] + b->l[i] + carry;
        sum.l[i] = (uint64_t)x;
        carry = (uint64_t)(x >> 64);
    }
    fr_reduce_once(out, &sum); /* a + b < 2p < 2^256: no carry out of the top limb */
}

static inline void fr_sub(fr *out, const fr *a, const fr *b) {
    uint64_t d[4], borrow = 0;
    for (int i = 0; i < 4; i++) {
        fr_u128 x = (fr_u128)a->l[i] - b->l[i] - borrow;
        d[i] = (uint64_t)x;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    uint64_t add_back = 0 - borrow, carry = 0;
    for (int i = 0; i < 4; i++) {
        fr_u128 x = (fr_u128)d[i] + (FR_MODULUS.l[i] & add_back) + carry;
        out->l[i] = (uint64_t)x;
        carry = (uint64_t)(x >> 64);
    }
}

static inline void fr_mul_portable(fr *out, const fr *a, const fr *b) {
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t bi = b->l[i], carry_a, carry_m;
        fr_u128 x = (fr_u128)a->l[0] * bi + t0;
        t0 = (uint64_t)x;
        carry_a = (uint64_t)(x >> 64);
        uint64_t m = t0 * FR_N0;
        x = (fr_u128)m * FR_P0 + t0;
        carry_m = (uint64_t)(x >> 64);
        x = (fr_u128)a->l[1] * bi + t1 + carry_a;
        t1 = (uint64_t)x;
        carry_a = (uint64_t)(x >> 64);
        x = (fr_u128)m * FR_P1 + t1 + carry_m;
        t0 = (uint64_t)x;
        carry_m = (uint64_t)(x >> 64);
        x = (fr_u128)a->l[2] * bi + t2 + carry_a;
        t2 = (uint64_t)x;
        carry_a = (uint64_t)(x >> 64);
        x = (fr_u128)m * FR_P2 + t2 + carry_m;
        t1 = (uint64_t)x;
        carry_m = (uint64_t)(x >> 64);
        x = (fr_u128)a->l[3] * bi + t3 + carry_a;
        t3 = (uint64_t)x;
        carry_a = (uint64_t)(x >> 64);
        x = (fr_u128)m * FR_P3 + t3 + carry_m;
        t2 = (uint64_t)x;
        carry_m = (uint64_t)(x >> 64);
        t3 = carry_m + carry_a;
    }
    fr sum = {{t0, t1, t2, t3}};
    fr_reduce_once(out, &sum);
}

/* Sums of products with a single reduction ("lazy reduction"): a dot product Σ a_k·b_k of up to 37 terms
 * accumulates full 512-bit products in nine limbs and is Montgomery-reduced once, instead of once per term.
 * That is most of Poseidon's work (the MDS mixing and the sparse rounds), and it cuts its cost about in
 * half. Inputs below p keep the sum below 37·p² < 2^516. */
typedef struct {
    uint64_t l[9];
} fr_wide;

static inline void fr_mac_portable(fr_wide *acc, const fr *a, const fr *b) {
    for (int i = 0; i < 4; i++) {
        fr_u128 carry = 0;
        for (int j = 0; j < 4; j++) {
            carry += (fr_u128)a->l[j] * b->l[i] + acc->l[i + j];
            acc->l[i + j] = (uint64_t)carry;
            carry >>= 64;
        }
        for (int k = i + 4; k < 9 && carry; k++) {
            carry += acc->l[k];
            acc->l[k] = (uint64_t)carry;
            carry >>= 64;
        }
    }
}

/* A value below 2^320 held in five limbs, reduced modulo p: subtract (v >> 255)·p until v < 2^255, then p
 * once more if needed (each pass leaves v < 2^255 + (v >> 255)·(2^255 − p), and 2^255 − p < p/9). */
static inline void fr_reduce_five(fr *out, uint64_t v[5]) {
    for (;;) {
        uint64_t quotient = (v[3] >> 63) | (v[4] << 1);
        if (quotient == 0) break;
        fr_u128 carry = 0;
        uint64_t borrow = 0;
        for (int j = 0; j < 4; j++) {
            fr_u128 product = (fr_u128)quotient * FR_MODULUS.l[j] + carry;
            carry = product >> 64;
            fr_u128 difference = (fr_u128)v[j] - (uint64_t)product - borrow;
            v[j] = (uint64_t)difference;
            borrow = (uint64_t)(difference >> 64) & 1;
        }
        v[4] = v[4] - (uint64_t)carry - borrow;
    }
    fr below = {{v[0], v[1], v[2], v[3]}};
    fr_reduce_once(out, &below);
}

/* out = acc·R^-1 mod p (Montgomery reduction of the whole sum), fully reduced. */
static inline void fr_redc_portable(fr *out, const fr_wide *acc) {
    uint64_t t[9];
    memcpy(t, acc->l, sizeof t);
    for (int i = 0; i < 4; i++) {
        uint64_t m = t[i] * FR_N0;
        fr_u128 carry = 0;
        for (int j = 0; j < 4; j++) {
            carry += (fr_u128)m * FR_MODULUS.l[j] + t[i + j];
            t[i + j] = (uint64_t)carry;
            carry >>= 64;
        }
        for (int k = i + 4; k < 9 && carry; k++) {
            carry += t[k];
            t[k] = (uint64_t)carry;
            carry >>= 64;
        }
    }
    fr_reduce_five(out, t + 4);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FR_HAVE_ADX 1

/* One CIOS step: T += a·b[word]; then T = (T + m·p) / 2^64 with m = T0·N0. The result is left in T1..T4 and
 * T0 is free: the caller rotates the register names instead of moving limbs. rax holds zero for the final
 * carry adds; xor clears CF and OF before each pair of carry chains. */
#define FR_ADX_STEP(WORD, T0, T1, T2, T3, T4)                                                               \
    "movq " #WORD "*8(%[b]), %%rdx\n\t"                                                                     \
    "xorl %%eax, %%eax\n\t"                                                                                 \
    "mulxq 0(%[a]), %[lo], %[hi]\n\t"                                                                       \
    "adoxq %[lo], %[" #T0 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T1 "]\n\t"                                                                           \
    "mulxq 8(%[a]), %[lo], %[hi]\n\t"                                                                       \
    "adoxq %[lo], %[" #T1 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T2 "]\n\t"                                                                           \
    "mulxq 16(%[a]), %[lo], %[hi]\n\t"                                                                      \
    "adoxq %[lo], %[" #T2 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T3 "]\n\t"                                                                           \
    "mulxq 24(%[a]), %[lo], %[" #T4 "]\n\t"                                                                 \
    "adoxq %[lo], %[" #T3 "]\n\t"                                                                           \
    "adcxq %%rax, %[" #T4 "]\n\t"                                                                           \
    "adoxq %%rax, %[" #T4 "]\n\t"                                                                           \
    "movq %[" #T0 "], %%rdx\n\t"                                                                            \
    "imulq %[n0], %%rdx\n\t"                                                                                \
    "xorl %%eax, %%eax\n\t"                                                                                 \
    "mulxq 0(%[p]), %[lo], %[hi]\n\t"                                                                       \
    "adoxq %[lo], %[" #T0 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T1 "]\n\t"                                                                           \
    "mulxq 8(%[p]), %[lo], %[hi]\n\t"                                                                       \
    "adoxq %[lo], %[" #T1 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T2 "]\n\t"                                                                           \
    "mulxq 16(%[p]), %[lo], %[hi]\n\t"                                                                      \
    "adoxq %[lo], %[" #T2 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T3 "]\n\t"                                                                           \
    "mulxq 24(%[p]), %[lo], %[hi]\n\t"                                                                      \
    "adoxq %[lo], %[" #T3 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T4 "]\n\t"                                                                           \
    "adoxq %%rax, %[" #T4 "]\n\t"

static inline void fr_mul_adx(fr *out, const fr *a, const fr *b) {
    uint64_t r0 = 0, r1 = 0, r2 = 0, r3 = 0, r4, lo, hi;
    __asm__(FR_ADX_STEP(0, r0, r1, r2, r3, r4) FR_ADX_STEP(1, r1, r2, r3, r4, r0)
                FR_ADX_STEP(2, r2, r3, r4, r0, r1) FR_ADX_STEP(3, r3, r4, r0, r1, r2)
            : [r0] "+&r"(r0), [r1] "+&r"(r1), [r2] "+&r"(r2), [r3] "+&r"(r3), [r4] "=&r"(r4), [lo] "=&r"(lo),
              [hi] "=&r"(hi)
            : [a] "r"(a->l), [b] "r"(b->l), [p] "r"(FR_MODULUS.l), [n0] "m"(*(const uint64_t[1]){FR_N0}),
              "m"(*(const uint64_t(*)[4])a->l), "m"(*(const uint64_t(*)[4])b->l)
            : "rax", "rdx", "cc");
    fr sum = {{r4, r0, r1, r2}};
    fr_reduce_once(out, &sum);
}

/* acc += a·b: the 512-bit product in eight registers (row 0 with add/adc, rows 1–3 with the two carry
 * chains), then added into the accumulator in memory. */
#define FR_ADX_ROW(WORD, T0, T1, T2, T3, T4)                                                                \
    "movq " #WORD "*8(%[b]), %%rdx\n\t"                                                                     \
    "xorl %k[hi], %k[hi]\n\t"                                                                               \
    "mulxq 0(%[a]), %[lo], %[hi]\n\t"                                                                       \
    "adoxq %[lo], %[" #T0 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T1 "]\n\t"                                                                           \
    "mulxq 8(%[a]), %[lo], %[hi]\n\t"                                                                       \
    "adoxq %[lo], %[" #T1 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T2 "]\n\t"                                                                           \
    "mulxq 16(%[a]), %[lo], %[hi]\n\t"                                                                      \
    "adoxq %[lo], %[" #T2 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T3 "]\n\t"                                                                           \
    "mulxq 24(%[a]), %[lo], %[" #T4 "]\n\t"                                                                 \
    "adoxq %[lo], %[" #T3 "]\n\t"                                                                           \
    "movl $0, %k[hi]\n\t"                                                                                   \
    "adcxq %[hi], %[" #T4 "]\n\t"                                                                           \
    "adoxq %[hi], %[" #T4 "]\n\t"

static inline void fr_mac_adx(fr_wide *acc, const fr *a, const fr *b) {
    uint64_t r0, r1, r2, r3, r4, r5, r6, r7, lo, hi;
    __asm__ volatile("movq 0(%[b]), %%rdx\n\t"
                     "mulxq 0(%[a]), %[r0], %[r1]\n\t"
                     "mulxq 8(%[a]), %[lo], %[r2]\n\t"
                     "addq %[lo], %[r1]\n\t"
                     "mulxq 16(%[a]), %[lo], %[r3]\n\t"
                     "adcq %[lo], %[r2]\n\t"
                     "mulxq 24(%[a]), %[lo], %[r4]\n\t"
                     "adcq %[lo], %[r3]\n\t"
                     "adcq $0, %[r4]\n\t" FR_ADX_ROW(1, r1, r2, r3, r4, r5) FR_ADX_ROW(2, r2, r3, r4, r5, r6)
                         FR_ADX_ROW(3, r3, r4, r5, r6, r7)
                     "addq %[r0], 0(%[acc])\n\t"
                     "adcq %[r1], 8(%[acc])\n\t"
                     "adcq %[r2], 16(%[acc])\n\t"
                     "adcq %[r3], 24(%[acc])\n\t"
                     "adcq %[r4], 32(%[acc])\n\t"
                     "adcq %[r5], 40(%[acc])\n\t"
                     "adcq %[r6], 48(%[acc])\n\t"
                     "adcq %[r7], 56(%[acc])\n\t"
                     "adcq $0, 64(%[acc])\n\t"
                     : [r0] "=&r"(r0), [r1] "=&r"(r1), [r2] "=&r"(r2), [r3] "=&r"(r3), [r4] "=&r"(r4),
                       [r5] "=&r"(r5), [r6] "=&r"(r6), [r7] "=&r"(r7), [lo] "=&r"(lo), [hi] "=&r"(hi)
                     : [a] "r"(a->l), [b] "r"(b->l), [acc] "r"(acc->l)
                     : "rdx", "cc", "memory");
}

/* One reduction step of the nine-limb sum: T0..T4 += m·p with m = T0·N0, carries rippling up to t8. */
#define FR_REDC_STEP(T0, T1, T2, T3, T4, RIPPLE)                                                            \
    "movq %[" #T0 "], %%rdx\n\t"                                                                            \
    "imulq %[n0], %%rdx\n\t"                                                                                \
    "xorl %%eax, %%eax\n\t"                                                                                 \
    "mulxq %[p0], %[lo], %[hi]\n\t"                                                                         \
    "adoxq %[lo], %[" #T0 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T1 "]\n\t"                                                                           \
    "mulxq %[p1], %[lo], %[hi]\n\t"                                                                         \
    "adoxq %[lo], %[" #T1 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T2 "]\n\t"                                                                           \
    "mulxq %[p2], %[lo], %[hi]\n\t"                                                                         \
    "adoxq %[lo], %[" #T2 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T3 "]\n\t"                                                                           \
    "mulxq %[p3], %[lo], %[hi]\n\t"                                                                         \
    "adoxq %[lo], %[" #T3 "]\n\t"                                                                           \
    "adcxq %[hi], %[" #T4 "]\n\t"                                                                           \
    "adoxq %%rax, %[" #T4 "]\n\t" RIPPLE
#define FR_RIPPLE(T) "adcxq %%rax, %[" #T "]\n\tadoxq %%rax, %[" #T "]\n\t"

static inline void fr_redc_adx(fr *out, const fr_wide *acc) {
    uint64_t t0 = acc->l[0], t1 = acc->l[1], t2 = acc->l[2], t3 = acc->l[3], t4 = acc->l[4], t5 = acc->l[5],
             t6 = acc->l[6], t7 = acc->l[7], t8 = acc->l[8], lo, hi;
    __asm__(FR_REDC_STEP(t0, t1, t2, t3, t4, FR_RIPPLE(t5) FR_RIPPLE(t6) FR_RIPPLE(t7) FR_RIPPLE(t8))
                FR_REDC_STEP(t1, t2, t3, t4, t5, FR_RIPPLE(t6) FR_RIPPLE(t7) FR_RIPPLE(t8))
                    FR_REDC_STEP(t2, t3, t4, t5, t6, FR_RIPPLE(t7) FR_RIPPLE(t8))
                        FR_REDC_STEP(t3, t4, t5, t6, t7, FR_RIPPLE(t8))
            : [t0] "+r"(t0), [t1] "+r"(t1), [t2] "+r"(t2), [t3] "+r"(t3), [t4] "+r"(t4), [t5] "+r"(t5),
              [t6] "+r"(t6), [t7] "+r"(t7), [t8] "+r"(t8), [lo] "=&r"(lo), [hi] "=&r"(hi)
            : [n0] "m"(*(const uint64_t[1]){FR_N0}), [p0] "m"(FR_MODULUS.l[0]), [p1] "m"(FR_MODULUS.l[1]),
              [p2] "m"(FR_MODULUS.l[2]), [p3] "m"(FR_MODULUS.l[3])
            : "rax", "rdx", "cc");
    uint64_t v[5] = {t4, t5, t6, t7, t8};
    fr_reduce_five(out, v);
}
#endif

/* 32 little-endian bytes <-> limbs (canonical values, not Montgomery form). */
static inline void fr_from_bytes(fr *out, const uint8_t *bytes) {
    for (int i = 0; i < 4; i++) {
        uint64_t limb = 0;
        for (int j = 7; j >= 0; j--) limb = (limb << 8) | bytes[8 * i + j];
        out->l[i] = limb;
    }
}

static inline void fr_to_bytes(uint8_t *bytes, const fr *a) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) bytes[8 * i + j] = (uint8_t)(a->l[i] >> (8 * j));
}

/* Whether 32 little-endian bytes are a canonical field element (< p). */
static inline int fr_bytes_in_field(const uint8_t *bytes) {
    fr value;
    fr_from_bytes(&value, bytes);
    for (int i = 3; i >= 0; i--) {
        if (value.l[i] != FR_MODULUS.l[i]) return value.l[i] < FR_MODULUS.l[i];
    }
    return 0;
}

int fr_cpu_has_adx(void);

#endif
