import { describe, expect, test, vi } from 'vitest'
import { effectScope } from 'vue'
import { useChat } from '../../../src/composables/useChat.js'
import { isContinuable } from '../../../src/composables/useVersions.js'
import { FakeEventSource } from '../fakes/eventSource.js'

const server = () => globalThis.server
const msg = (id, role, content, extra = {}) => ({ id, role, content, status: 'done', reply_to: null, sibling_ids: [id], ...extra })

/** One session (1) showing Q1 A1 Q2 A2. */
async function opened() {
	server().on('GET /chat/sessions', [{ id: 1, title: 'First' }])
	server().on('GET /chat/messages', [msg(10, 'human', 'Q1'), msg(11, 'assistant', 'A1', { reply_to: 10 }), msg(12, 'human', 'Q2'), msg(13, 'assistant', 'A2', { reply_to: 12 })])
	server().on('GET /chat/check_session', { messageTaskId: null, sessionTitle: null })
	server().on('GET /chat/session_options', { session: { id: 1 }, options: { connection: null, model: null, system_prompt: null, temperature: null, max_tokens: null } })
	const c = effectScope().run(() => useChat())
	await c.init()
	expect(c.conversation.history.messages.value.map((m) => m.id)).toEqual([10, 11, 12, 13])
	return c
}

/**
 * @param {number} n how many EventSources must have been opened
 * @return {Promise<FakeEventSource>} the newest
 */
async function eventSource(n) {
	await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(n))
	return FakeEventSource.last
}

const shown = (c) => c.conversation.history.messages.value.map((m) => m.content)

describe('useVersions', () => {
	test('editing a question in the middle replaces what followed by the new branch, and streams its answer', async () => {
		const c = await opened()
		server().on('POST /chat/edit_message', (r) => msg(20, 'human', r.body.content, { sibling_ids: [10, 20] }))
		expect(await c.versions.edit(c.conversation.history.messages.value[0], 'Q1 again')).toBe(true)
		expect(server().calls('POST /chat/edit_message')[0].body).toEqual({ sessionId: 1, messageId: 10, content: 'Q1 again' })
		expect(shown(c)).toEqual(['Q1 again'])
		const es = await eventSource(1)
		expect(es.url).toContain('messageId=20')
		es.emit({ started: true, messageId: 21 }, '1')
		es.emit({ done: true, message: msg(21, 'assistant', 'B', { reply_to: 20 }) }, '2')
		await vi.waitFor(() => expect(shown(c)).toEqual(['Q1 again', 'B']))
	})

	test('an arrow shows the other version and the branch after it; a failure keeps what was shown', async () => {
		const c = await opened()
		server().on('POST /chat/switch_branch', { messages: [msg(30, 'assistant', 'A1 old', { reply_to: 10, sibling_ids: [30, 11] })], more: false })
		await c.versions.switchTo(c.conversation.history.messages.value[1], 30)
		expect(server().calls('POST /chat/switch_branch')[0].body).toEqual({ sessionId: 1, messageId: 30 })
		expect(shown(c)).toEqual(['Q1', 'A1 old'])
		server().on('POST /chat/switch_branch', () => ({ status: 400, body: { error: 'busy', code: 'session_already_thinking' } }))
		expect(await c.versions.switchTo(c.conversation.history.messages.value[1], 11)).toBe(false)
		expect(shown(c)).toEqual(['Q1', 'A1 old'])
		expect(c.banner.error.value.code).toBe('session_already_thinking')
	})

	test('regenerating an earlier answer streams the new version in its place; continue streams the same answer', async () => {
		const c = await opened()
		server().on('GET /chat/regenerate', { taskId: 40, messageId: 40, replyTo: 10, engine: 'stream' })
		await c.versions.regenerate(c.conversation.history.messages.value[1])
		expect(shown(c)).toEqual(['Q1'])
		const es = await eventSource(1)
		expect(es.url).toContain('messageId=10')
		es.emit({ done: true, message: msg(40, 'assistant', 'A1 new', { reply_to: 10, sibling_ids: [11, 40], finish_reason: 'length' }) }, '1')
		await vi.waitFor(() => expect(shown(c)).toEqual(['Q1', 'A1 new']))

		server().on('POST /chat/continue', { taskId: 40, messageId: 40, replyTo: 10, engine: 'stream' })
		await c.versions.continueAnswer(c.conversation.history.messages.value[1])
		expect(shown(c)).toEqual(['Q1'])
		const again = await eventSource(2)
		again.emit({ done: true, message: msg(40, 'assistant', 'A1 new and more', { reply_to: 10 }) }, '1')
		await vi.waitFor(() => expect(shown(c)).toEqual(['Q1', 'A1 new and more']))
	})

	test('only an answer cut off by the length limit, a stop or a restart can be continued', () => {
		const a = (extra) => msg(1, 'assistant', 'text', extra)
		expect(isContinuable(a({ finish_reason: 'length' }))).toBe(true)
		expect(isContinuable(a({ status: 'cancelled' }))).toBe(true)
		expect(isContinuable(a({ status: 'interrupted' }))).toBe(true)
		expect(isContinuable(a({ finish_reason: 'stop' }))).toBe(false)
		expect(isContinuable(a({ status: 'interrupted', content: '' }))).toBe(false)
		expect(isContinuable(a({ status: 'cancelled', engine: 'taskprocessing' }))).toBe(false)
		expect(isContinuable(msg(1, 'human', 'q', { status: 'cancelled' }))).toBe(false)
	})
})
