/**
 * The stored messages of the open session, oldest first, paged from the newest. Items are replaced,
 * never mutated, so a MessageItem re-renders only when its own message changes.
 */
import { ref, shallowRef } from 'vue'
import * as api from '../api.js'
import { MessageStatus } from '../status.js'

export const PAGE_SIZE = 20

/**
 * @param {object} banner a useErrorBanner()
 * @return {object} the open session's id, messages and paging state, and the changes to them
 */
export function useHistory(banner) {
	const sessionId = ref(null)
	const messages = shallowRef([])
	const hasOlder = ref(false)
	const loadingOlder = ref(false)
	/** message id -> Transport, for answers streamed on this page */
	const transports = shallowRef({})
	/** message id -> normalised error seen while streaming */
	const errors = shallowRef({})
	/** message id -> { ms, open }: how long the model thought, whether the reader had its reasoning open */
	const thoughts = shallowRef({})

	/** @param {number|null} id the session to show, empty until show() */
	function reset(id) {
		sessionId.value = id
		messages.value = []
		hasOlder.value = false
		transports.value = {}
		errors.value = {}
		thoughts.value = {}
	}

	/**
	 * @param {object[]} list the newest page, oldest first
	 * @param {boolean} older whether there are older messages
	 */
	function show(list, older) {
		messages.value = list
		hasOlder.value = older
	}

	/**
	 * Add a message, or replace the one with its id.
	 *
	 * @param {object} message the message
	 * @param {object} [seen] what this page saw while streaming it
	 * @param {string|null} [seen.transport] the Transport it came by
	 * @param {object|null} [seen.error] the normalised error it ended with
	 * @param {object|null} [seen.thought] { ms, open } of its reasoning
	 */
	function put(message, { transport = null, error = null, thought = null } = {}) {
		if (thought) {
			thoughts.value = { ...thoughts.value, [message.id]: thought }
		}
		if (transport) {
			transports.value = { ...transports.value, [message.id]: transport }
		}
		if (error) {
			errors.value = { ...errors.value, [message.id]: error }
		}
		const list = messages.value
		const index = list.findIndex((m) => m.id === message.id)
		if (index === -1) {
			messages.value = [...list, message]
		} else {
			const copy = list.slice()
			copy[index] = message
			messages.value = copy
		}
	}

	/** @param {number} id the message to take out */
	function remove(id) {
		messages.value = messages.value.filter((m) => m.id !== id)
	}

	/** @param {number[]} ids the messages to take out */
	function removeMany(ids) {
		const gone = new Set(ids)
		messages.value = messages.value.filter((m) => !gone.has(m.id))
	}

	/** @param {object[]} list messages taken out before, back in their places (ids grow with time) */
	function restore(list) {
		const known = new Set(messages.value.map((m) => m.id))
		messages.value = [...messages.value, ...list.filter((m) => !known.has(m.id))].sort((a, b) => a.id - b.id)
	}

	/**
	 * @param {number} id the session
	 * @param {number} cursor how many of the newest messages to skip
	 * @return {Promise<object[]>} a page, oldest first; rejects with the API error
	 */
	async function fetchPage(id, cursor) {
		const page = await api.getMessages(id, { limit: PAGE_SIZE, cursor })
		return Array.isArray(page) ? page : []
	}

	/** @return {Promise<void>} the page before the oldest shown; never rejects */
	async function loadOlder() {
		const id = sessionId.value
		if (loadingOlder.value || !hasOlder.value || id === null) {
			return
		}
		loadingOlder.value = true
		try {
			const page = await fetchPage(id, messages.value.length)
			if (sessionId.value !== id) {
				return
			}
			const known = new Set(messages.value.map((m) => m.id))
			const older = page.filter((m) => !known.has(m.id) && m.status !== MessageStatus.GENERATING)
			hasOlder.value = page.length === PAGE_SIZE
			if (older.length) {
				messages.value = [...older, ...messages.value]
			}
		} catch (e) {
			banner.show(e)
		} finally {
			loadingOlder.value = false
		}
	}

	return { sessionId, messages, hasOlder, loadingOlder, transports, errors, thoughts, reset, show, put, remove, removeMany, restore, fetchPage, loadOlder }
}
