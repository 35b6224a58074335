/**
 * The bounds and defaults of the Delegated Routing V1 HTTP API server, each with its reason.
 */
import { K_BUCKET_SIZE } from '../constants.ts'

/** The path every endpoint of the API lives under. */
export const ROUTING_V1_PATH = '/routing/v1'

/**
 * Records in one `application/json` answer: the spec says JSON answers SHOULD be limited to 100
 * (someguy's default too).
 */
export const JSON_RECORDS_LIMIT = 100

/**
 * Records in one `application/x-ndjson` answer: streaming may return more than JSON; 1,000 is
 * someguy's default bound.
 */
export const STREAM_RECORDS_LIMIT = 1_000

/** Peers in a closest-peers answer: the DHT's bucket size k, as IPIP-476 asks. */
export const CLOSEST_PEERS_LIMIT = K_BUCKET_SIZE

/**
 * How long one lookup may take, in ms, counted from the arrival of the request that started it.
 * It must end before the client gives up: the npm client aborts at 30 s, and its clock starts
 * before ours (someguy uses 25 s for the same reason).
 */
export const LOOKUP_TIMEOUT = 25_000

/**
 * Lookups that run at once; the requests of further lookups wait in line for one to end.
 * Requests identical to one in flight share its lookup and take no place.
 */
export const MAX_LOOKUPS = 32

/** Requests that may wait in line for a lookup; past this the server answers 429. */
export const MAX_WAITING = 1_024

/** Requests served at once, whatever they wait for; past this the server answers 429. */
export const MAX_REQUESTS = 4_096

/**
 * Requests one client (one address) may have in flight at once; past this it is answered 429.
 * A browser opens at most 6 HTTP/1.1 connections to one origin and the npm client asks 4
 * requests at a time, so a page and a few tabs fit with room to spare.
 */
export const MAX_REQUESTS_PER_CLIENT = 16

/** Seconds a client told 429 for its own excess is asked to wait (`Retry-After`). */
export const RETRY_AFTER_CLIENT = 1

/** Seconds a client told 429 because the server is full is asked to wait (`Retry-After`). */
export const RETRY_AFTER_BUSY = 5

/** Filters one `filter-addrs` or `filter-protocols` parameter may list. */
export const MAX_FILTERS = 32

/** The longest filter name: IPIP-484 bounds transfer protocol names at 63 characters. */
export const MAX_FILTER_LENGTH = 63

/** `max-age` of an answer with results, in seconds: 5 minutes, as the spec suggests. */
export const MAX_AGE_WITH_RESULTS = 300

/** `max-age` of an answer without results, in seconds: 15 s, as the spec suggests. */
export const MAX_AGE_WITHOUT_RESULTS = 15

/**
 * `stale-while-revalidate` and `stale-if-error` of DHT answers, in seconds: 48 h, the provider
 * record expiry of the Amino DHT, which the spec names as the routing system's cache window.
 */
export const MAX_STALE = 48 * 60 * 60

/** `max-age` of an IPNS record whose TTL is unknown, in seconds (the spec's default). */
export const IPNS_DEFAULT_MAX_AGE = 60

/** `Access-Control-Max-Age` of a CORS preflight answer, in seconds (someguy's 10 minutes). */
export const PREFLIGHT_MAX_AGE = 600

/** The longest error message sent in a body (boxo cuts at 1,024 characters too). */
export const MAX_ERROR_MESSAGE = 1_024
