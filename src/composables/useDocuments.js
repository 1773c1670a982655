/**
 * "Ask my documents": whether Nextcloud offers context_chat (GET /chat/documents, asked once), and the
 * open conversation's switch (stored on the session, PUT /chat/session_options).
 */
import { computed, ref } from 'vue'
import * as api from '../api.js'

/**
 * @param {object} deps what the switch works with
 * @param {object} deps.sessions a useSessions()
 * @param {object} deps.conversation a useConversation()
 * @param {object} deps.banner a useErrorBanner()
 * @return {object} { available, reason, enabled, load, setEnabled }
 */
export function useDocuments({ sessions, conversation, banner }) {
	const available = ref(false)
	const reason = ref('')
	const enabled = computed(() => !!sessions.sessions.value.find((s) => s.id === conversation.activeId.value)?.context_chat)

	/** @return {Promise<void>} never rejects; unavailable when Nextcloud cannot be asked */
	async function load() {
		try {
			const state = await api.getDocuments()
			available.value = !!state.available
			reason.value = state.reason || ''
		} catch {
			available.value = false
		}
	}

	/**
	 * @param {boolean} on the switch's new position for the open conversation (a new one when none is open)
	 * @return {Promise<void>} never rejects
	 */
	async function setEnabled(on) {
		try {
			const sessionId = await conversation.ensureSession()
			const { session } = await api.setSessionOptions(sessionId, { contextChat: on })
			sessions.sessions.value = sessions.sessions.value.map((s) => (s.id === session.id ? { ...s, ...session } : s))
		} catch (e) {
			banner.show(e)
		}
	}

	return { available, reason, enabled, load, setEnabled }
}
