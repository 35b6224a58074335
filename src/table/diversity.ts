/**
 * Address groups for the routing table's diversity filter: the IPv4 /16 or IPv6 /32 networks of
 * addresses. One operator rarely holds many of these, so a cap on peers per group keeps a single
 * operator from filling a table. The addresses grouped are the remote addresses of the
 * connections a peer came on, as go-libp2p-kad-dht groups them: what a peer announces costs it
 * nothing to make up.
 */
import type { Multiaddr } from '@multiformats/multiaddr'

/** The first 32 bits (two groups) of an IPv6 address, as a normalised string. */
function ip6Prefix (address: string): string | undefined {
  const [head] = address.split('%')
  const halves = head.split('::')
  if (halves.length > 2) {
    return undefined
  }
  const left = halves[0] === '' ? [] : halves[0].split(':')
  const right = halves.length === 2 && halves[1] !== '' ? halves[1].split(':') : []
  const groups = halves.length === 2
    ? [...left, ...new Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left
  if (groups.length < 2) {
    return undefined
  }
  return groups.slice(0, 2).map(g => parseInt(g, 16).toString(16)).join(':')
}

/** The group of one address: `ip4/a.b` or `ip6/x:y`; undefined for non-IP addresses. */
export function addressGroup (ma: Multiaddr): string | undefined {
  const first = ma.getComponents()[0]
  if (first?.value == null) {
    return undefined
  }
  if (first.name === 'ip4') {
    return `ip4/${first.value.split('.').slice(0, 2).join('.')}`
  }
  if (first.name === 'ip6') {
    const prefix = ip6Prefix(first.value)
    return prefix == null ? undefined : `ip6/${prefix}`
  }
  return undefined
}

/** The distinct groups of some addresses. */
export function addressGroups (addresses: Multiaddr[]): string[] {
  const out = new Set<string>()
  for (const ma of addresses) {
    const group = addressGroup(ma)
    if (group != null) {
      out.add(group)
    }
  }
  return [...out]
}
