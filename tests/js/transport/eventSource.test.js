import { describe, expect, test, vi } from 'vitest'
import { connectEventSource, NO_EVENT_TIMEOUT_MS } from '../../../src/transport/eventSource.js'
import { FakeEventSource } from '../fakes/eventSource.js'

/**
 * @param {boolean} resumed whether the connection resumes a stream
 * @return {object} the connection, its fake EventSource, and the handlers' calls
 */
function connect(resumed = false) {
	const onEvent = vi.fn()
	const onFail = vi.fn()
	const connection = connectEventSource('/app/chat/stream?sessionId=1', { resumed, onEvent, onFail })
	return { connection, es: FakeEventSource.last, onEvent, onFail }
}

describe('connectEventSource', () => {
	test('passes events with their ids; an unreadable one still counts for its id', () => {
		const { es, onEvent, onFail } = connect()
		es.emit({ started: true }, '1')
		es.emit('not json', '2')
		expect(onEvent.mock.calls).toEqual([[{ started: true }, '1'], [null, '2']])
		expect(onFail).not.toHaveBeenCalled()
	})

	test('a fresh connection that stays silent fails after the timeout, and is closed', () => {
		vi.useFakeTimers()
		const { es, onFail } = connect()
		es.open()
		vi.advanceTimersByTime(NO_EVENT_TIMEOUT_MS - 1)
		expect(onFail).not.toHaveBeenCalled()
		vi.advanceTimersByTime(1)
		expect(onFail).toHaveBeenCalledExactlyOnceWith(0)
		expect(es.closed).toBe(true)
		expect([es.onopen, es.onmessage, es.onerror]).toEqual([null, null, null])
	})

	test('a resumed connection only has to open in time', () => {
		vi.useFakeTimers()
		const opened = connect(true)
		opened.es.open()
		const silent = connect(true)
		vi.advanceTimersByTime(NO_EVENT_TIMEOUT_MS)
		expect(opened.onFail).not.toHaveBeenCalled()
		expect(silent.onFail).toHaveBeenCalledExactlyOnceWith(0)
	})

	test('an error is reported once, with the events delivered; the browser may not reconnect', () => {
		vi.useFakeTimers()
		const { es, onEvent, onFail } = connect()
		es.emit({ chunk: 'a' }, '1')
		es.emit({ chunk: 'b' }, '2')
		es.fail()
		es.fail()
		expect(onFail).toHaveBeenCalledExactlyOnceWith(2)
		expect(es.closed).toBe(true)
		es.closed = false // as if the browser reconnected on its own: nothing reaches the caller
		es.emit({ chunk: 'c' }, '3')
		vi.advanceTimersByTime(NO_EVENT_TIMEOUT_MS)
		expect(onEvent).toHaveBeenCalledTimes(2)
		expect(onFail).toHaveBeenCalledTimes(1)
	})

	test('close() is the one teardown: connection, handlers and watchdog', () => {
		vi.useFakeTimers()
		const { connection, es, onFail } = connect()
		connection.close()
		connection.close()
		expect(es.closed).toBe(true)
		expect([es.onopen, es.onmessage, es.onerror]).toEqual([null, null, null])
		expect(vi.getTimerCount()).toBe(0)
		vi.advanceTimersByTime(NO_EVENT_TIMEOUT_MS)
		expect(onFail).not.toHaveBeenCalled()
	})
})
