import { describe, expect, test } from 'vitest'
import { getConfig } from '../../../src/config.js'
import { eventFromPoll } from '../../../src/transport/answerStream.js'
import { streamUrlFor } from '../../../src/transport/streamUrl.js'

describe('eventFromPoll', () => {
	test('the first response replaces the text, later ones append, with a token estimate', () => {
		const first = eventFromPoll({ status: 'generating', text: 'Hello world', reasoning: 'hm', messageId: 3 }, true)
		expect(first).toEqual({ started: true, messageId: 3, chunk: 'Hello world', reasoning: 'hm', replace: true, tokens: 3 })
		expect(eventFromPoll({ status: 'generating', text: '!' }, false)).toMatchObject({ replace: false, chunk: '!', tokens: 1 })
	})

	test('a final response is a done event with the status the server stored', () => {
		const message = { id: 3, status: 'cancelled', content: 'Part' }
		expect(eventFromPoll({ status: 'cancelled', done: true, text: '', message }, false))
			.toMatchObject({ done: true, status: 'cancelled', message })
		expect(eventFromPoll({ done: true, text: 'x', finishReason: 'length' }, false))
			.toMatchObject({ done: true, status: 'done', finishReason: 'length' })
	})

	test('a failed answer is an error event, even with no error text', () => {
		expect(eventFromPoll({ status: 'error', done: true, text: '', code: 'provider_timeout' }, false))
			.toMatchObject({ done: false, status: 'error', error: '', code: 'provider_timeout' })
		expect(eventFromPoll({ status: 'error', done: true, text: '', message: { error: 'Stored reason' } }, false))
			.toMatchObject({ status: 'error', error: 'Stored reason' })
	})
})

describe('streamUrlFor', () => {
	test('direct: the app\'s own route, resumed after the last event id', async () => {
		const url = streamUrlFor(1, 2)
		expect(await url(null)).toBe('/app/chat/stream?sessionId=1&messageId=2')
		expect(await url('7')).toBe('/app/chat/stream?sessionId=1&messageId=2&lastEventId=7')
	})

	test('harp: Nextcloud\'s root plus the stream base', async () => {
		Object.assign(getConfig().delivery, { mode: 'harp', streamBase: '/exapps/assistant_stream' })
		try {
			expect(await streamUrlFor(1, 2)(null)).toBe('/exapps/assistant_stream/chat/stream?sessionId=1&messageId=2')
		} finally {
			Object.assign(getConfig().delivery, { mode: 'direct', streamBase: null })
		}
	})

	test('public: one stream token per answer, its URL resumed after the last event id', async () => {
		globalThis.server.on('POST /chat/stream_token', { url: 'https://stream.example/chat/stream?token=abc' })
		getConfig().delivery.mode = 'public'
		try {
			const url = streamUrlFor(1, 2)
			expect(await url(null)).toBe('https://stream.example/chat/stream?token=abc')
			expect(await url('9')).toBe('https://stream.example/chat/stream?token=abc&lastEventId=9')
			expect(globalThis.server.calls('POST /chat/stream_token')).toHaveLength(1)
			expect(globalThis.server.calls('POST /chat/stream_token')[0].body).toEqual({ sessionId: 1, messageId: 2 })
		} finally {
			getConfig().delivery.mode = 'direct'
		}
	})
})
