/* Four Poseidon hashes at once with AVX2: one hash per 64-bit lane of a 256-bit register.
 *
 * Why: on the AMD Zen 3 this project runs on, a scalar 4×64 Montgomery multiplication is bound by its 32
 * mulx and its carry chains (about 100 cycles), while vpmuludq does four 32×32→64 products per instruction,
 * two instructions per cycle, and needs no carries. A tree has thousands of independent hashes, so the tree
 * builder hashes them four at a time here.
 *
 * Field elements are nine 29-bit limbs (261 bits) held in 64-bit lanes, in Montgomery form with R' = 2^261.
 * Products of 29- or 30-bit limbs are below 2^60 and a column sums at most 18 of them, so no carry is
 * propagated inside a multiplication; one pass normalises the result. Because R' > 8p, a product of two values
 * below 8p (or of anything below 2^261 and a constant below p) reduces to below 2p without a final subtraction:
 * values stay in [0, 2p) "lazily", sums are reduced by one multiplication by R' mod p where they could grow,
 * and only the digest is brought below p, in scalar code. The round structure is the same optimised form as
 * `_poseidon_perm.h`; the constants are those of `_poseidon_constants.h`, rescaled from R = 2^256 to R' once
 * per arity at first use. Widths above 17 (where a mixing sum could pass 2^261) use the scalar hash.
 */
#include "_poseidon.h"

#ifdef POSEIDON_HAVE_AVX2

#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>

#define LIMBS 9
#define LIMB_BITS 29
#define LIMB_MASK ((1ULL << LIMB_BITS) - 1)
#define N29 LIMB_MASK /* -p^-1 mod 2^29: p ≡ 1 (mod 2^32) */
#define AVX2_MAX_WIDTH 17
#define PARTIAL_REDUCE_EVERY 8 /* partial rounds between two reductions of state[1..] (< 2p + 16p) */
#define TARGET __attribute__((target("avx2")))

typedef struct {
    __m256i l[LIMBS];
} vfe;

typedef uint64_t limbs29[LIMBS]; /* one constant, broadcast to the four lanes where it is used */

static limbs29 P29, ONE29, R2_29, CANONICAL29 = {1};

/* ---- conversions between 4×64 limbs and 9×29 limbs -------------------------------------------------- */

static void split29(limbs29 out, const fr *value) {
    for (int i = 0; i < LIMBS; i++) {
        int bit = LIMB_BITS * i, word = bit / 64, shift = bit % 64;
        uint64_t low = value->l[word] >> shift;
        if (shift > 64 - LIMB_BITS && word < 3) low |= value->l[word + 1] << (64 - shift);
        out[i] = low & LIMB_MASK;
    }
}

static void join29(fr *out, const uint64_t *limbs) {
    *out = (fr){{0, 0, 0, 0}};
    for (int i = 0; i < LIMBS; i++) {
        int bit = LIMB_BITS * i, word = bit / 64, shift = bit % 64;
        out->l[word] |= limbs[i] << shift;
        if (shift > 64 - LIMB_BITS && word < 3) out->l[word + 1] |= limbs[i] >> (64 - shift);
    }
}

/* A Montgomery (R = 2^256) value to R' = 2^261 form: times 2^5 mod p. */
static void rescale(limbs29 out, const fr *montgomery) {
    fr value = *montgomery;
    for (int i = 0; i < 5; i++) fr_add(&value, &value, &value);
    split29(out, &value);
}

/* ---- vector field arithmetic -------------------------------------------------------------------------- */

/* t[j+1] += t[j] >> 29, t[j] &= mask: limbs below 2^29 except the top one, which holds the rest. */
TARGET static inline void normalize(vfe *x) {
    const __m256i mask = _mm256_set1_epi64x((long long)LIMB_MASK);
    for (int j = 0; j < LIMBS - 1; j++) {
        x->l[j + 1] = _mm256_add_epi64(x->l[j + 1], _mm256_srli_epi64(x->l[j], LIMB_BITS));
        x->l[j] = _mm256_and_si256(x->l[j], mask);
    }
}

/* out = a·b·R'^-1, below 2p when a·b < p·R'. Limbs of a and b must be below 2^30: a column then stays below
 * 18·2^60 < 2^64. One CIOS step per limb of b, in assembly because the compiler hoists the products and
 * spills the accumulators: nine registers rotate (slot j of step k is register (k + j) mod 9; slot 8 starts fresh
 * each step, slot 0 is spent), so the result's limbs 0..7 end in r0..r7 and its top limb is what the carries
 * leave; p's lowest limb is 1, so m·p0 = m. */
#define VMAC(J, T)                                                                                            \
    "vpmuludq " #J "*32(%[a]), %[bi], %[x]\n\t"                                                                \
    "vpaddq %[x], %[" #T "], %[" #T "]\n\t"                                                                    \
    "vpmuludq " #J "*32(%[p]), %[m], %[x]\n\t"                                                                 \
    "vpaddq %[x], %[" #T "], %[" #T "]\n\t"
#define VSTEP(LOAD_BI, T0, T1, T2, T3, T4, T5, T6, T7, T8)                                                    \
    LOAD_BI                                                                                                   \
    "vpmuludq 0(%[a]), %[bi], %[x]\n\t"                                                                        \
    "vpaddq %[x], %[" #T0 "], %[" #T0 "]\n\t"                                                                  \
    "vpmuludq %[n0], %[" #T0 "], %[m]\n\t"                                                                     \
    "vpand %[mask], %[m], %[m]\n\t"                                                                            \
    "vpaddq %[m], %[" #T0 "], %[" #T0 "]\n\t"                                                                  \
    "vpsrlq $29, %[" #T0 "], %[" #T0 "]\n\t"                                                                   \
    "vpaddq %[" #T0 "], %[" #T1 "], %[" #T1 "]\n\t" VMAC(1, T1) VMAC(2, T2) VMAC(3, T3) VMAC(4, T4)            \
        VMAC(5, T5) VMAC(6, T6) VMAC(7, T7)                                                                   \
    "vpmuludq 8*32(%[a]), %[bi], %[" #T8 "]\n\t"                                                               \
    "vpmuludq 8*32(%[p]), %[m], %[x]\n\t"                                                                      \
    "vpaddq %[x], %[" #T8 "], %[" #T8 "]\n\t"
#define VECTOR_BI(I) "vmovdqu " #I "*32(%[b]), %[bi]\n\t"
#define CONSTANT_BI(I) "vpbroadcastq " #I "*8(%[b]), %[bi]\n\t"
#define MONTGOMERY(LOAD)                                                                                      \
    VSTEP(LOAD(0), r0, r1, r2, r3, r4, r5, r6, r7, r8)                                                        \
    VSTEP(LOAD(1), r1, r2, r3, r4, r5, r6, r7, r8, r0)                                                        \
    VSTEP(LOAD(2), r2, r3, r4, r5, r6, r7, r8, r0, r1)                                                        \
    VSTEP(LOAD(3), r3, r4, r5, r6, r7, r8, r0, r1, r2)                                                        \
    VSTEP(LOAD(4), r4, r5, r6, r7, r8, r0, r1, r2, r3)                                                        \
    VSTEP(LOAD(5), r5, r6, r7, r8, r0, r1, r2, r3, r4)                                                        \
    VSTEP(LOAD(6), r6, r7, r8, r0, r1, r2, r3, r4, r5)                                                        \
    VSTEP(LOAD(7), r7, r8, r0, r1, r2, r3, r4, r5, r6)                                                        \
    VSTEP(LOAD(8), r8, r0, r1, r2, r3, r4, r5, r6, r7)

static __m256i P29_VECTOR[LIMBS]; /* p's limbs broadcast, for the memory operands of the steps */
static __m256i MASK_VECTOR, N0_VECTOR;

#define MONTGOMERY_ASM(LOAD, B)                                                                               \
    __m256i r0 = _mm256_setzero_si256(), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0, r6 = r0, r7 = r0, r8 = r0; \
    __m256i bi, m, x;                                                                                          \
    __asm__(MONTGOMERY(LOAD)                                                                                   \
            : [r0] "+x"(r0), [r1] "+x"(r1), [r2] "+x"(r2), [r3] "+x"(r3), [r4] "+x"(r4), [r5] "+x"(r5),        \
              [r6] "+x"(r6), [r7] "+x"(r7), [r8] "+x"(r8), [bi] "=&x"(bi), [m] "=&x"(m), [x] "=&x"(x)            \
            : [a] "r"(a->l), [b] "r"(B), [p] "r"(P29_VECTOR), [mask] "m"(MASK_VECTOR), [n0] "m"(N0_VECTOR),    \
              "m"(*(const vfe *)a)                                                                             \
            : "memory");                                                                                       \
    out->l[0] = r0, out->l[1] = r1, out->l[2] = r2, out->l[3] = r3, out->l[4] = r4, out->l[5] = r5;           \
    out->l[6] = r6, out->l[7] = r7, out->l[8] = _mm256_setzero_si256(); /* r8 held the last step's spent slot */ \
    normalize(out);

TARGET static inline void vmul(vfe *out, const vfe *a, const vfe *b) { MONTGOMERY_ASM(VECTOR_BI, b->l) }

TARGET static inline void vmul_constant(vfe *out, const vfe *a, const limbs29 c) { MONTGOMERY_ASM(CONSTANT_BI, c) }

TARGET static inline void vadd(vfe *out, const vfe *a, const vfe *b) {
    for (int j = 0; j < LIMBS; j++) out->l[j] = _mm256_add_epi64(a->l[j], b->l[j]);
}

TARGET static inline void vadd_constant(vfe *x, const limbs29 c) {
    for (int j = 0; j < LIMBS; j++) x->l[j] = _mm256_add_epi64(x->l[j], _mm256_set1_epi64x((long long)c[j]));
}

/* A value below 2^261 with limbs below 2^30 brought below 2p (times R' mod p, i.e. Montgomery one). */
TARGET static inline void vreduce(vfe *x) {
    normalize(x);
    vmul_constant(x, x, ONE29);
}

TARGET static inline void vsbox(vfe *x) {
    vfe square, fourth;
    vmul(&square, x, x);
    vmul(&fourth, &square, &square);
    vmul(x, &fourth, x);
}

/* state ← state × matrix, each column a sum of `width` products (< 2·width·p), reduced below 2p. */
TARGET static inline void vmix(vfe *state, const limbs29 *matrix, int width) {
    vfe mixed[AVX2_MAX_WIDTH], product;
    for (int column = 0; column < width; column++) {
        vmul_constant(&mixed[column], &state[0], matrix[column]);
        for (int row = 1; row < width; row++) {
            vmul_constant(&product, &state[row], matrix[row * width + column]);
            vadd(&mixed[column], &mixed[column], &product);
        }
        vreduce(&mixed[column]);
    }
    memcpy(state, mixed, sizeof(vfe) * (size_t)width);
}

/* ---- constants per instance, rescaled to R' at first use -------------------------------------------- */

typedef struct {
    limbs29 *rc, *mds, *pre, *sparse;
} avx2_constants;

static avx2_constants tables[POSEIDON_MAX_WIDTH + 1];
static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;

static limbs29 *rescaled(const fr *values, size_t count) {
    limbs29 *out = malloc(count * sizeof(limbs29));
    for (size_t i = 0; out && i < count; i++) rescale(out[i], &values[i]);
    return out;
}

static const avx2_constants *constants_for(const poseidon_instance *instance) {
    avx2_constants *entry = &tables[instance->arity];
    if (__atomic_load_n(&entry->sparse, __ATOMIC_ACQUIRE) != NULL) return entry;
    pthread_mutex_lock(&tables_lock);
    if (entry->sparse == NULL) {
        const size_t width = (size_t)instance->width, partial = (size_t)instance->partial_rounds;
        limbs29 *rc = rescaled(instance->rc, POSEIDON_FULL_ROUNDS * width + partial);
        limbs29 *mds = rescaled(instance->mds, width * width), *pre = rescaled(instance->pre, width * width);
        limbs29 *sparse = rescaled(instance->sparse, partial * (2 * width - 1));
        if (rc && mds && pre && sparse) {
            entry->rc = rc, entry->mds = mds, entry->pre = pre;
            __atomic_store_n(&entry->sparse, sparse, __ATOMIC_RELEASE);
        } else {
            free(rc), free(mds), free(pre), free(sparse);
        }
    }
    pthread_mutex_unlock(&tables_lock);
    return entry->sparse ? entry : NULL;
}

/* ---- the permutation --------------------------------------------------------------------------------- */

TARGET static void load_lanes(vfe *out, const fr *const values[4]) {
    limbs29 lanes[4];
    for (int lane = 0; lane < 4; lane++) split29(lanes[lane], values[lane]);
    for (int j = 0; j < LIMBS; j++)
        out->l[j] = _mm256_set_epi64x((long long)lanes[3][j], (long long)lanes[2][j], (long long)lanes[1][j],
                                      (long long)lanes[0][j]);
}

TARGET static void store_lanes(fr *out[4], const vfe *x) {
    uint64_t lanes[LIMBS][4];
    for (int j = 0; j < LIMBS; j++) _mm256_storeu_si256((__m256i *)lanes[j], x->l[j]);
    for (int lane = 0; lane < 4; lane++) {
        uint64_t limbs[LIMBS];
        for (int j = 0; j < LIMBS; j++) limbs[j] = lanes[j][lane];
        fr value;
        join29(&value, limbs);
        fr_reduce_once(out[lane], &value); /* the digest is below 2p */
    }
}

TARGET static void permute4(const poseidon_instance *instance, const avx2_constants *k, vfe *state) {
    const int width = instance->width, half = POSEIDON_FULL_ROUNDS / 2;
    const limbs29 *constant = k->rc;
    for (int i = 0; i < width; i++) vadd_constant(&state[i], *constant++);
    for (int round = 0; round < half; round++) {
        for (int i = 0; i < width; i++) {
            vsbox(&state[i]);
            vadd_constant(&state[i], *constant++);
        }
        vmix(state, round == half - 1 ? k->pre : k->mds, width);
    }
    const limbs29 *sparse = k->sparse;
    vfe product;
    for (int round = 0; round < instance->partial_rounds; round++, sparse += 2 * width - 1) {
        vsbox(&state[0]);
        vadd_constant(&state[0], *constant++);
        const vfe first = state[0];
        const limbs29 *first_row = sparse, *first_column = sparse + width;
        vmul_constant(&state[0], &first, first_row[0]);
        for (int i = 1; i < width; i++) {
            vmul_constant(&product, &state[i], first_column[i - 1]);
            vadd(&state[0], &state[0], &product);
            vmul_constant(&product, &first, first_row[i]);
            vadd(&state[i], &state[i], &product);
            if (round % PARTIAL_REDUCE_EVERY == PARTIAL_REDUCE_EVERY - 1)
                vreduce(&state[i]);
            else
                normalize(&state[i]);
        }
        vreduce(&state[0]);
    }
    for (int i = 1; i < width; i++) vreduce(&state[i]);
    for (int round = 0; round < half; round++) {
        const int last = round == half - 1;
        for (int i = 0; i < width; i++) {
            vsbox(&state[i]);
            if (!last) vadd_constant(&state[i], *constant++);
        }
        vmix(state, k->mds, width);
    }
}

TARGET static void hash4_avx2(const poseidon_instance *instance, const fr *tag, const fr *inputs, int count, fr *out) {
    const avx2_constants *k = instance->width <= AVX2_MAX_WIDTH ? constants_for(instance) : NULL;
    if (k == NULL) {
        for (int lane = 0; lane < 4; lane++) poseidon_hash(instance, tag, inputs + lane * count, count, &out[lane]);
        return;
    }
    vfe state[AVX2_MAX_WIDTH];
    limbs29 tag29;
    rescale(tag29, tag);
    for (int j = 0; j < LIMBS; j++) state[0].l[j] = _mm256_set1_epi64x((long long)tag29[j]);
    static const fr zero = {{0, 0, 0, 0}};
    for (int i = 1; i < instance->width; i++) {
        const fr *lanes[4];
        for (int lane = 0; lane < 4; lane++) lanes[lane] = i <= count ? &inputs[lane * count + i - 1] : &zero;
        load_lanes(&state[i], lanes);
        vmul_constant(&state[i], &state[i], R2_29); /* canonical → Montgomery (R') */
    }
    permute4(instance, k, state);
    vmul_constant(&state[1], &state[1], CANONICAL29); /* Montgomery → canonical, below 2p */
    fr *outs[4] = {&out[0], &out[1], &out[2], &out[3]};
    store_lanes(outs, &state[1]);
}

/* AVX2 in cpuid, and the OS saves the ymm registers (OSXSAVE, and XCR0 has the SSE and AVX state bits). */
static int cpu_runs_avx2(void) {
    unsigned eax, ebx, ecx, edx, xcr0_low, xcr0_high;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 6) != 6) return 0;
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & (1u << 5));
}

TARGET static void fill_vectors(void) {
    for (int j = 0; j < LIMBS; j++) P29_VECTOR[j] = _mm256_set1_epi64x((long long)P29[j]);
    MASK_VECTOR = _mm256_set1_epi64x((long long)LIMB_MASK);
    N0_VECTOR = _mm256_set1_epi64x((long long)N29);
}

int poseidon_avx2_prepare(void) {
    if (!cpu_runs_avx2()) return 0;
    fr one29, square;
    rescale(ONE29, &FR_ONE_MONT);
    join29(&one29, ONE29);
    split29(P29, &FR_MODULUS);
    fill_vectors();
    fr_mul_portable(&square, &one29, &one29);  /* R'^2 · 2^-256 */
    fr_mul_portable(&square, &square, &FR_R2); /* R'^2 mod p */
    split29(R2_29, &square);
    return 1;
}

void poseidon_hash4_avx2(const poseidon_instance *instance, const fr *tag, const fr *inputs, int count, fr *out) {
    hash4_avx2(instance, tag, inputs, count, out);
}

#endif
