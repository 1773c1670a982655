/**
 * The one long-poll loop (GET /chat/poll), used for answers and for titles: transient failures
 * are retried with backoff, an AbortSignal ends it at once (also while it waits to retry), and
 * its promise always settles, never rejects.
 */
import * as api from '../api.js'

/** Seconds the server holds a long-poll request open before it answers with no news. */
export const POLL_TIMEOUT_S = 25

/** How a loop ended. */
export const PollEnd = Object.freeze({
	/** the handler saw the final response */
	DONE: 'done',
	/** the signal was aborted */
	ABORTED: 'aborted',
	/** a request failed for good */
	FAILED: 'failed',
	/** maxRounds requests were made without a final response */
	ROUNDS: 'rounds',
})

/**
 * @param {object} e normalised API error
 * @return {boolean} whether retrying the same request may help
 */
export function isTransient(e) {
	if (e.code === 'network' || e.code === 'app_unavailable' || e.code === 'storage_unavailable') {
		return true
	}
	return e.status === 429 || (e.status >= 500 && e.code === 'unknown')
}

/**
 * @param {object} e normalised API error
 * @param {number} failures failures in a row so far (1 for the first)
 * @return {number} milliseconds to wait before the next try: what the server asked for, else backoff up to 8 s
 */
export function retryDelay(e, failures) {
	return e.retryAfter ? e.retryAfter * 1000 : Math.min(500 * 2 ** failures, 8000)
}

/**
 * @param {number} ms how long
 * @param {AbortSignal} signal ends the wait early
 * @return {Promise<void>} resolves after ms, or at once on abort; never rejects
 */
export function sleep(ms, signal) {
	return new Promise((resolve) => {
		if (signal.aborted) {
			resolve()
			return
		}
		let timer = null
		const done = () => {
			clearTimeout(timer)
			signal.removeEventListener('abort', done)
			resolve()
		}
		timer = setTimeout(done, ms)
		signal.addEventListener('abort', done)
	})
}

/**
 * Poll until the handler sees the final response, a request fails for good, or the signal aborts.
 *
 * The first request may not be retried on 429: the server refused to start (the user's rate
 * limit), and the caller shows that at once.
 *
 * @param {object} options the loop
 * @param {() => object} options.params query of the next request: { sessionId, messageId | title, cursor, rcursor }
 * @param {(resp: object, first: boolean) => boolean} options.onResponse handles a response; true when it was the final one
 * @param {AbortSignal} options.signal ends the loop and aborts the request in flight
 * @param {number} [options.retries] transient failures in a row before giving up
 * @param {number} [options.maxRounds] requests at most
 * @return {Promise<{end: string, error: object|null}>} end is a PollEnd; error is set for FAILED
 */
export async function pollLoop({ params, onResponse, signal, retries = 6, maxRounds = Infinity }) {
	const aborted = { end: PollEnd.ABORTED, error: null }
	let failures = 0
	let first = true
	for (let round = 0; round < maxRounds; round++) {
		if (signal.aborted) {
			return aborted
		}
		let resp
		try {
			resp = await api.poll({ timeout: POLL_TIMEOUT_S, ...params() }, signal)
		} catch (e) {
			if (signal.aborted || e.aborted) {
				return aborted
			}
			if (isTransient(e) && failures < retries && !(first && e.status === 429)) {
				failures++
				await sleep(retryDelay(e, failures), signal)
				continue
			}
			return { end: PollEnd.FAILED, error: e }
		}
		if (signal.aborted) {
			return aborted
		}
		failures = 0
		const final = onResponse(resp, first)
		first = false
		if (final) {
			return { end: PollEnd.DONE, error: null }
		}
	}
	return signal.aborted ? aborted : { end: PollEnd.ROUNDS, error: null }
}
