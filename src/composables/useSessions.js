/**
 * The user's conversations (the list on the left): load, create, rename, delete, search. The list is
 * ordered by last activity (the server's order; a question sent here moves its conversation up at
 * once). A conversation whose answer is still being generated where this page does not follow it is
 * marked `generating` by the server; while any is, the list is fetched again every few seconds (one
 * light request for all, not a stream per chat). A title the user gave is never replaced by a
 * generated one. Failures go to the error banner; a rename that the server refuses is taken back.
 */
import { computed, getCurrentScope, onScopeDispose, ref, watch } from 'vue'
import * as api from '../api.js'

/** The server titles a session with its first question until a title is generated: this many characters. */
const PROVISIONAL_TITLE_CHARS = 140
/** How often the list is fetched again while an answer is being generated in the background. */
export const REFRESH_MS = 3000

/**
 * @param {object} banner a useErrorBanner()
 * @param {object} [options] what else it needs
 * @param {import('vue').Ref<number|null>} [options.followedId] the session whose answer this page streams (no need to poll for it)
 * @return {object} sessions, loading and creating refs, search state, and the actions
 */
export function useSessions(banner, { followedId = ref(null) } = {}) {
	const sessions = ref([])
	const loading = ref(false)
	const creating = ref(false)
	/** the search typed, and its results (null: not searching) */
	const query = ref('')
	const results = ref(null)
	const searching = ref(false)
	/** what the list shows: the search results while searching */
	const shown = computed(() => results.value ?? sessions.value)
	let searchSeq = 0

	/**
	 * @param {number} id the session
	 * @param {object} change fields to set
	 */
	function patch(id, change) {
		const apply = (list) => list.map((s) => (s.id === id ? { ...s, ...change } : s))
		sessions.value = apply(sessions.value)
		if (results.value) {
			results.value = apply(results.value)
		}
	}

	/**
	 * @param {number} id the session
	 * @param {string|null} title its new title (shown at once)
	 */
	function setTitle(id, title) {
		patch(id, { title })
	}

	/**
	 * @param {number} id the session
	 * @param {string} title a generated title: not shown when the user named the session
	 */
	function setGeneratedTitle(id, title) {
		if (!sessions.value.find((s) => s.id === id)?.title_manual) {
			setTitle(id, title)
		}
	}

	/**
	 * @param {number} id the session
	 * @param {string} question its first question, which titles it until a title is generated
	 */
	function setProvisionalTitle(id, question) {
		setGeneratedTitle(id, question.length > PROVISIONAL_TITLE_CHARS ? question.slice(0, PROVISIONAL_TITLE_CHARS) + '...' : question)
	}

	/** @param {number} id a session where something just happened: first in the list */
	function touch(id) {
		const session = sessions.value.find((s) => s.id === id)
		if (session) {
			const touched = { ...session, empty: false, last_activity: Math.floor(Date.now() / 1000) }
			sessions.value = [touched, ...sessions.value.filter((s) => s.id !== id)]
		}
	}

	/**
	 * @param {number} id a session
	 * @param {boolean} generating whether an answer is being generated there that this page does not follow
	 */
	function setGenerating(id, generating) {
		patch(id, { generating })
	}

	/**
	 * @param {object} [options] how
	 * @param {boolean} [options.quiet] a refresh in the background: no spinner, no banner
	 * @return {Promise<void>} never rejects
	 */
	async function load({ quiet = false } = {}) {
		loading.value = !quiet
		try {
			const list = await api.getSessions()
			sessions.value = Array.isArray(list) ? list : []
		} catch (e) {
			if (!quiet) {
				banner.show(e, load)
			}
		} finally {
			loading.value = false
		}
	}

	/**
	 * Search titles and message text on the server (its full-text index).
	 *
	 * @param {string} text what to look for ('' ends the search)
	 * @return {Promise<void>} never rejects; a later search wins over an earlier one
	 */
	async function search(text) {
		query.value = text
		const seq = ++searchSeq
		if (!text.trim()) {
			results.value = null
			searching.value = false
			return
		}
		searching.value = true
		try {
			const list = await api.getSessions({ q: text.trim() })
			if (seq === searchSeq) {
				results.value = Array.isArray(list) ? list : []
			}
		} catch (e) {
			if (seq === searchSeq) {
				banner.show(e)
			}
		} finally {
			if (seq === searchSeq) {
				searching.value = false
			}
		}
	}

	/** @return {Promise<object>} the new (or the reused empty) session, first in the list; rejects with the API error */
	async function create() {
		creating.value = true
		try {
			const session = { empty: true, ...(await api.newSession()) }
			sessions.value = [session, ...sessions.value.filter((s) => s.id !== session.id)]
			return session
		} finally {
			creating.value = false
		}
	}

	/**
	 * @param {{id: number, title: string}} change the session and its new title
	 * @return {Promise<void>} never rejects
	 */
	async function rename({ id, title }) {
		const before = sessions.value.find((s) => s.id === id) ?? null
		patch(id, { title, title_manual: true })
		try {
			await api.updateSession(id, title)
		} catch (e) {
			patch(id, { title: before?.title ?? null, title_manual: before?.title_manual ?? false })
			banner.show(e)
		}
	}

	/**
	 * @param {number} id the session to delete on the server and from the list
	 * @return {Promise<boolean>} whether it was deleted; never rejects
	 */
	async function remove(id) {
		try {
			await api.deleteSession(id)
		} catch (e) {
			banner.show(e)
			return false
		}
		sessions.value = sessions.value.filter((s) => s.id !== id)
		if (results.value) {
			results.value = results.value.filter((s) => s.id !== id)
		}
		return true
	}

	// While an answer runs in the background somewhere, look again now and then.
	let timer = null
	const anyGenerating = computed(() => sessions.value.some((s) => s.generating && s.id !== followedId.value))
	watch(anyGenerating, (on) => {
		clearTimeout(timer)
		timer = null
		if (on) {
			const again = () => {
				timer = setTimeout(async () => {
					await load({ quiet: true })
					if (anyGenerating.value && timer !== null) {
						again()
					}
				}, REFRESH_MS)
			}
			again()
		}
	})
	if (getCurrentScope()) {
		onScopeDispose(() => {
			clearTimeout(timer)
			timer = null
		})
	}

	return {
		sessions,
		shown,
		loading,
		creating,
		query,
		results,
		searching,
		load,
		search,
		create,
		rename,
		remove,
		touch,
		setTitle,
		setGeneratedTitle,
		setProvisionalTitle,
		setGenerating,
	}
}
