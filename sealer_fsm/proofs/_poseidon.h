/* Poseidon over BLS12-381 Fr as neptune computes it (Strength::Standard), in the spec's optimised form.
 *
 * The tables come from `_poseidon_constants.h`, generated at build time by `_poseidon_params.py`. A hash
 * takes canonical field elements and returns a canonical one; the permutation works in Montgomery form.
 * `poseidon_hash` points at the fastest multiplication this CPU runs (mulx/adx or portable C).
 */
#ifndef SEALER_FSM_POSEIDON_H
#define SEALER_FSM_POSEIDON_H

#include "_fr.h"

#define POSEIDON_MAX_WIDTH 37 /* arity 36 */
#define POSEIDON_FULL_ROUNDS 8

typedef struct {
    int arity, width, partial_rounds;
    const fr *plain_rc; /* (8 + R_P)·width Grain constants, canonical: exposed for checks only */
    const fr *rc;       /* compressed constants RC' (8·width + R_P) */
    const fr *mds;      /* width × width, row-major; state ← state × M */
    const fr *pre;      /* the pre-sparse matrix of the last first-half full round */
    const fr *sparse;   /* per partial round: first row (width) then the rest of the first column (width−1) */
} poseidon_instance;

/* tag: the first state element in Montgomery form; inputs: `arity` canonical elements (fewer are padded
 * with zeros, for ConstantLength); out: the canonical digest. */
typedef void (*poseidon_hash_fn)(const poseidon_instance *instance, const fr *tag, const fr *inputs, int count,
                                 fr *out);

void poseidon_hash_portable(const poseidon_instance *, const fr *, const fr *, int, fr *);
#ifdef FR_HAVE_ADX
void poseidon_hash_adx(const poseidon_instance *, const fr *, const fr *, int, fr *);
#endif

extern poseidon_hash_fn poseidon_hash;

/* Four independent hashes: inputs lane-major (inputs[lane·count + k]), four digests out. The tree builder hashes
 * in fours through this: AVX2 lanes where the CPU has them (_poseidon_avx2.c), else four scalar hashes. */
extern poseidon_hash_fn poseidon_hash4;
void poseidon_hash4_scalar(const poseidon_instance *, const fr *, const fr *, int, fr *);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define POSEIDON_HAVE_AVX2 1
/* Computes the AVX2 code's constants; 0 when the CPU (or the OS) cannot run AVX2. */
int poseidon_avx2_prepare(void);
void poseidon_hash4_avx2(const poseidon_instance *, const fr *, const fr *, int, fr *);
#endif

/* The instance of this arity, or NULL when there is none. */
const poseidon_instance *poseidon_find(int arity);
/* The MerkleTree domain tag 2^arity − 1, in Montgomery form. */
void poseidon_merkle_tag(int arity, fr *tag);
/* A canonical value to Montgomery form, with the selected multiplication. */
void fr_to_montgomery(fr *out, const fr *canonical);
/* a·b where exactly one of them is in Montgomery form: the result is canonical. */
void fr_mul_mixed(fr *out, const fr *canonical, const fr *montgomery);
/* a^-1 of a Montgomery-form value, in Montgomery form (a ≠ 0). */
void fr_inverse(fr *out, const fr *a);

/* The backends, fastest first: "avx2" (four hashes per call in AVX2 lanes, single ones with mulx/adx),
 * "mulx-adx" and "portable" (scalar only). */
typedef enum { POSEIDON_AVX2 = 0, POSEIDON_ADX = 1, POSEIDON_PORTABLE = 2 } poseidon_backend;
int poseidon_backend_available(poseidon_backend backend);
/* Select one (it must be available); returns 0 on success. */
int poseidon_select(poseidon_backend backend);
poseidon_backend poseidon_current(void);

#endif
