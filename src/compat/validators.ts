/**
 * `@libp2p/kad-dht`'s validator and selector maps over kadmium's record validation: the maps are
 * plain objects that anyone may assign to (as `@helia/ipns` does), and kadmium reads them at
 * each use.
 */
import { UnknownNamespaceError } from '../errors.ts'
import { ipnsRecordValidator, pkValidator } from '../values/validators.ts'
import type { Selectors, Validators } from './types.ts'
import type { Validator } from '../values/validators.ts'

/** kadmium's default namespaces, `pk` and `ipns`, as validator functions. */
export function defaultValidators (): Validators {
  return {
    pk: async (key, value) => { await pkValidator.validate(key, value) },
    ipns: async (key, value) => { await ipnsRecordValidator.validate(key, value) }
  }
}

/** kadmium's default namespaces, `pk` and `ipns`, as selector functions. */
export function defaultSelectors (): Selectors {
  return {
    pk: async (key, records) => pkValidator.select(key, records),
    ipns: async (key, records) => ipnsRecordValidator.select(key, records)
  }
}

/**
 * kadmium validators read from the two maps at each use: a namespace is accepted while
 * `validators` has it, and several of its records are compared by its entry in `selectors`.
 */
export function kadmiumValidators (validators: Validators, selectors: Selectors): Record<string, Validator> {
  const validatorOf = (namespace: string): Validator => ({
    validate: async (key, value) => { await validators[namespace](key, value) },
    select: async (key, values) => {
      if (!Object.hasOwn(selectors, namespace)) {
        throw new UnknownNamespaceError(`no selector for the namespace /${namespace}/`)
      }
      return selectors[namespace](key, values)
    }
  })
  // kadmium asks whether a namespace is there with Object.hasOwn, which the proxy passes on to
  // `validators`; reading one gives its kadmium validator
  return new Proxy(validators as unknown as Record<string, Validator>, {
    get: (_, namespace) => typeof namespace === 'string' && Object.hasOwn(validators, namespace) ? validatorOf(namespace) : undefined
  })
}
