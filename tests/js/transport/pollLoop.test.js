import { describe, expect, test, vi } from 'vitest'
import { PollEnd, pollLoop, sleep } from '../../../src/transport/pollLoop.js'
import { deferred, reply } from '../fakes/server.js'

const server = () => globalThis.server

/**
 * @param {object[]} responses the poll responses to give, in order
 * @return {object} the loop's options, recording what the handler saw
 */
function loopOver(responses) {
	let cursor = 0
	const seen = []
	server().on('GET /chat/poll', () => responses.shift())
	return {
		seen,
		params: () => ({ sessionId: 1, messageId: 2, cursor }),
		onResponse(resp, first) {
			seen.push({ text: resp.text, first })
			cursor = resp.cursor
			return resp.done
		},
	}
}

describe('pollLoop', () => {
	test('polls with the server\'s cursor until the final response', async () => {
		const options = loopOver([
			{ text: 'Hel', cursor: 3, done: false },
			{ text: 'lo', cursor: 5, done: false },
			{ text: '!', cursor: 6, done: true },
		])
		const result = await pollLoop({ ...options, signal: new AbortController().signal })
		expect(result).toEqual({ end: PollEnd.DONE, error: null })
		expect(options.seen).toEqual([{ text: 'Hel', first: true }, { text: 'lo', first: false }, { text: '!', first: false }])
		expect(server().calls('GET /chat/poll').map((r) => r.query.cursor)).toEqual(['0', '3', '5'])
		expect(server().calls('GET /chat/poll')[0].query).toMatchObject({ sessionId: '1', messageId: '2', timeout: '25' })
	})

	test('retries a transient failure after a backoff, then goes on', async () => {
		vi.useFakeTimers()
		const options = loopOver([reply({ error: 'down', code: 'app_unavailable' }, 503), { text: 'ok', cursor: 2, done: true }])
		const loop = pollLoop({ ...options, signal: new AbortController().signal })
		await vi.advanceTimersByTimeAsync(900)
		expect(server().calls('GET /chat/poll')).toHaveLength(1) // still waiting out the first backoff (1 s)
		await vi.advanceTimersByTimeAsync(200)
		expect(await loop).toEqual({ end: PollEnd.DONE, error: null })
		expect(options.seen).toEqual([{ text: 'ok', first: true }])
	})

	test('gives up at once on a refusal: 429 on the first request, or a 404', async () => {
		for (const [status, code] of [[429, 'rate_limited'], [404, 'not_found']]) {
			const options = loopOver([reply({ error: 'no', code }, status)])
			const result = await pollLoop({ ...options, signal: new AbortController().signal })
			expect(result.end).toBe(PollEnd.FAILED)
			expect(result.error).toMatchObject({ code, status })
		}
	})

	test('gives up after `retries` transient failures in a row', async () => {
		vi.useFakeTimers()
		server().on('GET /chat/poll', reply({ error: 'down', code: 'storage_unavailable' }, 503))
		const loop = pollLoop({ params: () => ({}), onResponse: () => true, signal: new AbortController().signal, retries: 2 })
		await vi.advanceTimersByTimeAsync(10_000)
		expect((await loop).end).toBe(PollEnd.FAILED)
		expect(server().calls('GET /chat/poll')).toHaveLength(3)
	})

	test('abort ends a request held open by the server, and the loop settles', async () => {
		const held = deferred()
		server().on('GET /chat/poll', () => held.promise)
		const controller = new AbortController()
		const onResponse = vi.fn()
		const loop = pollLoop({ params: () => ({}), onResponse, signal: controller.signal })
		await vi.waitFor(() => expect(server().calls('GET /chat/poll')).toHaveLength(1))
		controller.abort()
		expect(await loop).toEqual({ end: PollEnd.ABORTED, error: null })
		expect(server().calls('GET /chat/poll')[0].aborted).toBe(true)
		held.resolve({ text: 'late', done: true })
		expect(onResponse).not.toHaveBeenCalled()
	})

	test('abort during a backoff ends the wait at once', async () => {
		vi.useFakeTimers()
		server().on('GET /chat/poll', reply({ error: 'down', code: 'network' }, 503))
		const controller = new AbortController()
		const loop = pollLoop({ params: () => ({}), onResponse: () => true, signal: controller.signal })
		await vi.advanceTimersByTimeAsync(10)
		controller.abort()
		expect(await loop).toEqual({ end: PollEnd.ABORTED, error: null })
		expect(server().calls('GET /chat/poll')).toHaveLength(1)
	})

	test('stops after maxRounds without a final response', async () => {
		server().on('GET /chat/poll', { text: '', done: false })
		const result = await pollLoop({ params: () => ({}), onResponse: () => false, signal: new AbortController().signal, maxRounds: 3 })
		expect(result.end).toBe(PollEnd.ROUNDS)
		expect(server().calls('GET /chat/poll')).toHaveLength(3)
	})

	test('sleep resolves early on abort and at once when already aborted', async () => {
		vi.useFakeTimers()
		const controller = new AbortController()
		const slept = sleep(60_000, controller.signal)
		controller.abort()
		await slept
		await sleep(60_000, controller.signal)
		expect(vi.getTimerCount()).toBe(0)
	})
})
