/**
 * kadmium's own choices: every default, bound and pace that is not the network's contract
 * (constants.ts), each with its reason. Internal: the options of `kadDHT` (settings.ts) are how a
 * user changes the ones that may change; the rest are bounds the code holds to.
 */
import { K_BUCKET_SIZE, REFRESH_INTERVAL } from './constants.ts'

// names

/** The prefix of kadmium's metric names unless `metricsPrefix` says otherwise: libp2p's `libp2p_<component>` form. */
export const METRICS_PREFIX = 'libp2p_kadmium'

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

// the datastore layout: changing one orphans what a persistent datastore holds

/** Where records live in the datastore. */
export const RECORDS_PREFIX = '/kadmium/records'

/** Where provider records live in the datastore. */
export const PROVIDERS_DATASTORE_PREFIX = '/kadmium/providers'

/** Where the list of keys we provide lives in the datastore. */
export const PROVIDED_PREFIX = '/kadmium/provided'

/** Where the reprovide schedule (its cycle, the next region, the last cycle) lives in the datastore. */
export const REPROVIDE_STATE_KEY = '/kadmium/reprovide'

/** Where the values we keep alive (`put` with `keep`) live in the datastore, with when each was last put. */
export const KEPT_PREFIX = '/kadmium/kept'

// reading messages

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

/**
 * Once a message's length prefix has arrived, its body must arrive within this many ms (10 s, as
 * long as a peer has to answer a request): a peer that sends a prefix and then trickles holds a
 * stream no longer.
 */
export const MESSAGE_READ_TIMEOUT = 10_000

/** An inbound stream with no new request for this many ms is reset (1 minute, as go closes it). */
export const STREAM_IDLE_TIMEOUT = 60_000

/**
 * Inbound DHT streams one connection may have open at once (32: libp2p's default for a
 * protocol, and `@libp2p/kad-dht`'s): a peer asks one request per stream, and a lookup asks a
 * peer once, so an honest peer rarely has more than a few open.
 */
export const MAX_INBOUND_STREAMS = 32

/**
 * Outbound DHT streams one connection may have open at once (64: libp2p's default for a
 * protocol, and `@libp2p/kad-dht`'s). kadmium's and kad-dht's servers reset inbound streams
 * beyond their 32, so a higher bound would only have more refused there.
 */
export const MAX_OUTBOUND_STREAMS = 64

// asking

/**
 * How long a whole query (a lookup and what follows it) may take, in ms: a lookup of the Amino
 * DHT takes ~4 hops of at most a few seconds each (p99 2.1 s in published measurements); 30 s
 * ends one stuck on unanswering peers without cutting a slow but live one short.
 */
export const QUERY_TIMEOUT = 30_000

/**
 * How long one peer may take to answer one request, in ms (10 s, go's read timeout): a fresh
 * connection across continents and the answer take a second or two; a peer slower than 10 s is
 * taken for gone.
 */
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

/**
 * A request on the wire to a peer whose round trip is known is stalled after
 * {@link STALL_RTT_FACTOR} round trips, never sooner than this many ms (the peer's own work, a
 * round trip that varies). A silent peer (connected, never answering) then costs a lookup this,
 * not the second {@link STALL_MIN_TIMEOUT} sets for requests whose dial is still under way.
 */
export const STALL_MIN_SENT_TIMEOUT = 250

/**
 * An outbound DHT stream is kept for the next request to its peer until it has been idle this
 * many ms, then closed. Shorter than the 10 s after which `@libp2p/kad-dht` servers reset an idle
 * inbound stream (go's and kadmium's wait 1 minute), so a kept stream is rarely reset under a
 * request, and short because libp2p's pruner never closes a connection with an open DHT stream:
 * a connection opened for one lookup becomes prunable 5 s after its last request.
 */
export const OUTBOUND_IDLE_TIMEOUT = 5_000

/**
 * The most outbound streams kept for reuse at once, one per peer (a request whose stream would
 * be kept past it has its stream closed instead, as with no reuse). A lookup asks a few dozen
 * peers, so several lookups at once stay under it; and it stays under libp2p's default limit of
 * 300 connections, since a kept stream keeps its connection from being pruned.
 */
export const MAX_KEPT_STREAMS = 256

// serving

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
 * the largest record value by default), at least one: a 4 MiB message costs 257 requests, more
 * than the burst. It goes once the peer's bucket is full and leaves the rest as a debt (see
 * network/rate-limit.ts), so a peer can send one at once now and then, but a stream of them no
 * faster than one each 5 s (800 KiB/s at the default rate).
 */
export const RATE_LIMIT_BYTES_PER_REQUEST = 16 * 1024

/** Peers the rate limiter tracks at once (about 100 bytes each, 1 MiB in all); the least recently active go first. */
export const RATE_LIMIT_MAX_PEERS = 10_000

/**
 * The most addresses shared per provider in a GET_PROVIDERS answer: a provider announcing more
 * (relays, every interface) would swell every answer about its keys; 16 holds IPv4 and IPv6 over
 * several transports.
 */
export const MAX_PROVIDER_ADDRESSES = 16

// the routing table

/**
 * How long a liveness check of a routing-table peer may take, in ms: half the request timeout,
 * as the peer is usually connected already (no dial) and a newcomer waits on the check.
 */
export const PING_TIMEOUT = 5_000

/**
 * A routing-table peer seen within this many ms is taken to be alive: a newcomer to its full
 * bucket is turned away without checking it. Half the refresh interval: a peer that answered
 * since the last refresh (or passed its checks) is not checked again before the next, and a busy
 * bucket costs at most one liveness check per 5 minutes however many newcomers knock.
 */
export const PEER_FRESHNESS = REFRESH_INTERVAL / 2

/**
 * Requests a routing-table peer may fail in a row before it leaves the table: one timeout on a
 * busy network is not a dead peer. A refresh check that fails removes it at once.
 */
export const MAX_PEER_FAILURES = 2

/**
 * How soon after the routing table changed the tags are brought in step, in ms: a join changes
 * the table many times a second, and each tag change is a peer-store write.
 */
export const TAG_UPDATE_DELAY = 100

// routing-table upkeep

/** How long one refresh lookup may take, in ms: as long as any query ({@link QUERY_TIMEOUT}). */
export const REFRESH_QUERY_TIMEOUT = QUERY_TIMEOUT

/**
 * Buckets deeper than this are not refreshed by a key of their own: the self-lookup covers them,
 * and a key for bucket b takes ~2^(b+1) hashes to find (65,000 for bucket 15).
 */
export const MAX_REFRESH_BUCKET = 15

/**
 * How often the optional random walk looks up a random key, unless told otherwise (1 min): often
 * enough to fill a fresh table within minutes, at one lookup a minute.
 */
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
export const JOIN_REFRESH_WINDOW = REFRESH_INTERVAL

// values

/**
 * A stored record that passed its validator is served without validating it again for this long
 * (1 h), so that answering GET_VALUE does not verify a signature each time; after that, and
 * after a restart, the next request validates it again (an IPNS record can expire while stored).
 */
export const RECORD_REVALIDATE_INTERVAL = 60 * 60_000

/** How often expired records are swept from the datastore (1 h): a record expires at 48 h, so one is served expired never (reads check the age) and stored expired at most an hour. */
export const RECORDS_SWEEP_INTERVAL = 60 * 60_000

/**
 * The most records a node stores; a record under a new key is refused past it. At the largest
 * record (16 KiB) that is 1.6 GB on disk at worst, IPNS records (~400 bytes) ~40 MB; a node keeps
 * only a count in memory.
 */
export const MAX_RECORDS = 100_000

// providers

/** How often expired provider records are deleted from the datastore, in ms (1 h): reads skip expired records, so this only frees space. */
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

/**
 * Keys whose decoded provider lists are kept in memory in front of the datastore: the hot keys
 * of a busy node (a few popular CIDs asked again and again), at ~2 KiB each at most: 0.5 MiB.
 */
export const PROVIDER_CACHE_SIZE = 256

/**
 * When the key bound is reached and some key may have expired, a sweep runs to free it before a
 * new key is refused, at most once per this many ms (a sweep reads every record).
 */
export const PROVIDERS_MIN_SWEEP_GAP = 5 * 60_000

/** How many providers `findProviders` yields unless told otherwise: k, as many as the peers a provider record is stored on; `count` asks for more. */
export const FIND_PROVIDERS_COUNT = K_BUCKET_SIZE

/**
 * The longest the reprovide schedule sleeps before it looks again whether a region is due, in
 * ms (1 min): also how soon it notices that the node is back online, or that the network size is
 * known (the first cycle waits for it to cut the keyspace into regions), or retries a run that
 * failed.
 */
export const REPROVIDE_RECHECK_DELAY = 60_000

/**
 * A region none of whose keys reached a peer is tried again after this many ms (5 min, as go's
 * provider retries): that is the network failing, more likely than every key.
 */
export const REPROVIDE_RETRY_DELAY = 5 * 60_000

/**
 * How often a kept value is put again, in ms, on average: 12 h. Each key is put again between 6
 * and 18 h after its last put, at its own phase of the interval (so the puts of many keys are
 * spread evenly), well inside the 48 h its records live on other peers: a record is refreshed
 * at least twice in its life, one put that fails costs nothing, and peers that became the key's
 * closest since the last put (the network churns) get it within 18 h. IPNS publishers put more
 * often (kubo every 4 h) for the same reason; a value costs one lookup and k PUT_VALUEs a put.
 */
export const REPUBLISH_INTERVAL = 12 * 60 * 60_000

/**
 * The longest the republisher sleeps before it looks again whether a value is due, in ms (1 min):
 * also how soon it retries a run that failed. It wakes at once when the node finds its first peer.
 */
export const REPUBLISH_RECHECK_DELAY = 60_000

/**
 * A kept value whose put reached no peer is tried again after this many ms (5 min), doubled for
 * each failure in a row, at most half the interval.
 */
export const REPUBLISH_RETRY_DELAY = 5 * 60_000

/** How many times a region none of whose keys reached a peer is tried again before the schedule goes on: 3 retries cover 15 minutes of network trouble. */
export const REPROVIDE_MAX_RETRIES = 3

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

/**
 * A batch provide (`provideMany` without the full table) keeps the records of this many keys on
 * their way at once, each to its k closest, and goes on with the next region's lookups meanwhile:
 * a key whose peers need a dial does not hold up the others (one key at a time, 10,000 CIDs took
 * 2,913 s against 621 s in the simulator's model, where each record costs a round trip:
 * bench/sim/provide-many.ts). A peer near several of them gets at most this many streams at once,
 * well under the 32 `@libp2p/kad-dht` accepts.
 */
export const PUBLISH_MANY_KEYS_AT_ONCE = 8

/**
 * A batch provide explores this many regions of the keyspace at once (their lookups under way
 * together, each with its α requests), once the first region told how wide regions are: the
 * lookups were most of a batch provide's time, one region after another.
 */
export const PUBLISH_MANY_REGIONS_AT_ONCE = 4

// optimistic provide and the network size

/**
 * Lookups the network size estimate remembers (the newest): the k-th closest distances of 100
 * lookups give the size within 1/√(100 k) ≈ 2 %.
 */
export const NETWORK_SIZE_MAX_SAMPLES = 100

/** How long a lookup counts towards the network size estimate, in ms (2 h, as go's estimator): the network changes. */
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

/**
 * Provider records a bulk send has under way to one peer at once, each on a stream of its own
 * that the peer ends when it handled the record: one record after another would cost a round
 * trip or two each (a peer's batch holds ~2,500 records when 2 million CIDs are reprovided over
 * 16,000 servers). Eight at a time keep a kadmium server's rate limit (50 a second sustained) busy
 * at an 80 ms round trip, and 8 of its 32 inbound streams a connection. Several records on one
 * stream would need no stream each, but `@libp2p/kad-dht` 16 may drop the ones it has read and
 * not handled when the stream ends (seen in the interop test).
 */
export const BULK_SEND_PER_PEER = 8
