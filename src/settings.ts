/**
 * The options of {@link kadDHT}, checked and filled with their defaults.
 */
import * as C from './constants.ts'
import { InvalidParametersError } from './errors.ts'
import type { KadDHTInit } from './index.ts'
import type { StallOptions } from './kademlia/stall.ts'
import type { Mode } from './mode.ts'
import type { AddressScope } from './network/addresses.ts'

/** Every option resolved; 0 turns a periodic task off. */
export interface Settings {
  protocol: string
  mode: Mode
  addresses: AddressScope
  kBucketSize: number
  alpha: number
  beta: number
  queryTimeout: number
  requestTimeout: number
  /** When a lookup request stalls, or false when stall detection is off. */
  stall: StallOptions | false
  refreshInterval: number
  refreshQueryTimeout: number
  randomWalkInterval: number
  /** The per-peer inbound request limit, or undefined when it is off. */
  rateLimit?: { perSecond: number, burst: number, maxDelay: number }
  /** The diversity limits, or undefined when the filter is off. */
  diversity?: { maxPerBucket: number, maxPerTable: number }
}

/** Throws {@link InvalidParametersError} unless `mode` is one of the three. */
export function checkMode (mode: Mode): Mode {
  if (mode !== 'server' && mode !== 'client' && mode !== 'auto') {
    throw new InvalidParametersError(`mode must be 'auto', 'server' or 'client', got ${String(mode)}`)
  }
  return mode
}

/** A finite number above 0 (or at least 0 with `orZero`). */
function finite (name: string, value: number | undefined, fallback: number, orZero = false): number {
  const out = value ?? fallback
  if (typeof out !== 'number' || !Number.isFinite(out) || out < 0 || (out === 0 && !orZero)) {
    throw new InvalidParametersError(`${name} must be a number ${orZero ? 'of at least 0' : 'above 0'}, got ${value}`)
  }
  return out
}

function positive (name: string, value: number | undefined, fallback: number): number {
  const out = value ?? fallback
  if (!Number.isInteger(out) || out < 1) {
    throw new InvalidParametersError(`${name} must be a positive integer, got ${value}`)
  }
  return out
}

/** Checks every option and fills in the defaults. */
export function resolveSettings (init: KadDHTInit): Settings {
  const protocol = init.protocol ?? C.PROTOCOL
  const addresses = init.addresses ?? (protocol === C.PROTOCOL ? 'public' : 'all')
  if (addresses !== 'public' && addresses !== 'all') {
    throw new InvalidParametersError(`addresses must be 'public' or 'all', got ${String(addresses)}`)
  }
  const queryTimeout = positive('queryTimeout', init.queryTimeout, C.QUERY_TIMEOUT)
  const diversity = init.diversity ?? addresses === 'public'
  const limits = typeof diversity === 'object' ? diversity : {}
  return {
    protocol,
    mode: checkMode(init.mode ?? 'auto'),
    addresses,
    kBucketSize: positive('kBucketSize', init.kBucketSize, C.K_BUCKET_SIZE),
    alpha: positive('alpha', init.alpha, C.ALPHA),
    beta: positive('beta', init.beta, C.BETA),
    queryTimeout,
    requestTimeout: Math.min(C.REQUEST_TIMEOUT, queryTimeout),
    stall: resolveStall(init.stall),
    refreshInterval: init.refresh?.enabled === false ? 0 : positive('refresh.interval', init.refresh?.interval, C.REFRESH_INTERVAL),
    refreshQueryTimeout: positive('refresh.queryTimeout', init.refresh?.queryTimeout, C.REFRESH_QUERY_TIMEOUT),
    randomWalkInterval: init.randomWalk?.enabled === true ? positive('randomWalk.interval', init.randomWalk.interval, C.RANDOM_WALK_INTERVAL) : 0,
    rateLimit: init.rateLimit === false
      ? undefined
      : {
          perSecond: positive('rateLimit.perSecond', init.rateLimit?.perSecond, C.RATE_LIMIT_PER_SECOND),
          burst: positive('rateLimit.burst', init.rateLimit?.burst, C.RATE_LIMIT_BURST),
          maxDelay: positive('rateLimit.maxDelay', init.rateLimit?.maxDelay, C.RATE_LIMIT_MAX_DELAY)
        },
    diversity: diversity === false
      ? undefined
      : {
          maxPerBucket: positive('diversity.maxPerBucket', limits.maxPerBucket, C.MAX_PEERS_PER_GROUP_PER_BUCKET),
          maxPerTable: positive('diversity.maxPerTable', limits.maxPerTable, C.MAX_PEERS_PER_GROUP_IN_TABLE)
        }
  }
}

function resolveStall (stall: KadDHTInit['stall']): StallOptions | false {
  if (stall === false) {
    return false
  }
  const given = typeof stall === 'object' ? stall : {}
  return {
    initial: finite('stall.initial', given.initial, C.STALL_INITIAL_TIMEOUT),
    factor: finite('stall.factor', given.factor, C.STALL_RTT_FACTOR),
    min: finite('stall.min', given.min, C.STALL_MIN_TIMEOUT, true)
  }
}
