import { mount } from '@vue/test-utils'
import { beforeEach, describe, expect, test, vi } from 'vitest'
import { defineComponent, effectScope, h, watch } from 'vue'
import { FakeEventSource } from '../fakes/eventSource.js'
import { deferred } from '../fakes/server.js'

const server = () => globalThis.server
const FINAL = 'Hello world, bye'

// A fresh module graph for each test: "SSE is broken on this page" is per page load.
let useGeneration, isSseKnownBroken, getConfig, Status
beforeEach(async () => {
	vi.resetModules()
	;({ useGeneration } = await import('../../../src/composables/useGeneration.js'))
	;({ isSseKnownBroken } = await import('../../../src/transport/answerStream.js'))
	;({ getConfig } = await import('../../../src/config.js'))
	;({ Status } = await import('../../../src/status.js'))
})

/** @return {object} a useGeneration() in its own scope, with every text and status it went through */
function generation() {
	const scope = effectScope()
	const g = scope.run(() => useGeneration())
	const texts = []
	const statuses = []
	scope.run(() => {
		watch(g.text, (v) => texts.push(v), { flush: 'sync' })
		watch(g.status, (v) => statuses.push(v), { flush: 'sync' })
	})
	return { g, scope, texts, statuses }
}

/**
 * @param {number} n how many EventSources must have been opened
 * @return {Promise<FakeEventSource>} the newest
 */
async function eventSource(n) {
	// microtasks only: vi.waitFor would move fake clocks on
	for (let i = 0; i < 100 && FakeEventSource.instances.length < n; i++) {
		await Promise.resolve()
	}
	expect(FakeEventSource.instances).toHaveLength(n)
	return FakeEventSource.last
}

const message = (content, status = 'done') => ({ id: 3, role: 'assistant', reply_to: 2, content, status })

/** @param {object[]} responses poll responses in order; a deferred's promise holds a request open */
function pollAnswers(responses) {
	server().on('GET /chat/poll', () => responses.shift())
}

describe('useGeneration over SSE', () => {
	test('streams chunks in order and ends with the stored message', async () => {
		const { g, statuses } = generation()
		const result = g.start(1, 2)
		const es = await eventSource(1)
		expect(es.url).toBe('/app/chat/stream?sessionId=1&messageId=2')
		es.open()
		es.emit({ started: true, messageId: 3, model: 'test-model' }, '1')
		expect([g.status.value, g.messageId.value, g.model.value]).toEqual([Status.WAITING, 3, 'test-model'])
		es.emit({ chunk: 'Hello ' }, '2')
		es.emit({ chunk: 'world' }, '3')
		expect([g.status.value, g.text.value, g.transport.value]).toEqual([Status.STREAMING, 'Hello world', 'sse'])
		es.emit({ done: true, message: message('Hello world'), usage: { total_tokens: 7 } }, '4')
		expect(await result).toMatchObject({ status: Status.DONE, transport: 'sse', error: null, message: { id: 3 } })
		expect(statuses).toEqual([Status.CONNECTING, Status.WAITING, Status.STREAMING, Status.DONE])
		expect(g.usage.value).toEqual({ total_tokens: 7 })
		expect(es.closed).toBe(true)
	})

	test('an error event ends the answer with the user\'s text for its code', async () => {
		const { g } = generation()
		const result = g.start(1, 2)
		const es = await eventSource(1)
		es.emit({ started: true, messageId: 3 }, '1')
		es.emit({ error: 'Incorrect API key provided', code: 'provider_auth' }, '2')
		const { status, error } = await result
		expect(status).toBe(Status.ERROR)
		expect(error).toMatchObject({ code: 'provider_auth', message: 'The AI provider rejected the API key.', serverMessage: 'Incorrect API key provided' })
		expect(g.status.value).toBe(Status.ERROR)
	})

	test('the detail the server sends an administrator is kept for the Details toggle', async () => {
		const { g } = generation()
		const result = g.start(1, 2)
		const es = await eventSource(1)
		es.emit({ started: true, messageId: 3 }, '1')
		const detail = 'The connection to the AI provider at http://10.0.0.5:8000 was lost during the answer (ReadError)'
		es.emit({ error: 'The connection to the AI provider broke off during the answer', code: 'provider_dropped', detail, message: { id: 3, error_code: 'provider_dropped' } }, '2')
		const { error } = await result
		expect(error).toMatchObject({ code: 'provider_dropped', message: 'The connection to the AI provider broke off mid-answer.', detail })
	})

	test('without a detail from the server there is none, and the stored one of a message is used', async () => {
		const { g } = generation()
		const result = g.start(1, 2)
		const es = await eventSource(1)
		es.emit({ started: true, messageId: 3 }, '1')
		es.emit({ error: 'The AI provider failed', code: 'provider_error', message: { id: 3, error_code: 'provider_error', error_detail: 'HTTP 400: bad' } }, '2')
		expect((await result).error).toMatchObject({ code: 'provider_error', detail: 'HTTP 400: bad' })
		const other = generation().g
		const second = other.start(1, 4)
		const es2 = await eventSource(2)
		es2.emit({ error: 'The AI provider failed', code: 'provider_error' }, '1')
		expect((await second).error.detail).toBe('')
	})
})

describe('switching from SSE to long-poll', () => {
	test('a stream that drops is resumed, then long-poll takes over: no text twice, none lost', async () => {
		const { g, texts, statuses } = generation()
		pollAnswers([
			{ status: 'generating', done: false, text: 'Hello world', cursor: 11, reasoning: '', rcursor: 0, messageId: 3 },
			{ status: 'done', done: true, text: ', bye', cursor: 16, reasoning: '', rcursor: 0, messageId: 3, message: message(FINAL) },
		])
		const result = g.start(1, 2)
		const first = await eventSource(1)
		first.open()
		first.emit({ started: true, messageId: 3 }, '1')
		first.emit({ chunk: 'Hello ' }, '2')
		first.emit({ chunk: 'wor' }, '3')
		first.fail()
		const resumed = await eventSource(2)
		expect(resumed.url).toContain('lastEventId=3')
		resumed.fail() // the resume fails without an event: long-poll
		expect(await result).toMatchObject({ status: Status.DONE, transport: 'poll' })
		expect(g.text.value).toBe(FINAL)
		for (const text of texts) {
			expect(FINAL.startsWith(text), `${JSON.stringify(text)} is not a prefix of the answer`).toBe(true)
		}
		expect(texts).toEqual(['Hello ', 'Hello wor', 'Hello world', FINAL])
		expect(server().calls('GET /chat/poll').map((r) => [r.query.cursor, r.query.messageId])).toEqual([['0', '2'], ['11', '2']])
		expect(statuses).toEqual([Status.CONNECTING, Status.WAITING, Status.STREAMING, Status.DONE])
		expect(isSseKnownBroken()).toBe(false) // SSE did deliver on this page
	})

	test('a silent stream (buffering proxy) falls back after 2 s, and later answers poll at once', async () => {
		vi.useFakeTimers()
		const { g } = generation()
		server().on('GET /chat/poll', { status: 'done', done: true, text: 'Hi', cursor: 2, messageId: 3, message: message('Hi') })
		const result = g.start(1, 2)
		const es = await eventSource(1)
		es.open()
		await vi.advanceTimersByTimeAsync(1999)
		expect(server().calls('GET /chat/poll')).toHaveLength(0)
		await vi.advanceTimersByTimeAsync(1)
		expect(await result).toMatchObject({ status: Status.DONE, transport: 'poll' })
		expect(es.closed).toBe(true)
		expect(isSseKnownBroken()).toBe(true)

		const second = await g.start(1, 4)
		expect(second).toMatchObject({ status: Status.DONE, transport: 'poll' })
		expect(FakeEventSource.instances).toHaveLength(1)
	})

	test('a refused stream whose long-poll fails with a 4xx was the request\'s fault, not the transport\'s', async () => {
		const { g } = generation()
		server().on('GET /chat/poll', { status: 404, body: { error: 'Not found', code: 'not_found' }, headers: {} })
		const result = g.start(1, 2)
		;(await eventSource(1)).fail()
		expect(await result).toMatchObject({ status: Status.ERROR, error: { code: 'not_found' } })
		expect(isSseKnownBroken()).toBe(false)
	})

	test('poll mode never opens an EventSource, and streams reasoning before the text', async () => {
		getConfig().delivery.mode = 'poll'
		const { g, statuses } = generation()
		pollAnswers([
			{ status: 'generating', text: '', cursor: 0, reasoning: 'Think', rcursor: 5, messageId: 3 },
			{ status: 'generating', text: 'Hi', cursor: 2, reasoning: 'ing', rcursor: 8, messageId: 3 },
			{ status: 'done', done: true, text: '', cursor: 2, reasoning: '', rcursor: 8, messageId: 3, message: message('Hi') },
		])
		expect(await g.start(1, 2)).toMatchObject({ status: Status.DONE, transport: 'poll' })
		expect(FakeEventSource.instances).toHaveLength(0)
		expect(g.reasoning.value).toBe('Thinking')
		expect(statuses).toEqual([Status.CONNECTING, Status.WAITING, Status.STREAMING, Status.DONE])
		expect(server().calls('GET /chat/poll').map((r) => r.query.rcursor)).toEqual(['0', '5', '8'])
		expect(isSseKnownBroken()).toBe(false)
	})
})

describe('ownership: abort, stop, settle', () => {
	test('unmounting the owner closes the stream and settles the promise as detached', async () => {
		let g
		let result
		const Owner = defineComponent({
			setup() {
				g = useGeneration()
				result = g.start(1, 2)
				return () => h('div')
			},
		})
		const wrapper = mount(Owner)
		const es = await eventSource(1)
		es.emit({ chunk: 'Hi' }, '1')
		wrapper.unmount()
		expect(es.closed).toBe(true)
		expect(await result).toMatchObject({ status: Status.DETACHED })
		es.closed = false
		es.emit({ chunk: ' there' }, '2')
		expect(g.text.value).toBe('Hi')
	})

	test('unmounting while a long-poll is held open aborts the request', async () => {
		getConfig().delivery.mode = 'poll'
		const held = deferred()
		server().on('GET /chat/poll', () => held.promise)
		let result
		const wrapper = mount(defineComponent({
			setup() {
				result = useGeneration().start(1, 2)
				return () => h('div')
			},
		}))
		await vi.waitFor(() => expect(server().calls('GET /chat/poll')).toHaveLength(1))
		wrapper.unmount()
		expect(await result).toMatchObject({ status: Status.DETACHED })
		await vi.waitFor(() => expect(server().calls('GET /chat/poll')[0].aborted).toBe(true))
		expect(server().calls('GET /chat/poll')).toHaveLength(1)
	})

	test('a second start() settles the first as detached and closes its stream', async () => {
		const { g } = generation()
		const first = g.start(1, 2)
		const firstEs = await eventSource(1)
		const second = g.start(1, 4)
		expect(await first).toMatchObject({ status: Status.DETACHED })
		expect(firstEs.closed).toBe(true)
		const es = await eventSource(2)
		es.emit({ done: true, message: message('Fine') }, '1')
		expect(await second).toMatchObject({ status: Status.DONE })
	})

	test('stop() keeps the partial text shown and ends as cancelled', async () => {
		server().on('POST /chat/stop', { message: message('', 'cancelled') })
		const { g } = generation()
		const result = g.start(1, 2)
		const es = await eventSource(1)
		es.emit({ started: true, messageId: 3 }, '1')
		es.emit({ chunk: 'Part of it' }, '2')
		expect(await g.stop()).toEqual({ ok: true })
		expect(await result).toMatchObject({ status: Status.CANCELLED })
		expect([g.text.value, g.status.value, g.stopping.value]).toEqual(['Part of it', Status.CANCELLED, false])
		expect(server().calls('POST /chat/stop')[0].body).toEqual({ sessionId: 1, messageId: 2 })
		expect(es.closed).toBe(true)
		expect(await g.stop()).toEqual({ ok: false }) // nothing left to stop
	})

	test('a refused stop() leaves the answer streaming and says why', async () => {
		server().on('POST /chat/stop', { status: 503, body: { error: 'down', code: 'app_unavailable' }, headers: {} })
		const { g } = generation()
		g.start(1, 2)
		;(await eventSource(1)).emit({ chunk: 'Still' }, '1')
		const stopped = await g.stop()
		expect(stopped).toMatchObject({ ok: false, error: { code: 'app_unavailable' } })
		expect([g.status.value, g.stopping.value]).toEqual([Status.STREAMING, false])
	})

	test('reset() lets go and forgets everything', async () => {
		const { g } = generation()
		const result = g.start(1, 2)
		;(await eventSource(1)).emit({ chunk: 'x' }, '1')
		g.reset()
		expect(await result).toMatchObject({ status: Status.DETACHED })
		expect([g.status.value, g.text.value, g.sessionId.value, g.transport.value]).toEqual([Status.IDLE, '', null, null])
	})
})
