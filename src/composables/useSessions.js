/**
 * The user's conversations (the list on the left): load, create, rename, delete. Failures go to
 * the error banner; a rename that the server refuses is taken back.
 */
import { ref } from 'vue'
import * as api from '../api.js'

/** The server titles a session with its first question until a title is generated: this many characters. */
const PROVISIONAL_TITLE_CHARS = 140

/**
 * @param {object} banner a useErrorBanner()
 * @return {object} sessions, loading and creating refs, and the actions
 */
export function useSessions(banner) {
	const sessions = ref([])
	const loading = ref(false)
	const creating = ref(false)

	/**
	 * @param {number} id the session
	 * @param {string|null} title its new title (shown at once)
	 */
	function setTitle(id, title) {
		sessions.value = sessions.value.map((s) => (s.id === id ? { ...s, title } : s))
	}

	/**
	 * @param {number} id the session
	 * @param {string} question its first question, which titles it until a title is generated
	 */
	function setProvisionalTitle(id, question) {
		setTitle(id, question.length > PROVISIONAL_TITLE_CHARS ? question.slice(0, PROVISIONAL_TITLE_CHARS) + '...' : question)
	}

	/** @return {Promise<void>} never rejects */
	async function load() {
		loading.value = true
		try {
			const list = await api.getSessions()
			sessions.value = Array.isArray(list) ? list : []
		} catch (e) {
			banner.show(e, load)
		} finally {
			loading.value = false
		}
	}

	/** @return {Promise<object>} the new session, first in the list; rejects with the API error */
	async function create() {
		creating.value = true
		try {
			const session = await api.newSession()
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
		const before = sessions.value.find((s) => s.id === id)?.title ?? null
		setTitle(id, title)
		try {
			await api.updateSession(id, title)
		} catch (e) {
			setTitle(id, before)
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
		return true
	}

	return { sessions, loading, creating, load, create, rename, remove, setTitle, setProvisionalTitle }
}
