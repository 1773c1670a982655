/**
 * The single owner of one generation's stream state.
 *
 * Transport (docs/api.md, ClientConfig.delivery):
 *   'direct' -> EventSource(apiBase + '/chat/stream?...')
 *   'harp'   -> EventSource(getRootUrl() + streamBase + '/chat/stream?...')
 *   'public' -> POST /chat/stream_token, then EventSource(token url)
 *   'poll'   -> long-poll /chat/poll through the proxy
 * SSE falls back to long-poll when the EventSource errors before `done`, or delivers no event
 * within 2 s of opening (a buffering proxy; the server sends `started` at once). The failure is
 * remembered for the page load, so later generations go straight to long-poll.
 *
 * No duplicated or lost text on a switch: the first long-poll request after a switch asks for
 * cursor=0 and REPLACES the text with the full text the server has so far; every later response
 * is appended, using the server's own (opaque) cursor. The server is the only source of truth
 * for positions; the client never guesses an offset.
 */
import { computed, getCurrentScope, onScopeDispose, ref, shallowRef } from 'vue'
import { getRootUrl } from '@nextcloud/router'
import * as api from '../api.js'
import { getConfig } from '../config.js'
import { makeError } from '../errors.js'

export const NO_EVENT_TIMEOUT_MS = 2000
const MAX_SSE_RECONNECTS = 2
const POLL_TIMEOUT_S = 25
const MAX_POLL_RETRIES = 6

// Per page load: once SSE failed to deliver, use long-poll straight away.
let sseFailed = false

/** @return {boolean} whether SSE was found not to work on this page load */
export function isSseKnownBroken() {
	return sseFailed
}

const ACTIVE = new Set(['connecting', 'waiting', 'streaming'])

/**
 * @param {object|null} msg a Message
 * @return {'done'|'cancelled'|'error'} the generation status a final message stands for
 */
function statusFromMessage(msg) {
	switch (msg?.status) {
	case 'cancelled': return 'cancelled'
	case 'error': return 'error'
	default: return 'done'
	}
}

/**
 * @param {object} e normalised API error
 * @return {boolean} whether retrying the same request may help
 */
function isTransient(e) {
	if (e.code === 'network' || e.code === 'app_unavailable' || e.code === 'storage_unavailable') {
		return true
	}
	return e.status === 429 || (e.status >= 500 && e.code === 'unknown')
}

let runCounter = 0

export function useGeneration() {
	const status = ref('idle')
	const text = ref('')
	const reasoning = ref('')
	const transport = ref(null)
	const tokensPerSecond = ref(null)
	const usage = shallowRef(null)
	const finishReason = ref(null)
	const error = shallowRef(null)
	const message = shallowRef(null)
	const sessionId = ref(null)
	const humanMessageId = ref(null)
	const messageId = ref(null)
	const model = ref(null)
	const stopping = ref(false)
	const isActive = computed(() => ACTIVE.has(status.value))

	/** The run in progress, or null. Callbacks of an older run are ignored. */
	let current = null
	let firstChunkAt = null
	let chunkCount = 0
	let arrivals = []

	const alive = (run) => run !== null && run === current && !run.finished

	function resetState() {
		status.value = 'idle'
		text.value = ''
		reasoning.value = ''
		transport.value = null
		tokensPerSecond.value = null
		usage.value = null
		finishReason.value = null
		error.value = null
		message.value = null
		messageId.value = null
		model.value = null
		stopping.value = false
		firstChunkAt = null
		chunkCount = 0
		arrivals = []
	}

	/** Close every connection and timer of a run and wake its sleepers. */
	function cleanup(run) {
		if (run.watchdog) {
			clearTimeout(run.watchdog)
			run.watchdog = null
		}
		if (run.es) {
			run.es.onmessage = null
			run.es.onerror = null
			run.es.onopen = null
			run.es.close()
			run.es = null
		}
		if (run.controller) {
			run.controller.abort()
			run.controller = null
		}
		for (const wake of run.sleepers) {
			wake()
		}
		run.sleepers.clear()
	}

	function sleep(run, ms) {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(timer)
				run.sleepers.delete(done)
				resolve()
			}
			const timer = setTimeout(done, ms)
			run.sleepers.add(done)
		})
	}

	function noteArrival(tokens) {
		const now = performance.now()
		arrivals.push(now)
		if (firstChunkAt === null) {
			firstChunkAt = now
		}
		chunkCount += tokens
		const elapsed = (now - firstChunkAt) / 1000
		if (elapsed >= 0.25) {
			tokensPerSecond.value = Math.round((chunkCount / elapsed) * 10) / 10
		}
	}

	function appendText(piece, tokens) {
		if (!piece) {
			return
		}
		text.value += piece
		noteArrival(tokens)
		status.value = 'streaming'
	}

	/**
	 * End a run once: set the final state, close transports, settle the promise.
	 *
	 * @param {object} run the run
	 * @param {object} outcome { status, message, error, finishReason, usage, tokensPerSecond }
	 */
	function finish(run, outcome) {
		if (!alive(run)) {
			return
		}
		run.finished = true
		cleanup(run)
		const msg = outcome.message || null
		const final = outcome.status || statusFromMessage(msg)
		if (msg) {
			message.value = msg
			messageId.value = msg.id ?? messageId.value
			// The stored message is authoritative, except that a stop must keep the partial text shown.
			if (typeof msg.content === 'string' && (msg.content !== '' || final !== 'cancelled')) {
				text.value = msg.content
			}
			if (typeof msg.reasoning === 'string' && msg.reasoning !== '') {
				reasoning.value = msg.reasoning
			}
		}
		finishReason.value = outcome.finishReason ?? msg?.finish_reason ?? null
		usage.value = outcome.usage ?? (msg && msg.total_tokens != null
			? { prompt_tokens: msg.prompt_tokens, completion_tokens: msg.completion_tokens, total_tokens: msg.total_tokens }
			: null)
		const tps = outcome.tokensPerSecond ?? msg?.tokens_per_second
		if (tps != null) {
			tokensPerSecond.value = tps
		}
		let err = outcome.error || null
		if (!err && final === 'error') {
			err = makeError({ message: msg?.error || '', code: outcome.code || 'provider_error' })
		}
		error.value = err
		status.value = final
		stopping.value = false
		current = null
		run.resolve({ status: final, message: msg, error: err, transport: transport.value })
	}

	/**
	 * Handle one event from SSE (or the same shape from elsewhere).
	 *
	 * @param {object} run the run
	 * @param {object} data parsed event payload
	 */
	function handleEvent(run, data) {
		if (!data || typeof data !== 'object') {
			return
		}
		if (data.started) {
			if (data.messageId != null) messageId.value = data.messageId
			if (data.model) model.value = data.model
			if (status.value === 'connecting') status.value = 'waiting'
		}
		if (typeof data.reasoning === 'string' && data.reasoning !== '') {
			reasoning.value += data.reasoning
			if (status.value === 'connecting') status.value = 'waiting'
		}
		if (typeof data.chunk === 'string') {
			appendText(data.chunk, 1)
		}
		if (data.done) {
			finish(run, {
				status: statusFromMessage(data.message),
				message: data.message,
				finishReason: data.finishReason,
				usage: data.usage,
				tokensPerSecond: data.tokensPerSecond,
			})
		} else if (data.error) {
			finish(run, {
				status: 'error',
				message: data.message,
				code: data.code,
				error: makeError({ message: String(data.error), code: data.code || 'provider_error' }),
			})
		}
	}

	// --- SSE ------------------------------------------------------------------------------------------

	async function sseUrl(run) {
		const { mode, streamBase } = getConfig().delivery
		const params = new URLSearchParams({ sessionId: String(run.sessionId), messageId: String(run.humanId) })
		let base
		if (mode === 'public') {
			if (!run.tokenUrl) {
				const token = await api.streamToken(run.sessionId, run.humanId)
				run.tokenUrl = token.url
			}
			const u = new URL(run.tokenUrl, window.location.href)
			if (run.lastEventId) u.searchParams.set('lastEventId', run.lastEventId)
			return u.toString()
		} else if (mode === 'harp' && typeof streamBase === 'string' && streamBase !== '') {
			base = streamBase.startsWith('/') ? getRootUrl() + streamBase : streamBase
		} else {
			base = api.apiBase()
		}
		if (run.lastEventId) params.set('lastEventId', run.lastEventId)
		return base.replace(/\/+$/, '') + '/chat/stream?' + params.toString()
	}

	async function openSse(run) {
		let src
		try {
			src = await sseUrl(run)
		} catch (e) {
			// e.g. the stream token could not be had: long-poll does not need one.
			if (alive(run)) fallbackToPoll(run)
			return
		}
		if (!alive(run)) {
			return
		}
		transport.value = 'sse'
		const es = new EventSource(src)
		const resumed = run.lastEventId !== null
		run.es = es
		run.eventsOnConnection = 0
		// A fresh connection must deliver `started` at once; a resumed one must at least open.
		run.watchdog = setTimeout(() => {
			if (alive(run) && run.es === es && run.eventsOnConnection === 0 && !(resumed && run.opened)) {
				fallbackToPoll(run)
			}
		}, NO_EVENT_TIMEOUT_MS)
		run.opened = false
		es.onopen = () => {
			if (run.es === es) run.opened = true
		}
		es.onmessage = (event) => {
			if (!alive(run) || run.es !== es) {
				return
			}
			run.eventsOnConnection++
			run.sseEvents++
			if (run.watchdog) {
				clearTimeout(run.watchdog)
				run.watchdog = null
			}
			if (event.lastEventId) {
				run.lastEventId = event.lastEventId
			}
			let data
			try {
				data = JSON.parse(event.data)
			} catch (e) {
				return
			}
			handleEvent(run, data)
		}
		es.onerror = () => {
			if (!alive(run) || run.es !== es) {
				return
			}
			// Never let the browser reconnect on its own: decide here.
			clearTimeout(run.watchdog)
			run.watchdog = null
			es.onmessage = null
			es.onerror = null
			es.close()
			run.es = null
			if (run.eventsOnConnection > 0 && run.reconnects < MAX_SSE_RECONNECTS) {
				// The stream worked and dropped: resume after the last event id (the server replays exclusively).
				run.reconnects++
				openSse(run)
			} else {
				fallbackToPoll(run)
			}
		}
	}

	function fallbackToPoll(run) {
		if (!alive(run)) {
			return
		}
		if (run.es) {
			run.es.onmessage = null
			run.es.onerror = null
			run.es.close()
			run.es = null
		}
		if (run.watchdog) {
			clearTimeout(run.watchdog)
			run.watchdog = null
		}
		if (run.sseEvents === 0 && !sseFailed) {
			sseFailed = true
			run.markedSseFailed = true
		}
		pollLoop(run)
	}

	// --- long-poll ------------------------------------------------------------------------------------

	async function pollLoop(run) {
		transport.value = 'poll'
		let cursor = 0
		let rcursor = 0
		let first = true
		let failures = 0
		while (alive(run)) {
			const controller = new AbortController()
			run.controller = controller
			let resp
			try {
				resp = await api.poll({
					sessionId: run.sessionId,
					messageId: run.humanId,
					cursor,
					rcursor,
					timeout: POLL_TIMEOUT_S,
				}, controller.signal)
			} catch (e) {
				if (!alive(run) || e.aborted) {
					return
				}
				if (isTransient(e) && failures < MAX_POLL_RETRIES && !(first && e.status === 429)) {
					failures++
					const wait = e.retryAfter ? e.retryAfter * 1000 : Math.min(500 * 2 ** failures, 8000)
					await sleep(run, wait)
					continue
				}
				if (run.markedSseFailed && e.status >= 400 && e.status < 500) {
					// The SSE failure was this request's own fault (e.g. not found), not the transport's.
					sseFailed = false
				}
				finish(run, { status: 'error', error: e })
				return
			} finally {
				if (run.controller === controller) run.controller = null
			}
			if (!alive(run)) {
				return
			}
			failures = 0
			if (resp.messageId != null) messageId.value = resp.messageId
			const piece = typeof resp.text === 'string' ? resp.text : ''
			const rpiece = typeof resp.reasoning === 'string' ? resp.reasoning : ''
			if (first) {
				// cursor=0: the full text so far. Replace whatever SSE showed: no duplicates, no gaps.
				const had = text.value.length
				text.value = piece
				reasoning.value = rpiece
				if (piece.length > had) {
					noteArrival(Math.max(1, Math.round((piece.length - had) / 4)))
				}
				if (piece) status.value = 'streaming'
			} else {
				reasoning.value += rpiece
				// Long-poll has no token count: estimate about 4 characters per token for the live rate.
				appendText(piece, Math.max(1, Math.round(piece.length / 4)))
			}
			first = false
			if (typeof resp.cursor === 'number') cursor = resp.cursor
			if (typeof resp.rcursor === 'number') rcursor = resp.rcursor
			const st = resp.status || (resp.done ? 'done' : 'generating')
			if (st !== 'generating') {
				const err = st === 'error'
					? makeError({ message: resp.error || resp.message?.error || '', code: resp.code || 'provider_error' })
					: null
				finish(run, {
					status: st === 'error' ? 'error' : (st === 'cancelled' ? 'cancelled' : 'done'),
					message: resp.message,
					error: err,
					finishReason: resp.finishReason,
					usage: resp.usage,
					tokensPerSecond: resp.tokensPerSecond,
				})
				return
			}
			if (status.value === 'connecting') status.value = 'waiting'
		}
	}

	// --- public API -----------------------------------------------------------------------------------

	/**
	 * Stream the answer to a human message. Starts the generation if none exists, attaches (replaying
	 * from the start) otherwise. Never rejects.
	 *
	 * @param {number} sid session id
	 * @param {number} humanId the human message id
	 * @return {Promise<{status: string, message: object|null, error: object|null, transport: string|null}>}
	 */
	function start(sid, humanId) {
		abort()
		resetState()
		sessionId.value = sid
		humanMessageId.value = humanId
		status.value = 'connecting'
		const run = {
			id: ++runCounter,
			sessionId: sid,
			humanId,
			es: null,
			controller: null,
			watchdog: null,
			sleepers: new Set(),
			finished: false,
			lastEventId: null,
			eventsOnConnection: 0,
			sseEvents: 0,
			reconnects: 0,
			markedSseFailed: false,
			tokenUrl: null,
			opened: false,
			resolve: null,
		}
		const promise = new Promise((resolve) => {
			run.resolve = resolve
		})
		current = run
		const { mode } = getConfig().delivery
		if (mode === 'poll' || sseFailed || typeof window.EventSource === 'undefined') {
			pollLoop(run)
		} else {
			openSse(run)
		}
		return promise
	}

	/** Same as start(): the server attaches to a running generation and replays it from the start. */
	const attach = start

	/**
	 * Close this page's connections to the current generation; the server keeps generating.
	 * The state refs are kept; the promise of start() resolves with status 'detached'.
	 */
	function abort() {
		const run = current
		if (!run) {
			return
		}
		run.finished = true
		cleanup(run)
		current = null
		run.resolve({ status: 'detached', message: null, error: null, transport: transport.value })
	}

	/** Detach and forget everything (back to 'idle'). */
	function reset() {
		abort()
		resetState()
		sessionId.value = null
		humanMessageId.value = null
	}

	/**
	 * Ask the server to stop the generation; the partial text stays, the status becomes 'cancelled'.
	 *
	 * @return {Promise<{ok: boolean, error?: object}>} never rejects
	 */
	async function stop() {
		const run = current
		if (!run || run.stopping) {
			return { ok: false }
		}
		run.stopping = true
		stopping.value = true
		try {
			const body = await api.stop(run.sessionId, run.humanId)
			const msg = body?.message || null
			finish(run, { status: msg ? statusFromMessage(msg) : 'cancelled', message: msg })
			return { ok: true }
		} catch (e) {
			run.stopping = false
			if (run === current) stopping.value = false
			return { ok: false, error: e }
		}
	}

	/** @return {number[]} arrival times (ms, performance.now()) of the text pieces of this generation */
	const chunkArrivals = () => arrivals.slice()

	if (getCurrentScope()) {
		onScopeDispose(abort)
	}

	return {
		status,
		text,
		reasoning,
		transport,
		tokensPerSecond,
		usage,
		finishReason,
		error,
		message,
		sessionId,
		humanMessageId,
		messageId,
		model,
		stopping,
		isActive,
		start,
		attach,
		stop,
		abort,
		reset,
		chunkArrivals,
	}
}
