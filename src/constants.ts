/**
 * Every default and bound of kadmium, named and documented in one place.
 */

/** The protocol of the public Amino DHT. */
export const PROTOCOL = '/ipfs/kad/1.0.0'

/** The prefix of kadmium's metric names unless `metricsPrefix` says otherwise. */
export const METRICS_PREFIX = 'libp2p_kadmium'

/** Peers per k-bucket, and peers returned by a FIND_NODE or a closest-peers query (k). */
export const K_BUCKET_SIZE = 20

/** Requests a lookup keeps in flight at once (α; 10 in go-libp2p-kad-dht and the IPFS spec). */
export const ALPHA = 10

/** How many of the closest peers must have answered before a lookup ends (β). */
export const BETA = 3

/** The largest message read or written: 4 MiB, as go-libp2p-kad-dht. */
export const MAX_MESSAGE_SIZE = 4 * 1024 * 1024

/**
 * Entries of one peer list of a message (closer peers, providers) that are read at all; the
 * rest of a longer list is passed over unread. An honest answer lists k closer peers and at most
 * a few dozen providers; go-libp2p-kad-dht reads at most 2,000 of a list too.
 */
export const MAX_LISTED_PEERS = 2_000

/**
 * Addresses of one peer entry of a message that are read; the rest are passed over unread. A
 * well-connected peer announces a dozen or two (IPv4 and IPv6, several transports, relays).
 */
export const MAX_PEER_ADDRESSES = 64

/** How long a whole query (a lookup and what follows it) may take, in ms. */
export const QUERY_TIMEOUT = 30_000

/** How long one peer may take to answer one request of a lookup, in ms. */
export const REQUEST_TIMEOUT = 10_000

/**
 * A lookup request with no answer after this many ms, before any peer of the lookup answered,
 * is *stalled*: the lookup stops waiting for it and asks another peer, but still takes its answer
 * if it comes before {@link REQUEST_TIMEOUT}. Nothing is known of the network yet, so it is
 * generous: a first request often needs a fresh connection (TCP, noise, yamux and two protocol
 * negotiations, 4–5 round trips of up to 300 ms across continents) before its own round trip.
 */
export const STALL_INITIAL_TIMEOUT = 2_000

/**
 * Once peers answered, a request is stalled after this many times the median time the lookup's
 * answers took. Answer times spread widely (some need a dial, some do not), but a peer three
 * times slower than the median is in the slowest few percent (3 % of the simulator's log-normal
 * RTTs, σ 0.6), and still far quicker than the 10 s a silent peer costs.
 */
export const STALL_RTT_FACTOR = 3

/**
 * The adaptive stall deadline never goes below this many ms. A fresh connection (TCP, noise,
 * yamux, two protocol negotiations: 4–5 round trips) to a peer 200 ms away takes about 1 s before
 * the request's own round trip; when the first answers come over open connections in a few ms (a
 * LAN, a warm table), a lower deadline would stall every peer that must be dialled. In the
 * simulator (log-normal RTTs, median 80 ms) a 500 ms floor stalled a live peer among the true 20
 * in 1 of 100 healthy lookups, which then ended without it; at 1 s none was.
 */
export const STALL_MIN_TIMEOUT = 1_000

/** Once a message's length prefix has arrived, its body must arrive within this many ms. */
export const MESSAGE_READ_TIMEOUT = 10_000

/** An inbound stream with no new request for this many ms is reset (1 minute, as go closes it). */
export const STREAM_IDLE_TIMEOUT = 60_000

/** Inbound DHT streams one connection may have open at once. */
export const MAX_INBOUND_STREAMS = 32

/**
 * Inbound requests per second one peer may send, sustained. A lookup asks a peer once; a busy
 * honest client (a crawler walking every bucket, a reprovider) stays well under it.
 */
export const RATE_LIMIT_PER_SECOND = 50

/**
 * Inbound requests one peer may send at once after a quiet spell: room for a batch of provider
 * records for one keyspace region, as a sweeping reprovider sends them.
 */
export const RATE_LIMIT_BURST = 200

/**
 * The longest an inbound request over the rate is held back by default, in ms. Past it the
 * peer's stream is reset: at the default rate, 250 requests queued beyond the burst.
 */
export const RATE_LIMIT_MAX_DELAY = 5_000

/**
 * An inbound request is charged to the rate limit as one request per this many bytes (16 KiB,
 * the largest record value), at least one: a 4 MiB message costs 257 requests, more than the
 * burst, so a peer can send one now and then but not a stream of them.
 */
export const RATE_LIMIT_BYTES_PER_REQUEST = 16 * 1024

/** Peers the rate limiter tracks at once (about 100 bytes each); the least recently active go first. */
export const RATE_LIMIT_MAX_PEERS = 10_000

/** Outbound DHT streams one connection may have open at once. */
export const MAX_OUTBOUND_STREAMS = 64

/** How long a liveness check of a routing-table peer may take, in ms. */
export const PING_TIMEOUT = 5_000

/**
 * A routing-table peer seen within this many ms is taken to be alive: a newcomer to its full
 * bucket is turned away without checking it.
 */
export const PEER_FRESHNESS = 5 * 60_000

/**
 * Requests a routing-table peer may fail in a row before it leaves the table: one timeout on a
 * busy network is not a dead peer. A refresh check that fails removes it at once.
 */
export const MAX_PEER_FAILURES = 2

// values

/** A stored record is served for this long after it was received (48 h), then deleted. */
export const RECORD_MAX_AGE = 48 * 60 * 60_000

/**
 * A stored record that passed its validator is served without validating it again for this long
 * (1 h), so that answering GET_VALUE does not verify a signature each time; after that, and
 * after a restart, the next request validates it again (an IPNS record can expire while stored).
 */
export const RECORD_REVALIDATE_INTERVAL = 60 * 60_000

/** How often expired records are swept from the datastore (1 h). */
export const RECORDS_SWEEP_INTERVAL = 60 * 60_000

/** The longest record key accepted, in bytes (an IPNS key is 6 + 38 bytes). */
export const MAX_RECORD_KEY_BYTES = 256

/** The largest record value accepted, in bytes (IPNS allows 10 KiB). */
export const MAX_RECORD_VALUE_BYTES = 16 * 1024

/** The most records a node stores; a record under a new key is refused past it. */
export const MAX_RECORDS = 100_000

/** Where records live in the datastore. */
export const RECORDS_PREFIX = '/kadmium/records'

// providers

/** How long a provider record is kept after it was received, in ms (48 h, as the IPFS spec). */
export const PROVIDER_RECORD_TTL = 48 * 60 * 60_000

/** How long the addresses that came with a provider record are kept in the peer store, in ms (24 h). */
export const PROVIDER_ADDRESS_TTL = 24 * 60 * 60_000

/** How often our own provider records are republished, in ms (22 h: well inside their 48 h life). */
export const REPROVIDE_INTERVAL = 22 * 60 * 60_000

/** How often expired provider records are deleted from the datastore, in ms (1 h). */
export const PROVIDERS_SWEEP_INTERVAL = 60 * 60_000

/**
 * Providers kept per key (2 × k). Clients stop at about 20 providers, and a record outlives its
 * provider by up to 48 h, so twice that leaves room for the stale; 40 providers with their
 * addresses make an answer of tens of KiB, far below the 4 MiB frame, and ~2 KiB on disk.
 */
export const MAX_PROVIDERS_PER_KEY = 2 * K_BUCKET_SIZE

/**
 * Keys with provider records one node holds. The store keeps only counts in memory, so this
 * bounds the datastore: about 120 bytes per key with one provider, 2 KiB per full key.
 */
export const MAX_PROVIDER_KEYS = 1_000_000

/** Keys whose decoded provider lists are kept in memory in front of the datastore. */
export const PROVIDER_CACHE_SIZE = 256

/** The longest key accepted for provider records, in bytes (an ADD_PROVIDER with a longer one is refused). */
export const MAX_PROVIDER_KEY_BYTES = 80

/** The datastore key prefix under which provider records are stored. */
export const PROVIDERS_DATASTORE_PREFIX = '/kadmium/providers'

/**
 * When the key bound is reached and some key may have expired, a sweep runs to free it before a
 * new key is refused, at most once per this many ms (a sweep reads every record).
 */
export const PROVIDERS_MIN_SWEEP_GAP = 5 * 60_000

/** Where the list of keys we provide lives in the datastore. */
export const PROVIDED_PREFIX = '/kadmium/provided'

/** Where the reprovide schedule (its cycle, the next region, the last cycle) lives in the datastore. */
export const REPROVIDE_STATE_KEY = '/kadmium/reprovide'

/**
 * The longest the reprovide schedule sleeps before it looks again whether a region is due, in
 * ms (1 min): also how soon it notices that the node is back online, or that the network size is
 * known (the first cycle waits for it to cut the keyspace into regions).
 */
export const REPROVIDE_RECHECK_DELAY = 60_000

/**
 * A region none of whose keys reached a peer is tried again after this many ms (5 min, as go's
 * provider retries): that is the network failing, more likely than every key.
 */
export const REPROVIDE_RETRY_DELAY = 5 * 60_000

/** How many times a region none of whose keys reached a peer is tried again before the schedule goes on. */
export const REPROVIDE_MAX_RETRIES = 3

// optimistic provide and the network size

/**
 * Lookups the network size estimate remembers (the newest): the k-th closest distances of 100
 * lookups give the size within 1/√(100 k) ≈ 2 %.
 */
export const NETWORK_SIZE_MAX_SAMPLES = 100

/** How long a lookup counts towards the network size estimate, in ms (2 h, as go's estimator). */
export const NETWORK_SIZE_MAX_AGE = 2 * 60 * 60_000

/**
 * Complete lookups the network size estimate must rest on before a provide is optimistic (5,
 * as go): with k = 20, the estimate is then within about 10 %.
 */
export const OPTIMISTIC_MIN_SAMPLES = 5

/**
 * How sure an optimistic provide must be that a peer is among the k closest of the key to send it
 * the record during the lookup (0.9, as go).
 */
export const OPTIMISTIC_CERTAINTY = 0.9

/**
 * How rarely the true k closest peers of a key may be farther on average than the k closest an
 * optimistic provide has heard of when it stops its lookup (0.1, as go).
 */
export const OPTIMISTIC_STRICTNESS = 0.1

/**
 * How many of the closest peers an optimistic provide has heard of must have answered before its
 * lookup may stop (go's rule waits for none). The peers nearest a key know its neighbourhood
 * best, but one peer's table may lack a few of them (a peer that does not keep its own k
 * closest, as `@libp2p/kad-dht`'s table does not): three answers make up for it.
 */
export const OPTIMISTIC_CLOSEST_ANSWERED = 3

/**
 * The share of an optimistic provide's records that must have been sent (or failed) before the
 * call returns (0.75: 15 of 20, as go); the rest are sent in the background.
 */
export const OPTIMISTIC_RETURN_RATIO = 0.75

/** The most addresses shared per provider in a GET_PROVIDERS answer. */
export const MAX_PROVIDER_ADDRESSES = 16

/**
 * The most lookups a batch provide spends to see one region of the keyspace whole (a region
 * holds about 1.5k peers, and a 2,000-peer network needed 2–3 lookups a region in the unit
 * tests). Past it only the key the exploration started from is settled, by its own lookup: a
 * crowd of peers sharing one prefix bounds what it costs.
 */
export const MAX_REGION_LOOKUPS = 8

/**
 * A batch provide explores a region only when it holds at least this many keys still to
 * provide: seeing a region whole takes 1–2 lookups beyond the first, which pay off from about
 * three keys (in the simulator, 100 keys over 2,000 nodes took 1.23 lookups a key exploring
 * every region, 0.86 with this bound).
 */
export const MIN_REGION_KEYS = 3

/** How many providers `findProviders` yields unless told otherwise. */
export const FIND_PROVIDERS_COUNT = 20

// routing-table upkeep

/** How often each bucket with no lookup in that time is refreshed (10 min, as the spec). */
export const REFRESH_INTERVAL = 10 * 60_000

/** How long one refresh lookup may take, in ms. */
export const REFRESH_QUERY_TIMEOUT = 30_000

/** Buckets deeper than this are not refreshed by a key of their own: the self lookup covers them. */
export const MAX_REFRESH_BUCKET = 15

/** How often the optional random walk looks up a random key, unless told otherwise (1 min). */
export const RANDOM_WALK_INTERVAL = 60_000

/**
 * How long after the table gets its first peer the join refresh begins with a lookup of our own
 * id, in ms: long enough for the identify exchanges of the bootstrap peers dialled together to
 * land (a round trip or two) so the lookup starts from all of them, short enough that our
 * neighbours hear of us at once (`@libp2p/kad-dht` runs its self-query 1 s after it starts).
 */
export const FIRST_REFRESH_DELAY = 250

/**
 * After the self-lookup of a join, each bucket it left short of k peers is looked up at a random
 * moment within this many ms (10 minutes, the refresh interval), unless it filled up meanwhile:
 * when a whole cluster restarts, or a test builds a network, the nodes' table filling spreads
 * out instead of landing together (a node joining the Amino DHT would otherwise send some 200
 * requests, and open as many connections, within seconds). Until then the node's lookups start
 * from fewer far peers, and every peer that answers one joins the table.
 */
export const JOIN_REFRESH_WINDOW = 10 * 60_000

// connections

/**
 * The connection-manager tag every routing-table peer carries, and its value: libp2p's pruner
 * closes the connections of peers with the lowest total tag value first, so a peer met only in a
 * lookup (no tag) goes before a table peer. go-libp2p-kad-dht tags its table peers `kbucket`
 * with 5 (and protects those of its two shallowest buckets); `@libp2p/kad-dht` tags them
 * `kad-peer` with 1.
 */
export const TABLE_TAG = 'kadmium-peer'
export const TABLE_TAG_VALUE = 5

/**
 * The tag our k closest table peers carry beside {@link TABLE_TAG}, and its value: high enough
 * that the pruner keeps them after any peer tagged only by other services' defaults
 * (`@libp2p/kad-dht` tags its 20 closest `kad-close` with 50, libp2p's bootstrap list 50).
 */
export const CLOSE_TAG = 'kadmium-close'
export const CLOSE_TAG_VALUE = 50

/**
 * How soon after the routing table changed the tags are brought in step, in ms: a join changes
 * the table many times a second, and each tag change is a peer-store write.
 */
export const TAG_UPDATE_DELAY = 100

/**
 * How often a client looks up its own id so that it stays connected to its k closest servers:
 * they are the ones a lookup for its id reaches, and they can point at it only while connected
 * to it (the IPFS DHT spec: clients SHOULD keep such connections and re-check them every 10
 * minutes). Skipped when a refresh looked up our own id within the interval.
 */
export const CLOSEST_CHECK_INTERVAL = 10 * 60_000

/**
 * An outbound DHT stream is kept for the next request to its peer until it has been idle this
 * many ms, then closed. Shorter than the 10 s after which `@libp2p/kad-dht` servers reset an idle
 * inbound stream (go's and kadmium's wait 1 minute), so a kept stream is rarely reset under a
 * request, and short because libp2p's pruner never closes a connection with an open DHT stream:
 * a connection opened for one lookup becomes prunable 5 s after its last request.
 */
export const OUTBOUND_IDLE_TIMEOUT = 5_000

/**
 * The most outbound streams kept for reuse at once, one per peer. A request whose stream would
 * be kept past it has its stream closed instead, as with no reuse.
 */
export const MAX_KEPT_STREAMS = 256

/** Peers of one IPv4 /16 (IPv6 /32) per bucket, when the diversity filter is on. */
export const MAX_PEERS_PER_GROUP_PER_BUCKET = 2

/** Peers of one IPv4 /16 (IPv6 /32) in the whole table, when the diversity filter is on. */
export const MAX_PEERS_PER_GROUP_IN_TABLE = 10

// the accelerated client and the crawler

/**
 * Visits a crawl runs at once: each is one connection to one peer, with at most one request open
 * on it. Far under libp2p's default limits (300 connections, 100 dials at once) and under a home
 * router's NAT table, where go's crawler, with 1,000 at once, has knocked routers over; at an
 * 80 ms round trip and 12 requests a visit, 32 at once still visit some 30 peers a second, the
 * Amino DHT's 16,000 reachable servers in about 10 minutes.
 */
export const CRAWL_CONCURRENCY = 32

/**
 * The rolling crawl's round, in ms (1 h, go's crawl interval): each server is visited again
 * once per round, the visits spread evenly over it.
 */
export const CRAWL_INTERVAL = 60 * 60_000

/**
 * Bucket depths a crawl visit asks at most (go's crawler always asks these 16). A visit stops
 * sooner when an answer names fewer than k peers or nothing new.
 */
export const CRAWL_MAX_DEPTH = 16

/**
 * The longest one crawl visit may take, in ms: a dial (go gives it 5 s) and a dozen requests
 * (go gives a visit 15 s in all).
 */
export const CRAWL_VISIT_TIMEOUT = 15_000

/**
 * Visits a peer may fail in a row before the rolling crawl forgets it (until another peer names
 * it again): one failed visit makes it leave the full table, two make the crawl stop trying it.
 */
export const CRAWL_MAX_FAILED_VISITS = 2

/**
 * A server whose crawl visit failed is visited again this many ms later, before the crawl gives
 * up on it (a dial that timed out on a busy link, a server restarting): without it, a server
 * missed in the first pass would be out of the full table for up to a round.
 */
export const CRAWL_RETRY_DELAY = 30_000

/**
 * How often an idle rolling crawl looks again for work (the routing table's peers, when the
 * crawl knows none yet), in ms.
 */
export const CRAWL_IDLE_RECHECK = 5_000

/**
 * Servers the accelerated client's full table holds at most (the Amino DHT has some 16,000
 * reachable ones, 22,000 crawled): about 1.5 KB each with the crawl's bookkeeping (see
 * docs/benchmarks.md), 150 MB in all.
 * Peers the crawl may know of at once: twice it.
 */
export const ACCELERATED_MAX_PEERS = 100_000

/**
 * Requests a full-table peer may fail in a row (a one-hop lookup, a bulk send) before it leaves
 * the full table until its next successful crawl visit.
 */
export const ACCELERATED_MAX_FAILURES = 2

/** Addresses kept per full-table peer: the first few a peer was named with. */
export const ACCELERATED_MAX_ADDRESSES = 8

/**
 * Peers a bulk provide (go's bulkMessageSend has 20 such senders) sends to at once, each its
 * whole batch of records on one connection.
 */
export const BULK_SEND_CONCURRENCY = 32
