import { describe, expect, test, vi } from 'vitest'
import { useErrorBanner } from '../../../src/composables/useErrorBanner.js'
import { useSessions } from '../../../src/composables/useSessions.js'
import { deferred, reply } from '../fakes/server.js'

const server = () => globalThis.server
const session = (id, title) => ({ id, title, user_id: 'local' })

/** @return {object} a useSessions() with its banner */
function sessions() {
	const banner = useErrorBanner()
	return { s: useSessions(banner), banner }
}

describe('useSessions', () => {
	test('loads the list, and "Try again" reloads it after a failure', async () => {
		let answer = reply({ error: 'db down', code: 'storage_unavailable' }, 503)
		server().on('GET /chat/sessions', () => answer)
		const { s, banner } = sessions()
		const loading = s.load()
		expect(s.loading.value).toBe(true)
		await loading
		expect([s.loading.value, s.sessions.value]).toEqual([false, []])
		expect(banner.error.value).toMatchObject({ code: 'storage_unavailable' })
		answer = [session(2, 'B'), session(1, 'A')]
		banner.runRetry()
		expect(banner.error.value).toBeNull()
		await vi.waitFor(() => expect(s.sessions.value.map((x) => x.id)).toEqual([2, 1]))
	})

	test('a new session comes first, once', async () => {
		const created = deferred()
		server().on('GET /chat/sessions', [session(1, 'A')])
		server().on('PUT /chat/new_session', () => created.promise)
		const { s } = sessions()
		await s.load()
		const creating = s.create()
		expect(s.creating.value).toBe(true)
		created.resolve({ session: session(2, null) })
		expect(await creating).toEqual({ ...session(2, null), empty: true })
		expect([s.creating.value, s.sessions.value.map((x) => x.id)]).toEqual([false, [2, 1]])
		expect(typeof server().calls('PUT /chat/new_session')[0].body.timestamp).toBe('number')
	})

	test('a failed create rejects with the API error and leaves the list alone', async () => {
		server().on('PUT /chat/new_session', reply({ error: 'slow down', code: 'rate_limited' }, 429, { 'Retry-After': '4' }))
		const { s } = sessions()
		await expect(s.create()).rejects.toMatchObject({ code: 'rate_limited', retryAfter: 4, advice: 'Please wait 4 seconds and try again.' })
		expect([s.creating.value, s.sessions.value]).toEqual([false, []])
	})

	test('a rename (PUT: the stock proxy refuses PATCH) shows at once and is taken back when the server refuses it', async () => {
		server().on('GET /chat/sessions', [session(1, 'Old')])
		let answer = {}
		server().on('PUT /chat/update_session', () => answer)
		const { s, banner } = sessions()
		await s.load()
		const renaming = s.rename({ id: 1, title: 'New' })
		expect(s.sessions.value[0].title).toBe('New')
		await renaming
		expect(server().calls('PUT /chat/update_session')[0].body).toEqual({ sessionId: 1, title: 'New' })
		answer = reply({ error: 'too long', code: 'too_large' }, 400)
		await s.rename({ id: 1, title: 'x'.repeat(500) })
		expect(s.sessions.value[0].title).toBe('New')
		expect(banner.error.value).toMatchObject({ code: 'too_large' })
	})

	test('remove() deletes on the server first; a refusal keeps the session', async () => {
		server().on('GET /chat/sessions', [session(1, 'A'), session(2, 'B')])
		let answer = reply({ error: 'no', code: 'not_found' }, 404)
		server().on('DELETE /chat/delete_session', () => answer)
		const { s, banner } = sessions()
		await s.load()
		expect(await s.remove(1)).toBe(false)
		expect(s.sessions.value).toHaveLength(2)
		expect(banner.error.value).toMatchObject({ code: 'not_found' })
		answer = {}
		expect(await s.remove(1)).toBe(true)
		expect(s.sessions.value.map((x) => x.id)).toEqual([2])
		expect(server().calls('DELETE /chat/delete_session')[1].query).toEqual({ sessionId: '1' })
	})

	test('the first question titles a session until a title is generated, cut at 140 characters', async () => {
		server().on('GET /chat/sessions', [session(1, null)])
		const { s } = sessions()
		await s.load()
		s.setProvisionalTitle(1, 'Short question')
		expect(s.sessions.value[0].title).toBe('Short question')
		s.setProvisionalTitle(1, 'q'.repeat(200))
		expect(s.sessions.value[0].title).toBe('q'.repeat(140) + '...')
	})

	test('search asks the server; a later search wins; an empty one ends it', async () => {
		const slow = deferred()
		server().on('GET /chat/sessions', (r) => (r.query.q === 'par' ? slow.promise : r.query.q === 'paris' ? [session(3, 'Paris')] : [session(1, 'A'), session(3, 'Paris')]))
		const { s } = sessions()
		await s.load()
		const first = s.search('par')
		await s.search('paris')
		slow.resolve([session(9, 'stale')])
		await first
		expect(s.shown.value.map((x) => x.id)).toEqual([3])
		await s.search('')
		expect([s.results.value, s.shown.value.map((x) => x.id)]).toEqual([null, [1, 3]])
	})

	test('a title the user gave is never replaced by a generated one', async () => {
		server().on('GET /chat/sessions', [session(1, 'Old')])
		server().on('PUT /chat/update_session', { ok: true })
		const { s } = sessions()
		await s.load()
		await s.rename({ id: 1, title: 'Mine' })
		s.setGeneratedTitle(1, 'Generated')
		expect(s.sessions.value[0]).toMatchObject({ title: 'Mine', title_manual: true })
	})

	test('while an answer runs in the background the list is fetched again, until it is done', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
		let busy = true
		server().on('GET /chat/sessions', () => [{ ...session(1, 'A'), generating: busy }])
		const { s } = sessions()
		await s.load()
		expect(server().calls('GET /chat/sessions')).toHaveLength(1)
		await vi.advanceTimersByTimeAsync(3000)
		expect(server().calls('GET /chat/sessions')).toHaveLength(2)
		busy = false
		await vi.advanceTimersByTimeAsync(3000)
		expect(s.sessions.value[0].generating).toBe(false)
		await vi.advanceTimersByTimeAsync(9000)
		expect(server().calls('GET /chat/sessions')).toHaveLength(3)
	})
})
