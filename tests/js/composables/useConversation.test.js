import { mount } from '@vue/test-utils'
import { describe, expect, test, vi } from 'vitest'
import { defineComponent, effectScope, h } from 'vue'
import { injectChat, provideChat, useChat } from '../../../src/composables/useChat.js'
import { Status } from '../../../src/status.js'
import { FakeEventSource } from '../fakes/eventSource.js'

const server = () => globalThis.server
const human = (id, content) => ({ id, role: 'human', content, status: 'done', reply_to: null })
const answer = (id, replyTo, content, status = 'done') => ({ id, role: 'assistant', content, status, reply_to: replyTo })

/** @return {object} a useChat() in its own scope */
function chat() {
	const scope = effectScope()
	return { c: scope.run(() => useChat()), scope }
}

/**
 * @param {number} n how many EventSources must have been opened
 * @return {Promise<FakeEventSource>} the newest
 */
async function eventSource(n) {
	await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(n))
	return FakeEventSource.last
}

/** The routes of one session (id 1) with one question and its answer. */
function oneSession() {
	server().on('GET /chat/sessions', [{ id: 1, title: 'First' }, { id: 2, title: 'Second' }])
	server().on('GET /chat/messages', (r) => (r.query.sessionId === '1' ? [human(10, 'Q'), answer(11, 10, 'A')] : []))
	server().on('GET /chat/check_session', { messageTaskId: null, sessionTitle: null })
}

describe('useConversation', () => {
	test('the first question opens a session, streams its answer into the history, and titles it', async () => {
		server().on('PUT /chat/new_session', { session: { id: 7, title: null } })
		server().on('PUT /chat/new_message', (r) => human(20, r.body.content))
		server().on('POST /chat/generate_title', { taskId: 7 })
		server().on('GET /chat/poll', { status: 'done', done: true, text: 'Paris trip', cursor: 10 })
		server().on('GET /chat/check_title_generation', { sessionTitle: 'Paris trip' })
		const { c } = chat()
		const conv = c.conversation
		expect(await conv.send('Plan a trip to Paris')).toBe(true)
		expect(conv.activeId.value).toBe(7)
		expect(server().calls('PUT /chat/new_message')[0].body).toMatchObject({ sessionId: 7, content: 'Plan a trip to Paris', firstHumanMessage: true })
		expect(c.sessions.sessions.value).toMatchObject([{ id: 7, title: 'Plan a trip to Paris' }])
		expect([conv.busy.value, conv.showStreaming.value, conv.generatingId.value]).toEqual([true, true, 7])

		const es = await eventSource(1)
		expect(es.url).toContain('messageId=20')
		es.emit({ started: true, messageId: 21 }, '1')
		es.emit({ chunk: 'Start at the Louvre.' }, '2')
		es.emit({ done: true, message: answer(21, 20, 'Start at the Louvre.') }, '3')
		await vi.waitFor(() => expect(conv.history.messages.value.map((m) => m.id)).toEqual([20, 21]))
		expect(conv.history.transports.value).toEqual({ 21: 'sse' })
		expect([conv.busy.value, conv.showStreaming.value, conv.generation.status.value]).toEqual([false, false, Status.IDLE])
		await vi.waitFor(() => expect(c.sessions.sessions.value[0].title).toBe('Paris trip'))
	})

	test('opening a session re-attaches to the answer the server is still generating', async () => {
		server().on('GET /chat/sessions', [{ id: 1, title: 'Busy' }])
		server().on('GET /chat/messages', [human(10, 'Q'), answer(11, 10, 'Par', 'generating')])
		server().on('GET /chat/check_session', { messageTaskId: 11, sessionTitle: 'Busy one' })
		const { c } = chat()
		await c.init()
		const conv = c.conversation
		expect(conv.history.messages.value.map((m) => m.id)).toEqual([10])
		expect(c.sessions.sessions.value[0].title).toBe('Busy one')
		const es = await eventSource(1)
		expect(es.url).toBe('/app/chat/stream?sessionId=1&messageId=10')
		expect(conv.showStreaming.value).toBe(true)
	})

	test('switching away leaves the answer running on the server: the stream closes, nothing is stopped', async () => {
		oneSession()
		server().on('PUT /chat/new_message', human(12, 'Q2'))
		const { c } = chat()
		await c.init()
		const conv = c.conversation
		expect(conv.history.messages.value.map((m) => m.id)).toEqual([10, 11])
		expect(await conv.send('Q2')).toBe(true)
		expect(server().calls('PUT /chat/new_message')[0].body.firstHumanMessage).toBe(false)
		const es = await eventSource(1)
		es.emit({ chunk: 'Half' }, '1')
		await conv.open(2)
		expect(es.closed).toBe(true)
		expect([conv.activeId.value, conv.showStreaming.value, conv.generatingId.value]).toEqual([2, false, null])
		expect(server().calls('POST /chat/stop')).toHaveLength(0)
	})

	test('an answer that failed before anything was stored shows the banner with a retry', async () => {
		oneSession()
		server().on('PUT /chat/new_message', human(12, 'Q2'))
		const { c } = chat()
		await c.init()
		await c.conversation.send('Q2')
		;(await eventSource(1)).emit({ error: 'Rate limit reached', code: 'rate_limited' }, '1')
		await vi.waitFor(() => expect(c.banner.error.value).toMatchObject({ code: 'rate_limited' }))
		expect(c.banner.retry.value).toBeTypeOf('function')
		c.banner.runRetry()
		const again = await eventSource(2)
		expect(again.url).toContain('messageId=12')
	})

	test('"New conversation" reuses an empty open one; deleting the open one opens the next', async () => {
		oneSession()
		server().on('PUT /chat/new_session', { session: { id: 3, title: null } })
		server().on('DELETE /chat/delete_session', {})
		const { c } = chat()
		await c.init()
		expect(await c.newConversation()).toBe(true)
		expect(c.conversation.activeId.value).toBe(3)
		expect(await c.newConversation()).toBe(true)
		expect(server().calls('PUT /chat/new_session')).toHaveLength(1)
		await c.removeSession(3)
		expect(c.conversation.activeId.value).toBe(1)
		expect(c.sessions.sessions.value.map((s) => s.id)).toEqual([1, 2])
	})

	test('loading older messages prepends the page before the oldest shown', async () => {
		const page = (from) => Array.from({ length: 20 }, (_, i) => human(from + i, `m${from + i}`))
		server().on('GET /chat/sessions', [{ id: 1, title: 'Long' }])
		server().on('GET /chat/messages', (r) => (r.query.cursor === '0' ? page(100) : [human(99, 'm99')]))
		server().on('GET /chat/check_session', { messageTaskId: null })
		const { c } = chat()
		await c.init()
		const history = c.conversation.history
		expect(history.hasOlder.value).toBe(true)
		await history.loadOlder()
		expect(history.messages.value[0].id).toBe(99)
		expect(history.messages.value).toHaveLength(21)
		expect(history.hasOlder.value).toBe(false)
		expect(server().calls('GET /chat/messages')[1].query).toMatchObject({ cursor: '20', limit: '20' })
	})
})

describe('provide/inject', () => {
	test('components below ChatApp share the one chat; outside it, injectChat() says so', () => {
		let provided
		let injected
		const Child = defineComponent({
			setup() {
				injected = injectChat()
				return () => h('span')
			},
		})
		mount(defineComponent({
			setup() {
				provided = provideChat()
				return () => h('div', [h(Child)])
			},
		}))
		expect(injected).toBe(provided)
		const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
		expect(() => mount(Child)).toThrow(/outside a ChatApp/)
		expect(warn).toHaveBeenCalled() // Vue's own word about the failed setup
	})

	test('deleting a question hides it with its answer; undo brings both back; the server hears of it only after', async () => {
		oneSession()
		server().on('DELETE /chat/delete_message', { ok: true })
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
		const { c } = chat()
		await c.init()
		const conv = c.conversation
		conv.removeMessage(conv.history.messages.value[0])
		expect(conv.history.messages.value).toEqual([])
		expect(conv.deletion.pending.value.removed.map((m) => m.id)).toEqual([10, 11])
		conv.deletion.undo()
		expect(conv.history.messages.value.map((m) => m.id)).toEqual([10, 11])
		expect(server().calls('DELETE /chat/delete_message')).toEqual([])

		conv.removeMessage(conv.history.messages.value[1]) // an answer: alone
		expect(conv.history.messages.value.map((m) => m.id)).toEqual([10])
		vi.advanceTimersByTime(8000)
		await vi.waitFor(() => expect(server().calls('DELETE /chat/delete_message')).toHaveLength(1))
		expect(server().calls('DELETE /chat/delete_message')[0].query).toMatchObject({ sessionId: '1', messageId: '11' })
		expect(conv.deletion.pending.value).toBeNull()
	})

	test('a pending deletion reaches the server before the next question', async () => {
		oneSession()
		const order = []
		server().on('DELETE /chat/delete_message', () => {
			order.push('delete')
			return { ok: true }
		})
		server().on('PUT /chat/new_message', (r) => {
			order.push('question')
			return human(30, r.body.content)
		})
		const { c } = chat()
		await c.init()
		c.conversation.removeMessage(c.conversation.history.messages.value[0])
		await c.conversation.send('Next')
		expect(order).toEqual(['delete', 'question'])
	})
})
