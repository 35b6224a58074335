/**
 * The network's contract: what kadmium must agree on with the other implementations of the
 * Amino DHT (go-libp2p-kad-dht keeps the same values in its `amino/defaults.go`), each with where
 * it comes from. Exported as `constants`. kadmium's own choices (timeouts, bounds, the upkeep's
 * pace) are in defaults.ts, internal: they are settings, not API.
 */

/** The protocol of the public Amino DHT. */
export const PROTOCOL = '/ipfs/kad/1.0.0'

/**
 * Peers per k-bucket, and peers returned by a FIND_NODE or a closest-peers query (k): 20 in the
 * Kademlia paper, the IPFS spec and every Amino implementation; records are stored on the k
 * closest peers, so a lookup must find the same k the others store on.
 */
export const K_BUCKET_SIZE = 20

/** Requests a lookup keeps in flight at once (α): 10 in go-libp2p-kad-dht and the IPFS spec. */
export const ALPHA = 10

/**
 * How many of the closest peers must have answered before a lookup for providers ends (β, go's
 * "resiliency"): 3 in go-libp2p-kad-dht and the IPFS spec. kadmium's default is k instead (the
 * `beta` option; this is go's value, for a caller who wants go's rule): peers that joined near a
 * key since its last provide hold no record of it, and when the β closest are such peers a lookup
 * that stops there finds none (the 50-hour soak, one server in 20 replaced an hour: 93 % of the
 * CIDs found at hour 9).
 */
export const BETA = 3

/**
 * The largest message read or written: 4 MiB, as go-libp2p-kad-dht. A smaller limit breaks
 * interop (rust-libp2p's 16 KiB default could not read answers with many addresses).
 */
export const MAX_MESSAGE_SIZE = 4 * 1024 * 1024

/**
 * The longest record key accepted, in bytes: an IPNS key is 6 + 38 bytes and a `/pk/` key as
 * long; 256 leaves room for other namespaces while a flood of long keys stays cheap to refuse.
 */
export const MAX_RECORD_KEY_BYTES = 256

/** The largest record value accepted, in bytes: the IPNS spec asks for 10 KiB; 16 KiB leaves room for other namespaces. */
export const MAX_RECORD_VALUE_BYTES = 16 * 1024

/**
 * The longest key accepted for provider records, in bytes: a CID's multihash is 34 bytes for
 * SHA-256, 66 for SHA-512; an ADD_PROVIDER with a longer key is refused.
 */
export const MAX_PROVIDER_KEY_BYTES = 80

/**
 * A stored record is served for this long after it was received (48 h), then deleted: as long
 * as a provider record lives, and the owners of records (IPNS publishers) republish within it.
 */
export const RECORD_MAX_AGE = 48 * 60 * 60_000

/** How long a provider record is kept after it was received, in ms (48 h: go's `DefaultProvideValidity`, the IPFS spec). */
export const PROVIDER_RECORD_TTL = 48 * 60 * 60_000

/**
 * How long the addresses that came with a provider record are shared with it, in ms (24 h: go's
 * `DefaultProviderAddrTTL`); after that a provider is listed without addresses, and the asker
 * looks it up.
 */
export const PROVIDER_ADDRESS_TTL = 24 * 60 * 60_000

/** How often our own provider records are republished, in ms (22 h, as go and Kubo: well inside their 48 h life). */
export const REPROVIDE_INTERVAL = 22 * 60 * 60_000

/** How often each bucket with no lookup in that time is refreshed (10 min, as the IPFS spec and go). */
export const REFRESH_INTERVAL = 10 * 60_000

/**
 * How often a client looks up its own id so that it stays connected to its k closest servers:
 * they are the ones a lookup for its id reaches, and they can point at it only while connected
 * to it (the IPFS DHT spec: clients SHOULD keep such connections and re-check them every 10
 * minutes). Skipped when a refresh looked up our own id within the interval.
 */
export const CLOSEST_CHECK_INTERVAL = 10 * 60_000

/**
 * Peers of one IPv4 /16 (IPv6 /32) per bucket, when the diversity filter is on: 2, go's
 * `DefaultMaxPeersPerIPGroupPerCpl` and the IPFS spec.
 */
export const MAX_PEERS_PER_GROUP_PER_BUCKET = 2

/**
 * Peers of one IPv4 /16 (IPv6 /32) in the whole table, when the diversity filter is on: 10,
 * where go's `DefaultMaxPeersPerIPGroup` is 3. The per-bucket limit already keeps one group to 2
 * of the k peers a lookup starts from in any part of the keyspace; the table-wide limit only
 * bounds one group's share of the whole table (a table of 200 to 300 peers: 10 is 3 to 5 %).
 * Hosting providers put many honest DHT servers in one /16, and kadmium's table always keeps
 * its own k closest peers (overflow peers), which a limit of 3 would shut out when three of
 * them share a /16. 10 was chosen when the filter was added; no measurement compares it with 3
 * (the simulator has no address groups).
 */
export const MAX_PEERS_PER_GROUP_IN_TABLE = 10
