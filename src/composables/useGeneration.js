/**
 * The single owner of one answer's state on this page: its Status, text, speed and outcome.
 * The transport (transport/answerStream.js) brings the events; this composable applies them,
 * owns the abort handle, settles every start() promise once, and lets go on scope dispose.
 */
import { computed, getCurrentScope, onScopeDispose, ref, shallowRef } from 'vue'
import * as api from '../api.js'
import { makeError } from '../errors.js'
import { usageOf } from '../format.js'
import { canMove, finalStatus, isActive as isActiveStatus, Status } from '../status.js'
import { createRateMeter, estimateTokens } from '../tokenRate.js'
import { streamAnswer } from '../transport/answerStream.js'

/**
 * @return {object} the state refs (read-only for others) and start / stop / abort / reset
 */
export function useGeneration() {
	const status = ref(Status.IDLE)
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
	/** when the first reasoning arrived (Date.now()), and how long the model thought before answering */
	const thinkingSince = ref(null)
	const thinkingMs = ref(null)
	const isActive = computed(() => isActiveStatus(status.value))

	/** The run in progress, or null: { stream, resolve }. A finished run is never current. */
	let current = null
	let meter = createRateMeter()

	/** @param {string} next the Status to move to, when the move is allowed (forward only) */
	function move(next) {
		if (canMove(status.value, next)) {
			status.value = next
		}
	}

	/** Every state ref back to its empty value. */
	function clearState() {
		status.value = Status.IDLE
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
		thinkingSince.value = null
		thinkingMs.value = null
		meter = createRateMeter()
	}

	/** The thinking is over (text began, or the answer ended): how long it took. */
	function endThinking() {
		if (thinkingSince.value !== null && thinkingMs.value === null) {
			thinkingMs.value = Date.now() - thinkingSince.value
		}
	}

	/** @param {number} tokens how many tokens the piece of text that just arrived holds */
	function noteText(tokens) {
		const rate = meter.note(tokens)
		if (rate !== null) {
			tokensPerSecond.value = rate
		}
	}

	/**
	 * End a run once: close its transport, set the final state, settle its promise.
	 *
	 * @param {object} run the run
	 * @param {object} outcome { status, message, error, code, finishReason, usage, tokensPerSecond }
	 */
	function finish(run, outcome) {
		if (run !== current) {
			return
		}
		current = null
		run.stream?.close()
		const msg = outcome.message || null
		const final = outcome.status
		if (msg) {
			message.value = msg
			messageId.value = msg.id ?? messageId.value
			// The stored message is authoritative, except that a stop must keep the partial text shown.
			if (typeof msg.content === 'string' && (msg.content !== '' || final !== Status.CANCELLED)) {
				text.value = msg.content
			}
			if (typeof msg.reasoning === 'string' && msg.reasoning !== '') {
				reasoning.value = msg.reasoning
			}
		}
		finishReason.value = outcome.finishReason ?? msg?.finish_reason ?? null
		usage.value = outcome.usage ?? usageOf(msg)
		// The server's figure is final, including "none" for an answer that came in one burst.
		const tps = outcome.tokensPerSecond !== undefined ? outcome.tokensPerSecond : msg?.tokens_per_second
		if (tps !== undefined) {
			tokensPerSecond.value = tps
		}
		let err = outcome.error || null
		if (!err && final === Status.ERROR) {
			err = makeError({ message: msg?.error || '', code: outcome.code || msg?.error_code || 'provider_error', retryAfter: msg?.retry_after ?? null, detail: msg?.error_detail || '' })
		}
		error.value = err
		endThinking()
		if (typeof msg?.thinking_ms === 'number') {
			thinkingMs.value = msg.thinking_ms
		}
		move(final)
		stopping.value = false
		run.resolve({ status: final, message: msg, error: err, transport: transport.value })
	}

	/**
	 * Apply one event: an SSE payload (docs/api.md), or a long-poll response made into one.
	 *
	 * @param {object} run the run
	 * @param {object|null} data the event
	 */
	function handleEvent(run, data) {
		if (run !== current || !data || typeof data !== 'object') {
			return
		}
		if (data.started) {
			if (data.messageId !== null && data.messageId !== undefined) {
				messageId.value = data.messageId
			}
			if (data.model) {
				model.value = data.model
			}
			move(Status.WAITING)
		}
		const piece = typeof data.chunk === 'string' ? data.chunk : ''
		const thought = typeof data.reasoning === 'string' ? data.reasoning : ''
		if (data.replace) {
			// The whole text so far, after a switch of transport: replace, never append.
			const grew = piece.length - text.value.length
			text.value = piece
			reasoning.value = thought
			if (grew > 0) {
				noteText(estimateTokens(grew))
			}
		} else {
			reasoning.value += thought
			if (thought) {
				move(Status.WAITING)
			}
			text.value += piece
			if (piece) {
				noteText(data.tokens ?? 1)
			}
		}
		if (reasoning.value && thinkingSince.value === null) {
			thinkingSince.value = Date.now()
		}
		if (text.value) {
			endThinking()
		}
		if (piece) {
			move(Status.STREAMING)
		}
		if (data.done) {
			finish(run, {
				status: data.status ?? finalStatus(data.message?.status),
				message: data.message,
				finishReason: data.finishReason,
				usage: data.usage,
				tokensPerSecond: data.tokensPerSecond,
			})
		} else if (data.error || data.status === Status.ERROR) {
			finish(run, {
				status: Status.ERROR,
				message: data.message,
				code: data.code,
				finishReason: data.finishReason,
				usage: data.usage,
				tokensPerSecond: data.tokensPerSecond,
				error: makeError({
					message: String(data.error || data.message?.error || ''),
					code: data.code || data.message?.error_code || 'provider_error',
					retryAfter: data.retryAfter ?? data.message?.retry_after ?? null,
					detail: data.detail || data.message?.error_detail || '',
				}),
			})
		}
	}

	/**
	 * Stream the answer to a human message. Starts the generation if none exists, attaches (the
	 * server replays from the start) otherwise: start() is also how a reopened session re-attaches.
	 *
	 * @param {number} sid session id
	 * @param {number} humanId the human message id
	 * @return {Promise<{status: string, message: object|null, error: object|null, transport: string|null}>} never rejects
	 */
	function start(sid, humanId) {
		abort()
		clearState()
		sessionId.value = sid
		humanMessageId.value = humanId
		move(Status.CONNECTING)
		const run = { stream: null, resolve: null, sessionId: sid, humanId, stopping: false }
		const promise = new Promise((resolve) => {
			run.resolve = resolve
		})
		current = run
		run.stream = streamAnswer({ sessionId: sid, humanId }, {
			transport: (name) => {
				if (run === current) {
					transport.value = name
				}
			},
			event: (data) => handleEvent(run, data),
			fail: (err) => finish(run, { status: Status.ERROR, error: err }),
		})
		return promise
	}

	/**
	 * Close this page's connections to the current answer; the server keeps generating.
	 * The state refs are kept; the promise of start() resolves with Status.DETACHED.
	 */
	function abort() {
		const run = current
		if (run) {
			current = null
			run.stream?.close()
			run.resolve({ status: Status.DETACHED, message: null, error: null, transport: transport.value })
		}
	}

	/** Let go and forget everything (back to IDLE). */
	function reset() {
		abort()
		clearState()
		sessionId.value = null
		humanMessageId.value = null
	}

	/**
	 * Ask the server to stop the answer; the partial text stays, the status becomes CANCELLED.
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
			finish(run, { status: msg ? finalStatus(msg.status) : Status.CANCELLED, message: msg })
			return { ok: true }
		} catch (e) {
			run.stopping = false
			if (run === current) {
				stopping.value = false
			}
			return { ok: false, error: e }
		}
	}

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
		thinkingSince,
		thinkingMs,
		isActive,
		start,
		stop,
		abort,
		reset,
		/** @return {number[]} arrival times (ms, performance.now()) of this answer's pieces of text */
		chunkArrivals: () => meter.arrivals(),
	}
}
