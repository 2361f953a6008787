/*
 * eam_frozen.h — attention rows with frozen entries (EAM).
 *
 * A frozen entry keeps a constant value calibrated at compile time; the free entries of the row
 * share the probability mass the frozen ones leave: p_j = free_mass · softmax over free j.
 */
#ifndef EAM_FROZEN_H
#define EAM_FROZEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* In place, for each of `rows` rows of length cols (leading dimension ld): entries with
 * frozen[j] != 0 (row-major mask, leading dimension ld) become values[j]; the others become
 * free_mass[r] · exp(x_j − max) / Σ exp(x_k − max), max and sum over the free entries only.
 * A row without free entries becomes its frozen values. */
void eam_softmax_rows_frozen(float *x, int ld, int rows, int cols, const uint8_t *frozen,
                             const float *values, const float *free_mass);

#ifdef __cplusplus
}
#endif
#endif
