/**
 * Bootstrap profiles: a name the daemon's `--bootstrap` (or `bootstrap` in `config.json`) takes
 * in place of multiaddrs. They are dialled only when named: the daemon has no bootstrap peers
 * unless told.
 */

/**
 * The public Amino DHT's bootstrap peers, as IPFS implementations list them: `/dnsaddr`
 * multiaddrs, which libp2p resolves (DNS TXT records of `_dnsaddr.<domain>`) when it dials, and
 * one peer by IP address.
 */
export const AMINO_BOOTSTRAP = [
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/dnsaddr/va1.bootstrap.libp2p.io/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
]

/** The profiles by name. */
export const BOOTSTRAP_PROFILES: Readonly<Record<string, readonly string[]>> = {
  amino: AMINO_BOOTSTRAP
}

/** Whether `entry` names a profile. */
export function isBootstrapProfile (entry: string): boolean {
  return Object.hasOwn(BOOTSTRAP_PROFILES, entry)
}

/** The bootstrap list with each profile name replaced by its multiaddrs, each entry once. */
export function expandBootstrap (entries: string[]): string[] {
  return [...new Set(entries.flatMap(entry => isBootstrapProfile(entry) ? BOOTSTRAP_PROFILES[entry] : [entry]))]
}
