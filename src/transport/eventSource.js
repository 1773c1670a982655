/**
 * One EventSource connection with a watchdog, and the one place that tears a connection down.
 * The browser never reconnects on its own: the first error closes the connection and reports it,
 * and the caller decides (resume, or fall back to long-poll).
 */

/** A fresh connection must deliver an event (the server sends `started` at once) within this time. */
export const NO_EVENT_TIMEOUT_MS = 2000

/**
 * @param {string} url the stream URL
 * @param {object} handlers what to do with the connection's news
 * @param {boolean} handlers.resumed a resumed connection only has to open in time, not deliver
 * @param {(data: object|null, lastEventId: string) => void} handlers.onEvent a message: its JSON (null when unreadable) and id
 * @param {(events: number) => void} handlers.onFail the connection errored or stayed silent (closed already); events it delivered
 * @param {number} [handlers.timeoutMs] the watchdog's time
 * @return {{close: () => void}} close() ends the connection; no handler is called after it
 */
export function connectEventSource(url, { resumed, onEvent, onFail, timeoutMs = NO_EVENT_TIMEOUT_MS }) {
	const es = new EventSource(url)
	let events = 0
	let opened = false
	let closed = false

	const watchdog = setTimeout(() => {
		if (events === 0 && !(resumed && opened)) {
			fail()
		}
	}, timeoutMs)

	/** The one teardown: watchdog, handlers, connection. */
	function close() {
		if (closed) {
			return
		}
		closed = true
		clearTimeout(watchdog)
		es.onopen = null
		es.onmessage = null
		es.onerror = null
		es.close()
	}

	/** Close, then report the failure once. */
	function fail() {
		if (!closed) {
			close()
			onFail(events)
		}
	}

	es.onopen = () => {
		opened = true
	}
	es.onmessage = (event) => {
		if (closed) {
			return
		}
		events++
		clearTimeout(watchdog)
		let data = null
		try {
			data = JSON.parse(event.data)
		} catch {
			// not ours to show; its id still counts for a resume
		}
		onEvent(data, event.lastEventId)
	}
	es.onerror = fail

	return { close }
}
