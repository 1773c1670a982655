/**
 * Delivers one answer's events, live over SSE where that works and by long-poll otherwise.
 *
 * SSE falls back to long-poll when the EventSource errors before `done`, or delivers no event
 * within NO_EVENT_TIMEOUT_MS of opening (a buffering proxy; the server sends `started` at once).
 * A stream that worked and then dropped is resumed after its last event id (the server replays
 * exclusively) up to MAX_SSE_RECONNECTS times. A failure to deliver anything is remembered for
 * the page load, so later answers go straight to long-poll.
 *
 * No duplicated or lost text on a switch: the first long-poll request asks for cursor=0, and its
 * event carries `replace`: the full text the server has so far, which replaces whatever SSE showed.
 * Every later response is appended, using the server's own (opaque) cursors. The server is the
 * only source of truth for positions; the client never guesses an offset.
 */
import { getConfig } from '../config.js'
import { finalStatus, MessageStatus, Status } from '../status.js'
import { estimateTokens } from '../tokenRate.js'
import { connectEventSource } from './eventSource.js'
import { PollEnd, pollLoop } from './pollLoop.js'
import { streamUrlFor } from './streamUrl.js'

export const MAX_SSE_RECONNECTS = 2

/** The two ways an answer reaches the page. */
export const Transport = Object.freeze({ SSE: 'sse', POLL: 'poll' })

// Per page load: once SSE failed to deliver, use long-poll straight away.
let sseFailed = false

/**
 * @return {boolean} whether SSE was found not to work on this page load
 */
export function isSseKnownBroken() {
	return sseFailed
}

/**
 * A long-poll response in the shape of an SSE event (docs/api.md), with two additions:
 * `replace` (the text is the whole text so far) and `tokens` (an estimate: long-poll has no count).
 *
 * @param {object} resp the /chat/poll response
 * @param {boolean} first whether it answers the first request (cursor=0)
 * @return {object} the event
 */
export function eventFromPoll(resp, first) {
	const chunk = typeof resp.text === 'string' ? resp.text : ''
	const event = {
		started: true,
		messageId: resp.messageId ?? null,
		chunk,
		reasoning: typeof resp.reasoning === 'string' ? resp.reasoning : '',
		replace: first,
		tokens: estimateTokens(chunk.length),
	}
	const status = resp.status || (resp.done ? MessageStatus.DONE : MessageStatus.GENERATING)
	if (status === MessageStatus.GENERATING) {
		return event
	}
	const final = finalStatus(status)
	return {
		...event,
		done: final !== Status.ERROR,
		status: final,
		message: resp.message,
		finishReason: resp.finishReason,
		usage: resp.usage,
		tokensPerSecond: resp.tokensPerSecond,
		...(final === Status.ERROR ? { error: resp.error || resp.message?.error || '', code: resp.code } : {}),
	}
}

/**
 * @param {object} target the answer
 * @param {number} target.sessionId its session
 * @param {number} target.humanId the human message it answers
 * @param {object} sink where the news goes (never called after close())
 * @param {(name: string) => void} sink.transport the Transport now in use
 * @param {(event: object) => void} sink.event an SSE event payload, or eventFromPoll()
 * @param {(error: object) => void} sink.fail every way failed; error is the normalised API error
 * @return {{close: () => void}} close() ends every connection, request and wait
 */
export function streamAnswer({ sessionId, humanId }, sink) {
	const controller = new AbortController()
	const signal = controller.signal
	const urlOf = streamUrlFor(sessionId, humanId)
	let connection = null
	let lastEventId = null
	let sseEvents = 0
	let reconnects = 0
	let markedSseFailed = false

	/** Open (or resume, after lastEventId) the SSE stream. */
	async function openSse() {
		let url
		try {
			url = await urlOf(lastEventId)
		} catch {
			// e.g. no stream token could be had: long-poll does not need one
			fallBack()
			return
		}
		if (signal.aborted) {
			return
		}
		sink.transport(Transport.SSE)
		connection = connectEventSource(url, {
			resumed: lastEventId !== null,
			onEvent(data, id) {
				sseEvents++
				if (id) {
					lastEventId = id
				}
				sink.event(data)
			},
			onFail(events) {
				connection = null
				if (events > 0 && reconnects < MAX_SSE_RECONNECTS) {
					reconnects++
					openSse()
				} else {
					fallBack()
				}
			},
		})
	}

	/** SSE did not work: remember it for the page load when it delivered nothing, then long-poll. */
	function fallBack() {
		if (signal.aborted) {
			return
		}
		if (sseEvents === 0 && !sseFailed) {
			sseFailed = true
			markedSseFailed = true
		}
		poll()
	}

	/** Long-poll the answer from the start (cursor 0) to its end. */
	async function poll() {
		sink.transport(Transport.POLL)
		let cursor = 0
		let rcursor = 0
		const { end, error } = await pollLoop({
			signal,
			params: () => ({ sessionId, messageId: humanId, cursor, rcursor }),
			onResponse(resp, first) {
				if (typeof resp.cursor === 'number') {
					cursor = resp.cursor
				}
				if (typeof resp.rcursor === 'number') {
					rcursor = resp.rcursor
				}
				const event = eventFromPoll(resp, first)
				sink.event(event)
				return event.status !== undefined
			},
		})
		if (end === PollEnd.FAILED && !signal.aborted) {
			if (markedSseFailed && error.status >= 400 && error.status < 500) {
				// The SSE failure was this request's own fault (e.g. not found), not the transport's.
				sseFailed = false
			}
			sink.fail(error)
		}
	}

	if (getConfig().delivery.mode === 'poll' || sseFailed || typeof window.EventSource === 'undefined') {
		poll()
	} else {
		openSse()
	}

	return {
		close() {
			controller.abort()
			connection?.close()
			connection = null
		},
	}
}
