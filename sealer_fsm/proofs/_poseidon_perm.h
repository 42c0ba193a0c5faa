/* The Poseidon hash in the spec's optimised ("static") form, instantiated once per field multiplication.
 *
 * Included by _poseidon.c with PERM_MUL, PERM_MAC and PERM_REDC (one family of _fr.h: a multiplication,
 * a multiply-accumulate into a wide sum and its reduction) and PERM_HASH (the function's name) defined. Rounds, as poseidon_spec.md writes them: add RC'_pre; R_f−1 full rounds (S-boxes, add RC'_r,
 * mix with M); one full round mixing with the pre-sparse matrix; R_P partial rounds (S-box on element 0,
 * add one constant, mix with that round's sparse matrix in 2t−1 multiplications); R_f−1 full rounds; a
 * last full round without constants. The digest is state[1].
 */

#define PERM_CAT(a, b) a##b
#define PERM_JOIN(a, b) PERM_CAT(a, b)
#define PERM_SBOX PERM_JOIN(PERM_HASH, _sbox)
#define PERM_MIX PERM_JOIN(PERM_HASH, _mix)

static inline void PERM_SBOX(fr *x) {
    fr square, fourth;
    PERM_MUL(&square, x, x);
    PERM_MUL(&fourth, &square, &square);
    PERM_MUL(x, &fourth, x);
}

/* state ← state × matrix (row vector times a width × width matrix), one reduction per column. */
static inline void PERM_MIX(fr *state, const fr *matrix, int width) {
    fr mixed[POSEIDON_MAX_WIDTH];
    for (int column = 0; column < width; column++) {
        fr_wide sum = {{0}};
        for (int row = 0; row < width; row++) PERM_MAC(&sum, &state[row], &matrix[row * width + column]);
        PERM_REDC(&mixed[column], &sum);
    }
    memcpy(state, mixed, sizeof(fr) * (size_t)width);
}

void PERM_HASH(const poseidon_instance *instance, const fr *tag, const fr *inputs, int count, fr *out) {
    const int width = instance->width, half = POSEIDON_FULL_ROUNDS / 2;
    const fr *constant = instance->rc;
    fr state[POSEIDON_MAX_WIDTH], product;

    state[0] = *tag;
    for (int i = 1; i < width; i++) {
        if (i <= count)
            PERM_MUL(&state[i], &inputs[i - 1], &FR_R2);
        else
            memset(&state[i], 0, sizeof(fr));
    }
    for (int i = 0; i < width; i++) fr_add(&state[i], &state[i], constant++);

    for (int round = 0; round < half; round++) {
        for (int i = 0; i < width; i++) {
            PERM_SBOX(&state[i]);
            fr_add(&state[i], &state[i], constant++);
        }
        PERM_MIX(state, round == half - 1 ? instance->pre : instance->mds, width);
    }

    const fr *sparse = instance->sparse;
    for (int round = 0; round < instance->partial_rounds; round++, sparse += 2 * width - 1) {
        PERM_SBOX(&state[0]);
        fr_add(&state[0], &state[0], constant++);
        const fr first = state[0];
        const fr *first_row = sparse, *first_column = sparse + width;
        fr_wide sum = {{0}};
        PERM_MAC(&sum, &first, &first_row[0]);
        for (int i = 1; i < width; i++) {
            PERM_MAC(&sum, &state[i], &first_column[i - 1]);
            PERM_MUL(&product, &first, &first_row[i]);
            fr_add(&state[i], &state[i], &product);
        }
        PERM_REDC(&state[0], &sum);
    }

    for (int round = 0; round < half; round++) {
        const int last = round == half - 1;
        for (int i = 0; i < width; i++) {
            PERM_SBOX(&state[i]);
            if (!last) fr_add(&state[i], &state[i], constant++);
        }
        PERM_MIX(state, instance->mds, width);
    }
    PERM_MUL(out, &state[1], &FR_CANONICAL_ONE);
}

#undef PERM_SBOX
#undef PERM_MIX
