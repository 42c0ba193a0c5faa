/* Poseidon instances, the run-time choice of field multiplication, and the field helpers built on it. */
#include "_poseidon.h"

#include "_poseidon_constants.h"

#define PERM_MUL fr_mul_portable
#define PERM_MAC fr_mac_portable
#define PERM_REDC fr_redc_portable
#define PERM_HASH poseidon_hash_portable
#include "_poseidon_perm.h"
#undef PERM_MUL
#undef PERM_MAC
#undef PERM_REDC
#undef PERM_HASH

#ifdef FR_HAVE_ADX
#include <cpuid.h>
#define PERM_MUL fr_mul_adx
#define PERM_MAC fr_mac_adx
#define PERM_REDC fr_redc_adx
#define PERM_HASH poseidon_hash_adx
#include "_poseidon_perm.h"
#undef PERM_MUL
#undef PERM_MAC
#undef PERM_REDC
#undef PERM_HASH

int fr_cpu_has_adx(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & (1u << 8)) && (ebx & (1u << 19)); /* BMI2 (mulx) and ADX (adcx/adox) */
}
#else
int fr_cpu_has_adx(void) { return 0; }
#endif

poseidon_hash_fn poseidon_hash = poseidon_hash_portable;
poseidon_hash_fn poseidon_hash4 = poseidon_hash4_scalar;
static poseidon_backend current_backend = POSEIDON_PORTABLE;
static void (*fr_mul)(fr *, const fr *, const fr *) = fr_mul_portable;

void poseidon_hash4_scalar(const poseidon_instance *instance, const fr *tag, const fr *inputs, int count, fr *out) {
    for (int lane = 0; lane < 4; lane++) poseidon_hash(instance, tag, inputs + lane * count, count, &out[lane]);
}

/* fr_mul_* are static inline; these wrappers give them an address for the selected-function pointer. */
static void mul_portable(fr *out, const fr *a, const fr *b) { fr_mul_portable(out, a, b); }
#ifdef FR_HAVE_ADX
static void mul_adx(fr *out, const fr *a, const fr *b) { fr_mul_adx(out, a, b); }
#endif

int poseidon_backend_available(poseidon_backend backend) {
    static int avx2 = -1;
    switch (backend) {
    case POSEIDON_AVX2:
#ifdef POSEIDON_HAVE_AVX2
        if (avx2 < 0) avx2 = poseidon_avx2_prepare();
        return avx2;
#else
        return 0;
#endif
    case POSEIDON_ADX:
        return fr_cpu_has_adx();
    default:
        return 1;
    }
}

int poseidon_select(poseidon_backend backend) {
    if (!poseidon_backend_available(backend)) return -1;
    int adx = backend != POSEIDON_PORTABLE && fr_cpu_has_adx();
#ifdef FR_HAVE_ADX
    poseidon_hash = adx ? poseidon_hash_adx : poseidon_hash_portable;
    fr_mul = adx ? mul_adx : mul_portable;
#else
    (void)adx;
#endif
    poseidon_hash4 = poseidon_hash4_scalar;
#ifdef POSEIDON_HAVE_AVX2
    if (backend == POSEIDON_AVX2) poseidon_hash4 = poseidon_hash4_avx2;
#endif
    current_backend = backend;
    return 0;
}

poseidon_backend poseidon_current(void) { return current_backend; }

const poseidon_instance *poseidon_find(int arity) {
    for (int i = 0; i < POSEIDON_INSTANCE_COUNT; i++)
        if (POSEIDON_INSTANCES[i].arity == arity) return &POSEIDON_INSTANCES[i];
    return NULL;
}

void fr_to_montgomery(fr *out, const fr *canonical) { fr_mul(out, canonical, &FR_R2); }

void fr_mul_mixed(fr *out, const fr *canonical, const fr *montgomery) { fr_mul(out, canonical, montgomery); }

void poseidon_merkle_tag(int arity, fr *tag) {
    fr value = {{0, 0, 0, 0}};
    if (arity < 64)
        value.l[0] = (1ULL << arity) - 1;
    else
        value.l[0] = ~0ULL; /* arity 64 only: 2^64 − 1; wider arities are not instances */
    fr_to_montgomery(tag, &value);
}

/* a^(p−2) by square and multiply over the bits of p − 2. */
void fr_inverse(fr *out, const fr *a) {
    static const uint64_t exponent[4] = {FR_P0 - 2, FR_P1, FR_P2, FR_P3};
    fr result = FR_ONE_MONT;
    for (int bit = 255; bit >= 0; bit--) {
        fr_mul(&result, &result, &result);
        if ((exponent[bit / 64] >> (bit % 64)) & 1) fr_mul(&result, &result, a);
    }
    *out = result;
}
