import { describe, expect, test, vi } from 'vitest'
import { effectScope } from 'vue'
import { useTitleGeneration } from '../../../src/composables/useTitleGeneration.js'
import { Status } from '../../../src/status.js'
import { deferred } from '../fakes/server.js'

const server = () => globalThis.server

/** @return {object} a useTitleGeneration() in its own scope */
function titles() {
	const scope = effectScope()
	return { t: scope.run(() => useTitleGeneration()), scope }
}

describe('useTitleGeneration', () => {
	test('follows the title as it streams in over the shared poll loop, then takes the stored one', async () => {
		server().on('POST /chat/generate_title', { taskId: 77 })
		const answers = [
			{ status: 'generating', text: 'Trip ', cursor: 5 },
			{ status: 'generating', text: 'to Paris', cursor: 13 },
			{ status: 'done', done: true, text: '', cursor: 13 },
		]
		server().on('GET /chat/poll', () => answers.shift())
		server().on('GET /chat/check_title_generation', { sessionTitle: 'Trip to Paris' })
		const { t } = titles()
		const updates = []
		t.expect(5)
		const title = t.afterAnswer(5, Status.DONE, (text, final) => updates.push([text, final]))
		expect(await title).toBe('Trip to Paris')
		expect(updates).toEqual([['Trip', false], ['Trip to Paris', false], ['Trip to Paris', true]])
		expect(server().calls('GET /chat/poll').map((r) => [r.query.title, r.query.cursor])).toEqual([['1', '0'], ['1', '5'], ['1', '13']])
		expect(server().calls('GET /chat/check_title_generation')[0].query).toEqual({ taskId: '77', sessionId: '5' })
	})

	test('titles only a session that expects one, and only after a completed answer', async () => {
		server().on('POST /chat/generate_title', { taskId: 1 })
		server().on('GET /chat/poll', { status: 'done', done: true, text: 'T', cursor: 1 })
		server().on('GET /chat/check_title_generation', {})
		const { t } = titles()
		expect(t.afterAnswer(5, Status.DONE, () => {})).toBeNull()
		t.expect(5)
		expect(t.afterAnswer(5, Status.CANCELLED, () => {})).toBeNull()
		expect(t.afterAnswer(5, Status.ERROR, () => {})).toBeNull()
		expect(await t.afterAnswer(5, Status.DONE, () => {})).toBe('T')
		expect(t.afterAnswer(5, Status.DONE, () => {})).toBeNull() // once
		expect(server().calls('POST /chat/generate_title')).toHaveLength(1)
	})

	test('a second call while a title runs joins it', async () => {
		const held = deferred()
		server().on('POST /chat/generate_title', () => held.promise)
		const { t } = titles()
		const one = t.generate(5, () => {})
		expect(t.generate(5, () => {})).toBe(one)
		held.resolve({ status: 500, body: { error: 'x', code: 'unknown' }, headers: {} })
		expect(await one).toBeNull()
		expect(server().calls('POST /chat/generate_title')).toHaveLength(1)
	})

	test('the owner\'s scope ending aborts the poll in flight and settles with no title', async () => {
		const held = deferred()
		server().on('POST /chat/generate_title', { taskId: 1 })
		server().on('GET /chat/poll', () => held.promise)
		const { t, scope } = titles()
		const onUpdate = vi.fn()
		const title = t.generate(5, onUpdate)
		await vi.waitFor(() => expect(server().calls('GET /chat/poll')).toHaveLength(1))
		scope.stop()
		expect(await title).toBeNull()
		expect(server().calls('GET /chat/poll')[0].aborted).toBe(true)
		held.resolve({ status: 'done', done: true, text: 'Late', cursor: 4 })
		expect(onUpdate).not.toHaveBeenCalled()
		expect(server().calls('GET /chat/check_title_generation')).toHaveLength(0)
	})

	test('forget() stops the title of a deleted session', async () => {
		server().on('POST /chat/generate_title', { taskId: 1 })
		server().on('GET /chat/poll', () => new Promise(() => {}))
		const { t } = titles()
		t.expect(6)
		const title = t.generate(5, () => {})
		await vi.waitFor(() => expect(server().calls('GET /chat/poll')).toHaveLength(1))
		t.forget(5)
		t.forget(6)
		expect(await title).toBeNull()
		expect(t.afterAnswer(6, Status.DONE, () => {})).toBeNull()
	})
})
