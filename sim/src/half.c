/*
 * half.c - IEEE binary16 conversions for the model's f16 datapaths.
 * Conversion to f16 rounds to nearest, ties to even, and keeps
 * subnormals, infinities and NaNs; the model has its own copy because it
 * depends on nothing outside sim/.
 */
#include <string.h>

#include "npusim_internal.h"

float npusim_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  float out;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      /* Subnormal: shift the mantissa up until its leading 1 is implicit. */
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        exp--;
      }
      bits = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
    }
  } else if (exp == 0x1Fu) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  memcpy(&out, &bits, sizeof(out));
  return out;
}

uint16_t npusim_float_to_half(float f) {
  uint32_t bits, sign, exp, mant, out, rem;
  int32_t e;
  memcpy(&bits, &f, sizeof(bits));
  sign = (bits >> 16) & 0x8000u;
  exp = (bits >> 23) & 0xFFu;
  mant = bits & 0x7FFFFFu;
  if (exp == 0xFFu) {
    return (uint16_t)(sign | 0x7C00u | (mant ? (0x200u | (mant >> 13)) : 0));
  }
  e = (int32_t)exp - 127 + 15;
  if (e >= 0x1F) return (uint16_t)(sign | 0x7C00u);
  if (e <= 0) {
    uint32_t shift, half_mant, halfway;
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    shift = (uint32_t)(14 - e);
    half_mant = mant >> shift;
    rem = mant & ((1u << shift) - 1u);
    halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (half_mant & 1u))) half_mant++;
    return (uint16_t)(sign | half_mant);
  }
  out = sign | ((uint32_t)e << 10) | (mant >> 13);
  rem = mant & 0x1FFFu;
  /* A carry out of the mantissa correctly bumps the exponent (up to inf). */
  if (rem > 0x1000u || (rem == 0x1000u && (out & 1u))) out++;
  return (uint16_t)out;
}
