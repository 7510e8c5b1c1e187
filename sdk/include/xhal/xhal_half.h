/**
 * @file
 * xhal_half.h - IEEE 754 binary16 <-> binary32 conversion for plugins,
 * references and tests (XHAL_DTYPE_F16 is stored as uint16_t).
 *
 * Header-only and exact: f32 -> f16 rounds to nearest, ties to even,
 * handles subnormals, infinities and NaN (quiet NaN is kept quiet).
 */
#ifndef XHAL_HALF_H_
#define XHAL_HALF_H_

#include <stdint.h>
#include <string.h>

/** The binary32 value of the binary16 `h` (exact). Pure: thread-safe,
 * owns nothing, cannot fail. */
static inline float xhal_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  float out;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        exp--;
      }
      mant &= 0x3FFu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1Fu) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  memcpy(&out, &bits, sizeof(out));
  return out;
}

static inline uint16_t xhal_float_to_half(float f) {
  uint32_t bits;
  uint32_t sign;
  uint32_t exp;
  uint32_t mant;
  memcpy(&bits, &f, sizeof(bits));
  sign = (bits >> 16) & 0x8000u;
  exp = (bits >> 23) & 0xFFu;
  mant = bits & 0x7FFFFFu;
  if (exp == 0xFFu) { /* inf or NaN */
    return (uint16_t)(sign | 0x7C00u | (mant ? (0x200u | (mant >> 13)) : 0));
  }
  int32_t e = (int32_t)exp - 127 + 15;
  if (e >= 0x1F) return (uint16_t)(sign | 0x7C00u); /**< overflow -> inf */
  if (e <= 0) {                                     /* subnormal or zero */
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    uint32_t shift = (uint32_t)(14 - e);
    uint32_t half_mant = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (half_mant & 1u))) half_mant++;
    return (uint16_t)(sign | half_mant);
  }
  uint32_t out = sign | ((uint32_t)e << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1FFFu;
  /** Round to nearest even; a carry into the exponent is correct (it may
   * produce inf, which is the right rounding of values near 65520). */
  if (rem > 0x1000u || (rem == 0x1000u && (out & 1u))) out++;
  return (uint16_t)out;
}

#endif /* XHAL_HALF_H_ */
