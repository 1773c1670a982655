/**
 * A fake of the browser's EventSource: the test opens, feeds, fails and inspects each connection.
 * Like the real one, a closed connection delivers nothing more.
 */
export class FakeEventSource {
	/** every connection made, oldest first */
	static instances = []

	/** @return {FakeEventSource|undefined} the newest connection */
	static get last() {
		return FakeEventSource.instances.at(-1)
	}

	constructor(url) {
		this.url = url
		this.closed = false
		this.onopen = null
		this.onmessage = null
		this.onerror = null
		FakeEventSource.instances.push(this)
	}

	/** The server accepted the connection. */
	open() {
		if (!this.closed) {
			this.onopen?.({ type: 'open' })
		}
	}

	/**
	 * @param {object|string} data an event payload (objects are sent as JSON)
	 * @param {string} [id] its event id
	 */
	emit(data, id = '') {
		if (!this.closed) {
			this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data), lastEventId: id })
		}
	}

	/** The connection broke (or the proxy refused it). */
	fail() {
		if (!this.closed) {
			this.onerror?.({ type: 'error' })
		}
	}

	close() {
		this.closed = true
	}
}
