/**
 * Checks of numeric options, throwing {@link InvalidParametersError} with the option's name.
 */
import { InvalidParametersError } from '../errors.ts'

/** `value` if it is a whole number of at least 1. */
export function positiveInteger (name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidParametersError(`${name} must be a positive integer, got ${value}`)
  }
  return value
}

/** `value` if it is a finite number above 0 (or of at least 0, with `orZero`). */
export function finiteNumber (name: string, value: number, orZero = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !orZero)) {
    throw new InvalidParametersError(`${name} must be a number ${orZero ? 'of at least 0' : 'above 0'}, got ${value}`)
  }
  return value
}
