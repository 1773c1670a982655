/**
 * A fake of the app's HTTP routes at the fetch() level: axios (with its fetch adapter) sends
 * every request here. Each route answers with a body, a status, or a promise that a test settles
 * later (a long-poll held open); a request's AbortSignal rejects it as fetch() would.
 */

/**
 * @param {object} body JSON body
 * @param {number} [status] HTTP status
 * @param {object} [headers] extra headers
 * @return {{status: number, body: object, headers: object}} a reply for a route handler
 */
export function reply(body, status = 200, headers = {}) {
	return { status, body, headers }
}

/** @return {{promise: Promise, resolve: Function, reject: Function}} a promise settled from outside */
export function deferred() {
	let resolve
	let reject
	const promise = new Promise((res, rej) => {
		resolve = res
		reject = rej
	})
	return { promise, resolve, reject }
}

export class FakeServer {
	constructor() {
		/** 'METHOD /path' -> handler(request) returning a reply, a plain body, or a promise of one */
		this.routes = new Map()
		/** every request: { method, path, query, body, signal, aborted } */
		this.requests = []
		this.fetch = this.fetch.bind(this)
	}

	/**
	 * @param {string} route 'METHOD /path' below the app's base
	 * @param {Function|object} handler a function of the request, or a fixed body
	 * @return {FakeServer} this
	 */
	on(route, handler) {
		this.routes.set(route, typeof handler === 'function' ? handler : () => handler)
		return this
	}

	/**
	 * @param {string} route 'METHOD /path'
	 * @return {object[]} the requests made to it
	 */
	calls(route) {
		return this.requests.filter((r) => `${r.method} ${r.path}` === route)
	}

	async fetch(input, init = {}) {
		const request = input instanceof Request ? input : new Request(input, init)
		const url = new URL(request.url)
		const text = request.method === 'GET' ? '' : await request.text()
		const signal = init.signal ?? request.signal
		const entry = {
			method: request.method,
			path: url.pathname.replace(/^\/app/, ''),
			query: Object.fromEntries(url.searchParams),
			body: text ? JSON.parse(text) : null,
			signal,
			aborted: false,
		}
		this.requests.push(entry)
		const handler = this.routes.get(`${entry.method} ${entry.path}`)
		if (!handler) {
			return json({ error: `no route ${entry.method} ${entry.path}`, code: 'not_found' }, 404)
		}
		const aborted = new Promise((resolve, reject) => {
			const fail = () => {
				entry.aborted = true
				reject(new DOMException('The operation was aborted.', 'AbortError'))
			}
			if (signal?.aborted) {
				fail()
			}
			signal?.addEventListener('abort', fail)
		})
		const answer = await Promise.race([Promise.resolve(handler(entry)), aborted])
		const { status, body, headers } = answer && 'status' in answer && 'body' in answer ? answer : reply(answer)
		return json(body, status, headers)
	}
}

/**
 * @param {object} body JSON body
 * @param {number} status HTTP status
 * @param {object} [headers] extra headers
 * @return {Response} the response
 */
function json(body, status, headers = {}) {
	return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
}
