/**
 * Deleting a message, with undo. A question goes together with its answers (the server deletes them
 * with it: an answer without its question would confuse the reader and the model's context alike);
 * an answer alone leaves its question, which can be answered again. The messages leave the view at
 * once; the server is told after UNDO_MS, or before anything that reads the conversation (sending,
 * regenerating, switching), or when the page goes away. Until then "Undo" puts them back.
 */
import { getCurrentScope, onScopeDispose, shallowRef } from 'vue'
import * as api from '../api.js'

export const UNDO_MS = 8000

/**
 * @param {object} deps what it works on
 * @param {object} deps.history the open session's useHistory()
 * @param {object} deps.banner a useErrorBanner()
 * @return {object} pending (ref: { sessionId, message, removed } or null), remove / undo / flush
 */
export function useMessageDeletion({ history, banner }) {
	const pending = shallowRef(null)
	let timer = null

	/**
	 * @param {object} message the message the user confirmed to delete
	 */
	function remove(message) {
		flush()
		const sessionId = history.sessionId.value
		const removed = history.messages.value.filter((m) => m.id === message.id
			|| (message.role === 'human' && m.reply_to === message.id))
		history.removeMany(removed.map((m) => m.id))
		pending.value = { sessionId, message, removed }
		timer = setTimeout(flush, UNDO_MS)
	}

	/** Put the messages back: nothing was deleted on the server. */
	function undo() {
		const deletion = pending.value
		if (!deletion) {
			return
		}
		clearTimeout(timer)
		pending.value = null
		if (history.sessionId.value === deletion.sessionId) {
			history.restore(deletion.removed)
		}
	}

	/**
	 * Tell the server now.
	 *
	 * @param {object} [options] how
	 * @param {boolean} [options.keepalive] the page is going away: the request must outlive it
	 * @return {Promise<void>} once the server answered; never rejects
	 */
	async function flush({ keepalive = false } = {}) {
		const deletion = pending.value
		if (!deletion) {
			return
		}
		clearTimeout(timer)
		pending.value = null
		try {
			await api.deleteMessage(deletion.sessionId, deletion.message.id, { keepalive })
		} catch (e) {
			if (e?.code === 'not_found') {
				return // already gone
			}
			if (history.sessionId.value === deletion.sessionId) {
				history.restore(deletion.removed)
			}
			banner.show(e)
		}
	}

	const onPageHide = () => flush({ keepalive: true })
	window.addEventListener('pagehide', onPageHide)
	if (getCurrentScope()) {
		onScopeDispose(() => {
			window.removeEventListener('pagehide', onPageHide)
			flush()
		})
	}

	return { pending, remove, undo, flush }
}
